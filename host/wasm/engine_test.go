package wasm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/abi"
)

func TestHeadersAddedOnRequestAndResponse(t *testing.T) {
	e := newEngine(t, EngineConfig{})
	p := newPlugin(t, e, guest(t, "rawguest"), PluginConfig{Name: "rawguest", Config: []byte("hello")})
	h := newFakeStream()
	s, err := p.NewStream(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	act, err := s.OnRequestHeaders(h.reqHeaders.Len(), true)
	if err != nil || act != abi.ActionContinue {
		t.Fatalf("on_request_headers: %v %v", act, err)
	}
	if v, _ := h.reqHeaders.Get("x-added"); v != "hello" {
		t.Fatalf("x-added = %q; headers %v", v, h.reqHeaders.Pairs)
	}
	if _, err := s.OnResponseHeaders(h.respHeaders.Len(), false); err != nil {
		t.Fatal(err)
	}
	if v, _ := h.respHeaders.Get("x-plugin"); v != "rawguest" {
		t.Fatalf("x-plugin = %q", v)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLocalResponse403(t *testing.T) {
	e := newEngine(t, EngineConfig{})
	p := newPlugin(t, e, guest(t, "rawguest"), PluginConfig{})
	h := newFakeStream([2]string{"x-deny", "1"})
	s, err := p.NewStream(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	act, err := s.OnRequestHeaders(h.reqHeaders.Len(), true)
	if err != nil {
		t.Fatal(err)
	}
	if act != abi.ActionPause || h.local == nil || h.local.StatusCode != 403 || string(h.local.Body) != "denied by rawguest" || h.local.StatusDetails != "rawguest_deny" {
		t.Fatalf("want a 403 local response and PAUSE, got %v %+v", act, h.local)
	}
	s.Close()
}

// TestLoopingPluginFailsWithinDeadline: a plugin that loops forever fails
// its own call with ErrDeadline, the instance is replaced, and concurrent
// requests on other instances keep succeeding meanwhile.
func TestLoopingPluginFailsWithinDeadline(t *testing.T) {
	e := newEngine(t, EngineConfig{})
	const timeout = 300 * time.Millisecond
	p := newPlugin(t, e, guest(t, "rawguest"), PluginConfig{PoolMin: 2, PoolMax: 4, CallTimeout: timeout})

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, failed sync.Map
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			n := 0
			for {
				select {
				case <-stop:
					ok.Store(w, n)
					return
				default:
				}
				h := newFakeStream()
				s, err := p.NewStream(context.Background(), h)
				if err != nil {
					failed.Store(w, err)
					return
				}
				if _, err := s.OnRequestHeaders(3, true); err != nil {
					// Only a stream that shared the looping instance may fail.
					if !errors.Is(err, ErrInstanceLost) {
						failed.Store(w, err)
					}
				} else if v, _ := h.reqHeaders.Get("x-added"); v != "" {
					failed.Store(w, errors.New("unexpected header value"))
				}
				s.Close()
				n++
			}
		}(w)
	}

	h := newFakeStream([2]string{"x-loop", "1"})
	s, err := p.NewStream(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.OnRequestHeaders(4, true)
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("want ErrDeadline, got %v", err)
	}
	var ce *CallError
	if !errors.As(err, &ce) || ce.Callback != abi.ExportOnRequestHeaders || !strings.HasPrefix(ce.Digest, "sha256:") {
		t.Fatalf("want a CallError naming the callback and digest, got %#v", err)
	}
	t.Logf("looping call stopped after %v (deadline %v): %v", elapsed, timeout, err)
	if elapsed > 20*timeout {
		t.Errorf("looping call took %v, far past its %v deadline", elapsed, timeout)
	}
	failed.Range(func(k, v any) bool {
		t.Errorf("worker %v: %v", k, v)
		return true
	})
	total := 0
	ok.Range(func(_, v any) bool { total += v.(int); return true })
	t.Logf("%d concurrent requests succeeded meanwhile", total)
	if total == 0 {
		t.Error("no concurrent request completed while the plugin looped")
	}
	s.Close()
	waitFor(t, "pool refill", func() bool {
		st := p.Stats()
		return st.Discarded >= 1 && st.Live >= 2
	})
	// The plugin still serves.
	h2 := newFakeStream()
	s2, err := p.NewStream(context.Background(), h2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.OnRequestHeaders(3, true); err != nil {
		t.Fatal(err)
	}
	s2.Close()
}

func TestTrapFailsOnlyThatRequest(t *testing.T) {
	logs := &logRecorder{}
	e := newEngine(t, EngineConfig{Log: logs.log})
	p := newPlugin(t, e, guest(t, "rawguest"), PluginConfig{PoolMin: 1, PoolMax: 1})
	// A stream bound to the same instance, paused between callbacks.
	other := newFakeStream()
	so, err := p.NewStream(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	h := newFakeStream([2]string{"x-panic", "1"})
	s, err := p.NewStream(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.OnRequestHeaders(4, true)
	if !errors.Is(err, ErrTrap) {
		t.Fatalf("want ErrTrap, got %v", err)
	}
	if !strings.Contains(err.Error(), "panic requested") {
		t.Errorf("the error should carry the guest's panic message: %v", err)
	}
	s.Close()
	select {
	case ferr := <-other.failed:
		if !errors.Is(ferr, ErrInstanceLost) {
			t.Fatalf("other stream: %v", ferr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the other stream on the poisoned instance was not told")
	}
	if _, err := so.OnRequestHeaders(3, true); !errors.Is(err, ErrInstanceLost) {
		t.Fatalf("other stream's next callback: %v", err)
	}
	so.Close()
	if !logs.contains("panic requested") {
		t.Error("the guest's panic output should reach the log")
	}
	// A new request gets the refilled instance.
	waitFor(t, "refill", func() bool { return p.Stats().Live == 1 })
	h2 := newFakeStream()
	s2, err := p.NewStream(context.Background(), h2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.OnRequestHeaders(3, true); err != nil {
		t.Fatal(err)
	}
	s2.Close()
}

func TestMemoryBombHitsLimit(t *testing.T) {
	e := newEngine(t, EngineConfig{})
	p := newPlugin(t, e, guest(t, "rawguest"), PluginConfig{PoolMin: 1, MemoryLimit: 48 << 20, CallTimeout: 5 * time.Second})
	h := newFakeStream([2]string{"x-bomb", "1"})
	s, err := p.NewStream(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.OnRequestHeaders(4, true)
	if !errors.Is(err, ErrMemoryLimit) {
		t.Fatalf("want ErrMemoryLimit, got %v", err)
	}
	s.Close()
	waitFor(t, "refill", func() bool { return p.Stats().Live == 1 })
}

func TestConfigurationRejected(t *testing.T) {
	e := newEngine(t, EngineConfig{})
	_, err := newPluginE(e, guest(t, "rawguest"), PluginConfig{Name: "strict", Config: []byte("reject")})
	if !errors.Is(err, ErrPluginRejected) {
		t.Fatalf("want ErrPluginRejected, got %v", err)
	}
	for _, want := range []string{"plugin[strict@sha256:", "proxy_on_configure", "rejected on purpose"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q should mention %q", err, want)
		}
	}
}

func TestCompileRejectsBadModules(t *testing.T) {
	e := newEngine(t, EngineConfig{})
	tests := []struct {
		name, wat string
		data      []byte
		want      string
	}{
		{name: "not wasm", data: []byte("hello"), want: "not a valid Wasm module"},
		{name: "empty", data: nil, want: "not a valid Wasm module"},
		{name: "no abi marker", data: mustWat(t, `(module (memory (export "memory") 1) (func (export "proxy_on_memory_allocate") (param i32) (result i32) i32.const 0))`), want: "proxy_abi_version"},
		{name: "unknown import", data: mustWat(t, `(module (import "env" "proxy_teleport" (func (param i32) (result i32))) (memory (export "memory") 1) (func (export "proxy_abi_version_0_2_1")) (func (export "proxy_on_memory_allocate") (param i32) (result i32) i32.const 0))`), want: "env.proxy_teleport"},
		{name: "bad callback signature", data: mustWat(t, `(module (memory (export "memory") 1) (func (export "proxy_abi_version_0_2_1")) (func (export "proxy_on_memory_allocate") (param i32) (result i32) i32.const 0) (func (export "proxy_on_request_headers") (param i32) (result i32) i32.const 0))`), want: "proxy_on_request_headers with signature"},
		{name: "no allocator", data: mustWat(t, `(module (memory (export "memory") 1) (func (export "proxy_abi_version_0_2_1")))`), want: "proxy_on_memory_allocate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Compile(context.Background(), tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want an error mentioning %q, got %v", tt.want, err)
			}
		})
	}
}

func TestCompileCacheAndDigest(t *testing.T) {
	dir := t.TempDir()
	wasm := guest(t, "minimal")
	e := newEngine(t, EngineConfig{CacheDir: dir})
	m1, err := e.Compile(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := e.Compile(context.Background(), wasm)
	if err != nil || m1 != m2 {
		t.Fatalf("second compile should hit the cache: %v %p %p", err, m1, m2)
	}
	if m1.Digest() != Digest(wasm) || m1.ABIVersion() != "0.2.1" {
		t.Fatalf("digest %s abi %s", m1.Digest(), m1.ABIVersion())
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("compilation cache dir is empty: %v", err)
	}
	// A second engine on the same directory reuses the machine code.
	e2 := newEngine(t, EngineConfig{CacheDir: dir})
	start := time.Now()
	if _, err := e2.Compile(context.Background(), wasm); err != nil {
		t.Fatal(err)
	}
	t.Logf("compile with a warm on-disk cache: %v", time.Since(start))
}

// TestInspectAgreesWithCompile: Inspect reports what Compile does, without
// compiling, and refuses what is not a Proxy-Wasm module.
func TestInspectAgreesWithCompile(t *testing.T) {
	e := newEngine(t, EngineConfig{})
	for _, name := range []string{"minimal", "rawguest"} {
		wasm := guest(t, name)
		m, err := e.Compile(context.Background(), wasm)
		if err != nil {
			t.Fatal(err)
		}
		abiV, imports, err := Inspect(wasm)
		if err != nil || abiV != m.ABIVersion() || !slices.Equal(imports, m.Imports()) {
			t.Errorf("%s: Inspect = %q %v %v; Compile: %q %v", name, abiV, imports, err, m.ABIVersion(), m.Imports())
		}
	}
	if _, _, err := Inspect([]byte("\x00asm\x01\x00\x00\x00")); !errors.Is(err, ErrPluginRejected) {
		t.Errorf("an empty module: %v, want ErrPluginRejected", err)
	}
	if _, _, err := Inspect([]byte("nope")); err == nil {
		t.Error("not Wasm: no error")
	}
}

// TestIdleModulesAreReleased: a module no plugin uses leaves memory after
// the grace; one in use stays; a Module value kept by a caller still
// makes plugins (compiled again).
func TestIdleModulesAreReleased(t *testing.T) {
	e := newEngine(t, EngineConfig{ModuleIdleGrace: 50 * time.Millisecond})
	ctx := context.Background()
	wasm := guest(t, "minimal")
	compiled := func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		_, ok := e.modules[Digest(wasm)]
		return ok
	}
	m, err := e.Compile(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the unused module to be released", func() bool { return !compiled() })

	p, err := e.NewPlugin(ctx, m, PluginConfig{PoolMin: 1})
	if err != nil {
		t.Fatalf("a released Module must still make plugins: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	if !compiled() {
		t.Fatal("a module in use was released")
	}
	if m2, err := e.Compile(ctx, wasm); err != nil || m2 != m {
		t.Fatalf("compiling a module in use again should return it: %v", err)
	}
	oneRequest(t, p)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the module to be released after its last plugin closed", func() bool { return !compiled() })
}

func TestUnimplementedImportsLink(t *testing.T) {
	// A module importing every host function links; unbuilt ones answer
	// UNIMPLEMENTED. Here: proxy_grpc_cancel.
	wasm := mustWat(t, `(module
	  (import "env" "proxy_grpc_cancel" (func $cancel (param i32) (result i32)))
	  (memory (export "memory") 1)
	  (global $st (mut i32) (i32.const -1))
	  (func (export "proxy_abi_version_0_2_1"))
	  (func (export "proxy_on_memory_allocate") (param i32) (result i32) i32.const 1024)
	  (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
	    (global.set $st (call $cancel (i32.const 1)))
	    (i32.eq (global.get $st) (i32.const 12))))`)
	e := newEngine(t, EngineConfig{})
	if _, err := newPluginE(e, wasm, PluginConfig{PoolMin: 1}); err != nil {
		t.Fatalf("proxy_grpc_cancel should return UNIMPLEMENTED (12): %v", err)
	}
}

// TestMillionCallsKeepRSSBounded drives 1,000,000 calls through a
// standard-Go plugin that allocates on every request and reports the host's
// resident set size as it goes.
func TestMillionCallsKeepRSSBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("long: 1,000,000 guest calls")
	}
	e := newEngine(t, EngineConfig{})
	p := newPlugin(t, e, guest(t, "rawguest"), PluginConfig{Config: []byte("v"), PoolMin: 2, PoolMax: 2, RecycleAfterCalls: 200_000})
	const calls = 1_000_000
	var base uint64
	h := newFakeStream()
	for i := 0; i < calls/2; i++ { // each stream makes two calls: context create + headers
		h.reqHeaders.Pairs = h.reqHeaders.Pairs[:3]
		s, err := p.NewStream(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.OnRequestHeaders(3, true); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if i == 20_000 {
			base = rssBytes(t)
		}
		if i%100_000 == 0 && i > 0 {
			t.Logf("after %7d calls: RSS %d MiB, pool %+v", 2*i, rssBytes(t)>>20, p.Stats())
		}
	}
	end := rssBytes(t)
	t.Logf("RSS after warm-up %d MiB, after %d calls %d MiB; pool %+v", base>>20, calls, end>>20, p.Stats())
	if end > base+256<<20 {
		t.Fatalf("RSS grew by %d MiB over %d calls", (end-base)>>20, calls)
	}
}

func rssBytes(t testing.TB) uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm")
	}
	var size, rss uint64
	if _, err := fmt.Sscan(string(b), &size, &rss); err != nil {
		t.Fatal(err)
	}
	return rss * uint64(os.Getpagesize())
}

// The pool grows when a call waits long for its instance (a slow call
// holds it), not merely because every instance is mid-call.
func TestPoolGrowsWhenCallsWait(t *testing.T) {
	e := newEngine(t, EngineConfig{})
	p := newPlugin(t, e, guest(t, "rawguest"), PluginConfig{PoolMin: 1, PoolMax: 3, CallTimeout: 5 * time.Second})
	ctx := context.Background()
	slow, err := p.NewStream(ctx, newFakeStream([2]string{"x-spin-ms", "200"}))
	if err != nil {
		t.Fatal(err)
	}
	fast, err := p.NewStream(ctx, newFakeStream()) // the only instance: the same one
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := slow.OnRequestHeaders(4, true)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // the slow call holds the instance
	if _, err := fast.OnRequestHeaders(3, true); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	slow.Close()
	fast.Close()
	for deadline := time.Now().Add(10 * time.Second); p.Stats().Live < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the pool did not grow after a call waited for its instance: %+v", p.Stats())
		}
	}
	// Fast calls from one goroutine never wait: no further growth.
	for i := 0; i < 200; i++ {
		oneRequest(t, p)
	}
	if st := p.Stats(); st.Live != 2 || st.Pending != 0 {
		t.Fatalf("sequential fast calls grew the pool: %+v", st)
	}
}

// TestStreamsKeepToFewInstances checks pick: while an instance is not in
// a call, new streams keep binding to it; one opened while it is busy
// goes to another instance; a retired instance gets no new streams.
func TestStreamsKeepToFewInstances(t *testing.T) {
	e := newEngine(t, EngineConfig{})
	p := newPlugin(t, e, guest(t, "rawguest"), PluginConfig{PoolMin: 4, PoolMax: 4, CallTimeout: 5 * time.Second})
	ctx := context.Background()
	var open []*Stream // closed however the test ends: Close waits for bound streams
	defer func() {
		for _, s := range open {
			s.Close()
		}
	}()
	newStream := func(h ...[2]string) *Stream {
		t.Helper()
		s, err := p.NewStream(ctx, newFakeStream(h...))
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, s)
		return s
	}
	slow := newStream([2]string{"x-spin-ms", "300"})
	hot := slow.in
	for i := 0; i < 50; i++ {
		s := newStream()
		if s.in != hot {
			t.Fatalf("stream %d went to another instance while the first one was idle", i)
		}
		if _, err := s.OnRequestHeaders(3, true); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	done := make(chan error, 1)
	go func() {
		_, err := slow.OnRequestHeaders(4, true)
		done <- err
	}()
	waitFor(t, "the slow call to start", func() bool { return hot.callSeq.Load()&1 == 1 })
	busy := newStream()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if busy.in == hot {
		t.Fatal("a stream opened while its instance was in a call was bound to it")
	}

	hot.mu.Lock()
	p.retire(hot)
	hot.mu.Unlock()
	for i := 0; i < 10; i++ {
		s := newStream()
		if s.in == hot {
			t.Fatal("a retired instance got a new stream")
		}
		s.Close()
	}
}
