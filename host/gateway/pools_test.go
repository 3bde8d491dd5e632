package gateway

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wasmgate/wasmgate/host/config"
	"github.com/wasmgate/wasmgate/host/wasm"
	"github.com/wasmgate/wasmgate/internal/wasmbuild"
)

type bytesSource []byte

func (b bytesSource) Resolve(context.Context, config.PluginRef) ([]byte, error) { return b, nil }

// Snapshots share a plugin pool when digest and configuration match, and
// the pool closes with the last snapshot using it.
func TestSnapshotsSharePluginPools(t *testing.T) {
	bin, err := wasmbuild.Build(filepath.Join("..", "..", "sdk", "go", "template"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e, err := wasm.NewEngine(ctx, wasm.EngineConfig{CacheDir: filepath.Join(wasmbuild.CacheDir(), "compiled")})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	g := New(Options{Engine: e, Plugins: bytesSource(bin), PoolMin: 1, PoolMax: 2})
	doc := func(value string) *config.API {
		api, err := config.Parse("pools.yaml", []byte(`openapi: 3.0.3
info: {title: pools, version: "1"}
x-wasmgate-pipeline:
  - {plugin: template, config: {header: x-a, value: "`+value+`"}}
  - {plugin: template, config: {header: x-b, value: "same"}}
paths:
  /p:
    get:
      x-wasmgate-integration: {type: http_proxy, uri: "http://127.0.0.1:1/"}
      responses: {"200": {description: ok}}
`))
		if err != nil {
			t.Fatal(err)
		}
		return api
	}
	s1, err := g.Build(ctx, doc("1"), "d-1")
	if err != nil {
		t.Fatal(err)
	}
	if n := g.LivePools(); n != 2 {
		t.Fatalf("after one build: %d pools, want 2", n)
	}
	s2, err := g.Build(ctx, doc("2"), "d-2") // shares the x-b pool
	if err != nil {
		t.Fatal(err)
	}
	if n := g.LivePools(); n != 3 {
		t.Fatalf("after two builds: %d pools, want 3", n)
	}
	if s1.Plugins()[1] != s2.Plugins()[1] {
		t.Fatal("the identical plugin is not shared")
	}
	s1.Retire()
	<-s1.Done()
	if n := g.LivePools(); n != 2 {
		t.Fatalf("after retiring d-1: %d pools, want 2", n)
	}
	if st := s2.Plugins()[1].Stats(); st.Live == 0 {
		t.Fatalf("the shared pool closed with the first snapshot: %+v", st)
	}
	// A build that fails releases what it acquired.
	if _, err := g.BuildWith(ctx, doc("3"), BuildOptions{ID: "d-3", Plugins: bytesSource("not wasm")}); err == nil {
		t.Fatal("a build with a broken plugin succeeded")
	}
	if n := g.LivePools(); n != 2 {
		t.Fatalf("after a failed build: %d pools, want 2", n)
	}
	s2.Retire()
	<-s2.Done()
	if n := g.LivePools(); n != 0 {
		t.Fatalf("after retiring everything: %d pools, want 0", n)
	}
}
