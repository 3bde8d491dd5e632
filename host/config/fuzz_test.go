package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse checks that Parse never panics, and that it either returns an
// API or Errors whose every entry names the document and has a reason.
// Crashers found with go test -fuzz=FuzzParse land in
// testdata/fuzz/FuzzParse and run as regression cases from then on.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"valid", "invalid"} {
		for _, pattern := range []string{"*.yaml", "*.json"} {
			files, _ := filepath.Glob(filepath.Join("testdata", dir, pattern))
			for _, file := range files {
				data, err := os.ReadFile(file)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(data)
			}
		}
	}
	f.Add([]byte("a: &a [*a, *a]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b]"))
	f.Add([]byte("openapi: 3.0.3\npaths: {/a: {get: {x-wasmgate-integration: {type: mock}, responses: {200: {description: x}}}}}\n<<: {info: {title: t, version: v}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("Parse took %v", d)
			}
		}()
		api, err := Parse("fuzz.yaml", data)
		if err == nil {
			if api == nil {
				t.Fatal("nil API without an error")
			}
			if _, err := Export(api, ""); err != nil {
				t.Fatalf("Export of a parsed API: %v", err)
			}
			return
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("error %T is not Errors: %v", err, err)
		}
		for _, e := range es {
			if e.File != "fuzz.yaml" || e.Reason == "" {
				t.Fatalf("malformed error %#v", e)
			}
		}
	})
}

// FuzzParseGatewayTemplate checks that a gateway response template either
// compiles into parts that give back its text, variables aside, or is
// refused, never panics.
func FuzzParseGatewayTemplate(f *testing.F) {
	for _, s := range []string{`{"message":$context.error.messageString}`, `${context.stage} $!{context.path} $!context.requestId`, `$context.authorizer.x.y`, `$`, `${`, `$!{context.`, `$context.`, `price: $5`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parts, err := ParseGatewayTemplate(s)
		if err != nil {
			return
		}
		for _, p := range parts {
			if p.Var != "" && !gatewayVar(p.Var) || p.Var == "" && p.Text == "" {
				t.Fatalf("%q: bad part %+v", s, p)
			}
		}
	})
}
