package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/wasmgate/wasmgate/host/config"
	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/host/policy"
	"github.com/wasmgate/wasmgate/host/wasm"
	"github.com/wasmgate/wasmgate/internal/wasmbuild"
)

// stubUpstream answers every upstream request in process, so the benchmark
// measures the gateway and its plugins, not sockets.
type stubUpstream struct{}

func (stubUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"ok":true}`)), ContentLength: 11}, nil
}

func benchGateway(b *testing.B, pipeline string) {
	doc := `openapi: 3.0.3
info: {title: bench, version: "1"}
x-wasmgate-pipeline: [` + pipeline + `]
paths:
  /ping:
    get:
      x-wasmgate-integration: {type: http_proxy, uri: "http://upstream.test/ping"}
      responses: {"200": {description: ok}}
`
	api, err := config.Parse("bench.yaml", []byte(doc))
	if err != nil {
		b.Fatal(err)
	}
	engine, err := wasm.NewEngine(context.Background(), wasm.EngineConfig{CacheDir: filepath.Join(wasmbuild.CacheDir(), "compiled")})
	if err != nil {
		b.Fatal(err)
	}
	defer engine.Close(context.Background())
	var once sync.Once
	// BENCH_POOLMAX sizes the plugin pools (default: host/wasm's).
	poolMax, _ := strconv.Atoi(os.Getenv("BENCH_POOLMAX"))
	local := policy.NewLocal(policy.SystemClock{})
	g := gateway.New(gateway.Options{Engine: engine, Plugins: sourcePlugins{}, Transport: stubUpstream{}, PoolMax: poolMax,
		Policies: &gateway.Policies{Limiter: local, Quotas: local}, ErrorLog: func(id, msg string) { once.Do(func() { b.Log(msg) }) }})
	snap, err := g.Build(context.Background(), api, "d-1")
	if err != nil {
		b.Fatal(err)
	}
	g.Swap(snap)
	b.ReportAllocs()
	if p := os.Getenv("BENCH_PARALLELISM"); p != "" {
		n, _ := strconv.Atoi(p)
		b.SetParallelism(n)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "http://gw.test/ping", nil)
			req.Header.Set("User-Agent", "bench")
			req.Header.Set("Accept", "*/*")
			w := httptest.NewRecorder()
			g.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
	b.StopTimer()
	for _, p := range snap.Plugins() {
		b.Logf("%s: %+v", p.Info().Name, p.Stats())
	}
}

func BenchmarkGatewayEmptyPipeline(b *testing.B) { benchGateway(b, "") }

func BenchmarkGatewayOnePlugin(b *testing.B) {
	benchGateway(b, `{plugin: template, config: {header: x-a, value: "1"}}`)
}

// BenchmarkGatewayRateLimit: the rate-limit plugin with a limit never
// reached (one token bucket take per request).
func BenchmarkGatewayRateLimit(b *testing.B) {
	benchGateway(b, `{plugin: rate-limit, config: {rate: 1000000000, burst: 1000000000, key: [route, ip]}}`)
}

func BenchmarkGatewayFourPlugins(b *testing.B) {
	benchGateway(b, `{plugin: template, config: {header: x-a, value: "1"}}, {plugin: template, config: {header: x-b, value: "2"}}, {plugin: template, config: {header: x-c, value: "3"}}, {plugin: template, config: {header: x-d, value: "4"}}`)
}
