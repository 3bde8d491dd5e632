package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWatchDir(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "plugins"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "plugins", "template.wasm"), templateWasm(t), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(doc []byte) {
		t.Helper()
		// Write then rename, as editors and ConfigMap updates do.
		tmp := filepath.Join(dir, ".api.yaml.tmp")
		if err := os.WriteFile(tmp, doc, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "api.yaml")); err != nil {
			t.Fatal(err)
		}
	}
	write(e.doc("template", "one"))
	in, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.m.ApplyInput(context.Background(), in, "initial", "test")
	if err != nil || d == nil {
		t.Fatalf("first apply: %v %v", d, err)
	}
	e.expect("/prod/hello", 200, "v=doc-prod demo=one", d.ID)
	if d2, err := e.m.ApplyInput(context.Background(), in, "again", "test"); d2 != nil || err != nil {
		t.Fatalf("applying the same input again: %v %v", d2, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.m.WatchDir(ctx, dir, 20*time.Millisecond)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if ok() {
				return
			}
		}
		t.Fatalf("timed out waiting for %s", what)
	}
	write(e.doc("template", "two"))
	waitFor("the changed document to serve", func() bool { _, b, _ := e.get("/prod/hello"); return b == "v=doc-prod demo=two" })

	// A broken document is logged; the stage keeps serving.
	write([]byte("openapi: 3.0.3\npaths: [\n"))
	waitFor("the error to be logged", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.logs) > 0 && strings.Contains(e.logs[len(e.logs)-1], "not deployed")
	})
	e.expect("/prod/hello", 200, "v=doc-prod demo=two", "d-2")

	// A stage-less document is served at the root ($default).
	write([]byte(strings.Replace(string(e.doc("template", "root")), "x-wasmgate-stages:\n  - name: prod\n    variables: {v: doc-prod}\n", "", 1)))
	waitFor("the root stage", func() bool { c, b, _ := e.get("/hello"); return c == 200 && b == "v= demo=root" })
	e.expect("/prod/hello", 200, "v=doc-prod demo=two", "d-2") // prod is no longer declared but stays

	// A plugin file changed under the same name@version is refused.
	if err := os.WriteFile(filepath.Join(dir, "plugins", "template@1.0.0.wasm"), templateWasm(t), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor("the versioned plugin to be stored", func() bool {
		ps, _ := e.m.Plugins()
		for _, p := range ps {
			for _, tag := range p.Tags {
				if tag == "template@1.0.0" {
					return true
				}
			}
		}
		return false
	})
	if err := os.WriteFile(filepath.Join(dir, "plugins", "template@1.0.0.wasm"), variant(templateWasm(t), "changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor("the conflict to be logged", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return strings.Contains(e.logs[len(e.logs)-1], "versions never change")
	})
}

func TestReadDirErrors(t *testing.T) {
	if _, err := ReadDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "api.yaml") {
		t.Fatalf("an empty directory: %v", err)
	}
}

func TestFileReferences(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "t.wasm"), templateWasm(t), 0o644)
	in := Input{Source: "api.yaml", Doc: e.doc("file:t.wasm", "f"), FileRoot: dir}
	d, err := e.m.ApplyInput(context.Background(), in, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	if d.Plugins[0].Ref != "file:t.wasm" || d.Plugins[0].Digest != digestOf(templateWasm(t)) {
		t.Fatalf("file reference recorded as %+v", d.Plugins)
	}
	e.expect("/prod/hello", 200, "v=doc-prod demo=f", d.ID)
	in.Doc = e.doc("file:../t.wasm", "g")
	if _, err := e.m.ApplyInput(context.Background(), in, "", "test"); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("a reference outside the directory: %v", err)
	}
}
