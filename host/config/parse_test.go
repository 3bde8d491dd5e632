package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// documents lists the API documents of a testdata folder.
func documents(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{"*.yaml", "*.json"} {
		m, err := filepath.Glob(filepath.Join("testdata", dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			if !strings.HasSuffix(f, ".golden.json") {
				out = append(out, f)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no documents in testdata/%s", dir)
	}
	return out
}

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./host/config -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test ./host/config -update after checking the change)\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}

func marshalGolden(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestParseValid parses each valid document and compares the resolved API
// with its .golden.json.
func TestParseValid(t *testing.T) {
	for _, f := range documents(t, "valid") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			api, err := Parse(filepath.Base(f), data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !bytes.Equal(api.Raw, data) {
				t.Error("Raw is not the document as read")
			}
			golden(t, strings.TrimSuffix(f, filepath.Ext(f))+".golden.json", marshalGolden(t, api))
		})
	}
}

// TestParseInvalid parses each broken document and compares the error
// text, one error a line, with its .err file.
func TestParseInvalid(t *testing.T) {
	for _, f := range documents(t, "invalid") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			api, err := Parse(filepath.Base(f), data)
			if err == nil {
				t.Fatalf("Parse accepted the document: %d operations", len(api.Operations))
			}
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("the error is %T, not Errors: %v", err, err)
			}
			for _, e := range es {
				if e.File != filepath.Base(f) || e.Reason == "" || strings.Contains(e.Reason, "\n") {
					t.Errorf("malformed error %#v", e)
				}
			}
			golden(t, strings.TrimSuffix(f, filepath.Ext(f))+".err", []byte(err.Error()+"\n"))
		})
	}
}

func TestLoad(t *testing.T) {
	const path = "testdata/valid/petstore.yaml"
	api, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if api.Source != path || !strings.HasPrefix(api.Digest, "sha256:") || len(api.Digest) != 71 {
		t.Errorf("Source %q, Digest %q", api.Source, api.Digest)
	}
	_, err = Load("testdata/invalid/bad-on-error.yaml")
	var es Errors
	if !errors.As(err, &es) || es[0].File != "testdata/invalid/bad-on-error.yaml" {
		t.Errorf("errors do not name the file as given: %v", err)
	}
	if _, err := Load("testdata/nope.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestParseConcurrent parses documents from many goroutines at once (run
// with -race): the parser and kin-openapi share no unsynchronized state.
func TestParseConcurrent(t *testing.T) {
	files := documents(t, "valid")
	want := make([]*API, len(files))
	datas := make([][]byte, len(files))
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		datas[i] = data
		if want[i], err = Parse(f, data); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 10; n++ {
				i := (g + n) % len(files)
				got, err := Parse(files[i], datas[i])
				if err != nil {
					t.Error(err)
					return
				}
				if !reflect.DeepEqual(got, want[i]) {
					t.Errorf("%s: a concurrent parse differs", files[i])
				}
				if _, err := Export(got, FormatSwagger2); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}
