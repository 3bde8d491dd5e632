package sdktest

import (
	"bytes"
	"github.com/wasmgate/wasmgate/internal/wasmbuild"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBuildIsCachedAndKeyed(t *testing.T) {
	dir := filepath.Join("..", "internal", "testplugins", "deny")
	first := Build(t, dir)
	start := time.Now()
	again := Build(t, dir)
	if !bytes.Equal(first, again) {
		t.Fatal("a cached build differs")
	}
	t.Logf("cached build: %v", time.Since(start))
	k1, err := wasmbuild.Key(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := wasmbuild.Key(filepath.Join("..", "internal", "testplugins", "panics"))
	if err != nil {
		t.Fatal(err)
	}
	if k1 == k2 {
		t.Fatal("two plugins share a cache key")
	}
}

func TestBuildReportsCompilerErrors(t *testing.T) {
	_, err := wasmbuild.Build(filepath.Join("testdata", "broken"))
	if err == nil || !strings.Contains(err.Error(), "building plugin") || !strings.Contains(err.Error(), "main.go") {
		t.Fatalf("got %v, want the compiler's message", err)
	}
}

func TestDefaults(t *testing.T) {
	h := New(t, Build(t, filepath.Join("..", "internal", "testplugins", "deny")), Options{})
	res := h.Do(&Request{Headers: [][2]string{{"X-Api-Key", "k"}}})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	up := res.Upstream
	if up == nil || up.Method != "GET" || up.Path != "/" || up.Authority != "example.com" || up.Header("x-api-key") != "k" {
		t.Fatalf("upstream %+v", up)
	}
	if res.Status != 200 || string(res.Body) != "ok" || res.Local {
		t.Fatalf("response %d %q local %v", res.Status, res.Body, res.Local)
	}
	if st := h.Plugin().Stats(); st.Live != 1 {
		t.Fatalf("pool %+v, want one instance by default", st)
	}
}
