package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/host/policy"
	"github.com/wasmgate/wasmgate/host/wasm"
	"github.com/wasmgate/wasmgate/internal/redistest"
	"github.com/wasmgate/wasmgate/internal/wasmbuild"
)

// TestSharedDataAcrossGateways: with shared data in Redis (cluster mode),
// a plugin's compare-and-swap counter counts the requests of two gateways
// together; with Redis down the plugin's calls fail (INTERNAL_FAILURE,
// here a panic: 500) and only that plugin's requests fail.
func TestSharedDataAcrossGateways(t *testing.T) {
	srv := redistest.Start(t)
	up := echoUpstream(t)
	doc := fmt.Sprintf(`openapi: 3.0.3
info: {title: shared, version: "1"}
x-wasmgate-stages: [{name: prod}]
paths:
  /count:
    get:
      x-wasmgate-pipeline: [{plugin: shared}]
      x-wasmgate-integration: {type: http_proxy, uri: "%s/count"}
      responses: {"200": {description: ok}}
`, up.URL)
	var bases []string
	for i := 0; i < 2; i++ {
		store := policy.NewRedisShared(srv.Client(t), "e2e:", 0)
		engine, err := wasm.NewEngine(context.Background(), wasm.EngineConfig{
			CacheDir:    filepath.Join(wasmbuild.CacheDir(), "compiled"),
			SharedStore: store,
		})
		if err != nil {
			t.Fatal(err)
		}
		e := startGateway(t, doc, nil, func(o *gateway.Options) { o.Engine = engine })
		t.Cleanup(func() { engine.Close(context.Background()) })
		bases = append(bases, e.base)
	}
	for i := 1; i <= 10; i++ {
		r := do(t, nil, "GET", bases[i%2]+"/prod/count", nil)
		if r.status != 200 || r.header.Get("X-Count") != strconv.Itoa(i) || r.header.Get("X-Cas-Mismatch") != "true" {
			t.Fatalf("request %d on gateway %d: %d x-count %q x-cas-mismatch %q, want the shared count %d",
				i, i%2+1, r.status, r.header.Get("X-Count"), r.header.Get("X-Cas-Mismatch"), i)
		}
	}
	srv.Stop()
	if r := do(t, nil, "GET", bases[0]+"/prod/count", nil); r.status != 500 {
		t.Fatalf("Redis down: %d, want the plugin's failure (500)", r.status)
	}
}
