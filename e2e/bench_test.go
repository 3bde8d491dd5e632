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
	"sync/atomic"
	"testing"
	"time"

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
	// BENCH_THRASH_KB: touch that much memory between requests, as the
	// kernel's network stack and the rest of a loaded process do, so each
	// request starts with cold caches (16384 makes the 4-plugin pipeline
	// cost here what it costs under socket load). served-ns/op is then the
	// gateway's time alone.
	thrashKB, _ := strconv.Atoi(os.Getenv("BENCH_THRASH_KB"))
	var served atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		thrash := make([]byte, thrashKB<<10)
		for pb.Next() {
			for i := 0; i < len(thrash); i += 64 {
				thrash[i]++
			}
			req := httptest.NewRequest("GET", "http://gw.test/ping", nil)
			req.Header.Set("User-Agent", "bench")
			req.Header.Set("Accept", "*/*")
			w := httptest.NewRecorder()
			if thrashKB == 0 {
				g.ServeHTTP(w, req)
			} else {
				t0 := time.Now()
				g.ServeHTTP(w, req)
				served.Add(int64(time.Since(t0)))
			}
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
	b.StopTimer()
	if thrashKB > 0 {
		// The thrashing is not the gateway's time.
		b.ReportMetric(float64(served.Load())/float64(b.N), "served-ns/op")
	}
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

// BenchmarkGatewayFourC is BenchmarkGatewayFourPlugins with the
// header-rules plugin, written in C without an SDK: the host's share of a
// plugin's cost.
func BenchmarkGatewayFourC(b *testing.B) {
	benchGateway(b, `{plugin: header-rules, config: {request_set: {x-a: "1"}, response_set: {x-wasmgate-plugin: hr}}}, {plugin: header-rules, config: {request_set: {x-b: "2"}, response_set: {x-wasmgate-plugin: hr}}}, {plugin: header-rules, config: {request_set: {x-c: "3"}, response_set: {x-wasmgate-plugin: hr}}}, {plugin: header-rules, config: {request_set: {x-d: "4"}, response_set: {x-wasmgate-plugin: hr}}}`)
}
