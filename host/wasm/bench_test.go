package wasm

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkOnRequestHeaders is the pooled proxy_on_request_headers call of
// a minimal standard-Go plugin: the per-plugin, per-request floor.
func BenchmarkOnRequestHeaders(b *testing.B) {
	e := newEngine(b, EngineConfig{})
	p := newPlugin(b, e, guest(b, "minimal"), PluginConfig{PoolMin: 1, PoolMax: 1})
	h := newFakeStream()
	s, err := p.NewStream(context.Background(), h)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.OnRequestHeaders(3, true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamLifecycle is a whole minimal request: context create,
// request headers, on_done (acquire and release included).
func BenchmarkStreamLifecycle(b *testing.B) {
	e := newEngine(b, EngineConfig{})
	p := newPlugin(b, e, guest(b, "minimal"), PluginConfig{PoolMin: 1, PoolMax: 1})
	h := newFakeStream()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := p.NewStream(ctx, h)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.OnRequestHeaders(3, true); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkHeaderMapRoundTrip20: the guest reads all 20 request headers
// (proxy_get_header_map_pairs, one allocation in the guest) and writes them
// back (proxy_set_header_map_pairs).
func BenchmarkHeaderMapRoundTrip20(b *testing.B) {
	e := newEngine(b, EngineConfig{})
	p := newPlugin(b, e, guest(b, "rawguest"), PluginConfig{PoolMin: 1, PoolMax: 1, Config: []byte("roundtrip")})
	var pairs [][2]string
	for i := 0; i < 17; i++ {
		pairs = append(pairs, [2]string{fmt.Sprintf("x-header-%02d", i), "some-typical-header-value"})
	}
	h := newFakeStream(pairs...)
	if h.reqHeaders.Len() != 20 {
		b.Fatalf("%d headers", h.reqHeaders.Len())
	}
	s, err := p.NewStream(context.Background(), h)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.OnRequestHeaders(20, true); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if h.reqHeaders.Len() != 20 {
		b.Fatalf("round trip changed the map: %v", h.reqHeaders.Pairs)
	}
}

// BenchmarkPoolAcquireRelease binds and releases an instance without any
// guest call.
func BenchmarkPoolAcquireRelease(b *testing.B) {
	e := newEngine(b, EngineConfig{})
	p := newPlugin(b, e, guest(b, "minimal"), PluginConfig{PoolMin: 2, PoolMax: 2})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			in, err := p.acquire(ctx)
			if err != nil {
				b.Fatal(err)
			}
			in.bound.Add(-1)
		}
	})
}

// BenchmarkInstantiate creates and configures one instance of a standard-Go
// plugin (what a pool refill costs, off the request path).
func BenchmarkInstantiate(b *testing.B) {
	e := newEngine(b, EngineConfig{})
	p := newPlugin(b, e, guest(b, "minimal"), PluginConfig{PoolMin: 1, PoolMax: 1})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in, err := p.newInstance()
		if err != nil {
			b.Fatal(err)
		}
		in.mu.Lock()
		in.closeModule()
		in.mu.Unlock()
	}
}
