// Package headerrules holds the tests of the header-rules plugin, written
// in C (csrc/header_rules.c) and checked in as header-rules.wasm: they run it in
// the real host through sdktest, as the Go plugins' tests do.
package headerrules

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/host/wasm"
	"github.com/wasmgate/wasmgate/sdk/go/sdktest"
)

func plugin(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("header-rules.wasm")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWasmUpToDate rebuilds the plugin from csrc/header_rules.c (with clang,
// when installed) and fails when the checked-in .wasm differs: run
// `make -C plugins/header-rules` and commit the result.
func TestWasmUpToDate(t *testing.T) {
	if _, err := exec.LookPath("clang"); err != nil {
		t.Skip("clang not installed (apt-get install clang lld wasi-libc)")
	}
	out := filepath.Join(t.TempDir(), "header-rules.wasm")
	cmd := exec.Command("make", "-s", "CLANG=clang", "header-rules.wasm")
	cmd.Env = append(os.Environ(), "MAKEFLAGS=")
	// Build into a temporary copy so the checked-in file is untouched.
	src, _ := os.ReadFile(filepath.Join("csrc", "header_rules.c"))
	mk, _ := os.ReadFile("Makefile")
	dir := filepath.Dir(out)
	os.Mkdir(filepath.Join(dir, "csrc"), 0o755)
	os.WriteFile(filepath.Join(dir, "csrc", "header_rules.c"), src, 0o644)
	os.WriteFile(filepath.Join(dir, "Makefile"), mk, 0o644)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make: %v\n%s", err, b)
	}
	built, _ := os.ReadFile(out)
	if !bytes.Equal(built, plugin(t)) {
		t.Fatal("header-rules.wasm is not built from csrc/header_rules.c: run `make -C plugins/header-rules` and commit it")
	}
}

func TestConfig(t *testing.T) {
	bin := plugin(t)
	good := []string{
		``,
		`{}`,
		`{"request_set": {"X-Env": "prod", "x-empty": ""}, "request_remove": ["x-debug"]}`,
		`{"response_set": {"x-frame-options": "DENY"}, "response_remove": ["server", "x-powered-by"]}`,
		`{"request_set": {"x-quote": "a \"b\" \u0041"}}`,
	}
	for _, c := range good {
		if _, err := sdktest.NewE(t, bin, sdktest.Options{Config: c}); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
	bad := []struct{ config, want string }{
		{`[]`, `want a JSON object`},
		{`{"request_sett": {}}`, `unknown field "request_sett"`},
		{`{"request_set": ["x"]}`, `"request_set" must be an object`},
		{`{"request_remove": {"x": "y"}}`, `"request_remove" must be an array`},
		{`{"request_set": {"x-a": 1}}`, `want a string`},
		{`{"request_set": {"x a": "b"}}`, `"x a" is not a header name`},
		{`{"request_set": {":path": "/x"}}`, `":path" is not a header name`},
		{`{"request_set": {"x-a": "b\nc"}}`, `contains CR, LF or NUL`},
		{`{"request_set": {"x-a": "\u00e9"}}`, `only ASCII`},
		{`{"request_set": {}, "request_set": {}}`, `given twice`},
		{`{"request_set": {"x-a": "b"`, `want ',' or '}'`},
		{`{"request_set": {"x-a": "b"}} x`, `trailing data`},
		{`{"request_set": {"x-a": "unterminated}}`, `unterminated string`},
	}
	for _, c := range bad {
		_, err := sdktest.NewE(t, bin, sdktest.Options{Config: c.config})
		if !errors.Is(err, wasm.ErrPluginRejected) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want a rejection saying %q", c.config, err, c.want)
		}
	}
}

func TestRules(t *testing.T) {
	h := sdktest.New(t, plugin(t), sdktest.Options{
		Config: `{"request_set": {"X-Env": "prod"}, "request_remove": ["x-debug"],
		          "response_set": {"x-frame-options": "DENY"}, "response_remove": ["server"]}`,
		Upstream: func(*sdktest.Request) *sdktest.Response {
			return &sdktest.Response{Status: 200, Headers: [][2]string{{"server", "backend/1.0"}, {"x-frame-options", "ALLOW"}}, Body: []byte("ok")}
		},
	})
	for i := 0; i < 3; i++ {
		r := h.Do(&sdktest.Request{Path: "/", Headers: [][2]string{{"x-debug", "1"}, {"x-env", "dev"}, {"accept", "*/*"}}})
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if r.Upstream.Header("x-env") != "prod" || r.Upstream.Header("x-debug") != "" || r.Upstream.Header("accept") != "*/*" {
			t.Fatalf("upstream request headers %v", r.Upstream.Headers)
		}
		if r.Header("x-frame-options") != "DENY" || r.Header("server") != "" || string(r.Body) != "ok" {
			t.Fatalf("response headers %v", r.Headers)
		}
	}
}
