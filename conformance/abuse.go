package conformance

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/abi"
)

// abuseExchange is the standard exchange; abusive ones carry the header
// that makes abuse.wat misbehave.
func abuseExchange(abusive bool) *Exchange {
	x := NewExchange()
	if abusive {
		x.RequestHeaders.Add("x-abuse", "1")
	}
	return x
}

// within runs f and reports whether it returned within d; a host that
// hangs fails the test instead of the whole suite.
func within(d time.Duration, f func()) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// wantRefill waits until the pool discarded at least n instances and is
// back to min live ones.
func wantRefill(t *testing.T, p Plugin, n, min int) {
	t.Helper()
	var st PoolStats
	if !eventually(10*time.Second, func() bool {
		st = p.Stats()
		return st.Discarded >= n && st.Live >= min
	}) {
		t.Errorf("host discrepancy: pool stats %+v, want Discarded >= %d and Live back to PoolMin %d", st, n, min)
	}
}

// wantWorking runs a well-behaved full request.
func wantWorking(t *testing.T, p Plugin, sink *logSink) {
	t.Helper()
	var err error
	var ph Phase
	if !within(30*time.Second, func() { _, ph, err = runStream(p, abuseExchange(false), flowFull, nil) }) {
		t.Fatalf("host discrepancy: a well-behaved request hung")
	}
	if err != nil {
		t.Errorf("host discrepancy: a well-behaved request failed in %s after the abuse: %v%s", ph, err, sink.dump())
	}
}

// wantCallError checks that err is a failed guest call of kind in callback.
func wantCallError(t *testing.T, err error, kind error, callback string) {
	t.Helper()
	noPanic(t, err)
	if err == nil {
		t.Errorf("host discrepancy: no error, want %v in %s", kind, callback)
		return
	}
	if !errors.Is(err, kind) {
		t.Errorf("host discrepancy: error %q is %s, want %v", err, kindOf(err), kind)
	}
	if cb := callbackOf(err); cb != "" && cb != callback {
		t.Errorf("host discrepancy: error names callback %s, want %s", cb, callback)
	}
}

// lastTrace returns the last trace of phase p.
func lastTrace(sink *logSink, p Phase) (Trace, bool) {
	tr := sink.traces()
	for i := len(tr) - 1; i >= 0; i-- {
		if tr[i].Phase == p {
			return tr[i], true
		}
	}
	return Trace{}, false
}

// runAbuse runs the abuse cases, each in its own process (see isolated).
func runAbuse(t *testing.T, target Target) {
	for name, f := range map[string]func(*testing.T){
		"infinite_loop/other_streams_keep_working":    loopOthers(target),
		"infinite_loop/during_gc":                     loopDuringGC(target),
		"infinite_loop/in_on_configure":               loopInConfigure(target),
		"runaway_without_loops/exponential_recursion": runaway(target, "recurse-exp", ErrDeadline),
		// A trap, or the deadline when the stack is large enough to
		// outlast CallTimeout.
		"runaway_without_loops/stack_overflow": runaway(target, "recurse-deep", ErrTrap, ErrDeadline),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			isolated(t, 90*time.Second, f)
		})
	}
	for _, c := range []struct {
		name, config string
		kinds        []error
	}{
		{"memory_bomb/grow_then_touch", "bomb", []error{ErrMemoryLimit}},
		{"memory_bomb/grow_then_abort", "bomb-abort", []error{ErrMemoryLimit, ErrTrap}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			isolated(t, 90*time.Second, func(t *testing.T) { memoryBomb(t, target, c.config, c.kinds) })
		})
	}
	t.Run("trap_in", func(t *testing.T) {
		for _, ph := range []Phase{PhaseVMStart, PhaseConfigure, PhaseStreamCreate, PhaseRequestHeaders, PhaseRequestBody,
			PhaseRequestTrailers, PhaseResponseHeaders, PhaseResponseBody, PhaseResponseTrailers, PhaseDone, PhaseLog,
			PhaseDelete, PhaseTick} {
			t.Run(ph.String(), func(t *testing.T) {
				t.Parallel()
				isolated(t, 90*time.Second, func(t *testing.T) { trapIn(t, target, ph) })
			})
		}
	})
	t.Run("garbage_allocator", func(t *testing.T) {
		for _, mode := range []string{"alloc-zero", "alloc-oob", "alloc-straddle", "alloc-trap"} {
			t.Run(mode, func(t *testing.T) {
				t.Parallel()
				isolated(t, 90*time.Second, func(t *testing.T) { garbageAllocator(t, target, mode) })
			})
		}
	})
}

// loopOthers: a guest spinning in on_request_headers fails that call with
// ErrDeadline; streams on other instances keep working, streams on the
// same instance get ErrInstanceLost, and the pool refills.
func loopOthers(target Target) func(t *testing.T) {
	return func(t *testing.T) {
		const timeout = 100 * time.Millisecond
		p, sink := harness{t, target}.mustPlugin(AbuseWasm, PluginOptions{Name: "abuse", Config: []byte("loop"),
			PoolMin: 2, PoolMax: 2, CallTimeout: timeout})
		type open struct {
			s    Stream
			x    *Exchange
			inst uint64
		}
		var good []open
		for i := 0; i < 4; i++ {
			x := abuseExchange(false)
			x.Arrive(PhaseRequestHeaders)
			s, err := p.NewStream(x)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.OnRequestHeaders(x.RequestHeaders.Len(), false); err != nil {
				t.Fatalf("host discrepancy: %v", err)
			}
			tr, _ := lastTrace(sink, PhaseRequestHeaders)
			good = append(good, open{s, x, tr.Instance})
		}
		x := abuseExchange(true)
		x.Arrive(PhaseRequestHeaders)
		bad, err := p.NewStream(x)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if !within(30*time.Second, func() { _, err = bad.OnRequestHeaders(x.RequestHeaders.Len(), false) }) {
			t.Fatalf("host discrepancy: the looping call did not return within 30s (CallTimeout %v)", timeout)
		}
		elapsed := time.Since(start)
		wantCallError(t, err, ErrDeadline, abi.ExportOnRequestHeaders)
		if elapsed > 3*time.Second {
			t.Errorf("host discrepancy: the looping call took %v with CallTimeout %v", elapsed, timeout)
		}
		t.Logf("looping call failed after %v: %v", elapsed, err)
		badTrace, _ := lastTrace(sink, PhaseRequestHeaders)
		if !within(10*time.Second, func() { _ = bad.Close() }) {
			t.Errorf("host discrepancy: closing the failed stream hung")
		}
		wantRefill(t, p, 1, 2)
		others := 0
		for i, g := range good {
			g.x.Arrive(PhaseResponseHeaders)
			_, err := g.s.OnResponseHeaders(g.x.ResponseHeaders.Len(), true)
			if g.inst == badTrace.Instance {
				if !errors.Is(err, ErrInstanceLost) {
					t.Errorf("host discrepancy: stream %d on the discarded instance: got %v (%s), want ErrInstanceLost", i, err, kindOf(err))
				}
				_ = g.s.Close() // the instance is gone
				continue
			}
			others++
			if err != nil {
				t.Errorf("host discrepancy: stream %d on another instance failed: %v", i, err)
			}
			if err := g.s.Close(); err != nil {
				t.Errorf("host discrepancy: stream %d on another instance: Close: %v", i, err)
			}
		}
		t.Logf("%d of %d open streams were on other instances", others, len(good))
		wantWorking(t, p, sink)
	}
}

// runaway: a guest that runs away in on_request_headers without ever
// reaching a loop header (so loop-header checks cannot stop it) fails
// that call with one of kinds, and the pool refills.
func runaway(target Target, config string, kinds ...error) func(t *testing.T) {
	return func(t *testing.T) {
		p, sink := harness{t, target}.mustPlugin(AbuseWasm, PluginOptions{Name: "abuse", Config: []byte(config),
			PoolMin: 1, PoolMax: 2, CallTimeout: 200 * time.Millisecond})
		var err error
		var ph Phase
		start := time.Now()
		if !within(30*time.Second, func() { _, ph, err = runStream(p, abuseExchange(true), flowFull, nil) }) {
			t.Fatalf("host discrepancy: the call did not return within 30s (CallTimeout 200ms)")
		}
		t.Logf("failed in %s after %v: %v", ph, time.Since(start), err)
		kind := kinds[0]
		for _, k := range kinds {
			if errors.Is(err, k) {
				kind = k
			}
		}
		wantCallError(t, err, kind, abi.ExportOnRequestHeaders)
		wantRefill(t, p, 1, 1)
		wantWorking(t, p, sink)
	}
}

// loopInConfigure: a guest spinning in on_configure fails NewPlugin.
func loopInConfigure(target Target) func(t *testing.T) {
	return func(t *testing.T) {
		var err error
		if !within(30*time.Second, func() {
			_, _, err = harness{t, target}.plugin(AbuseWasm, PluginOptions{Name: "abuse", Config: []byte("loop-configure"),
				PoolMin: 1, PoolMax: 1, StartTimeout: 300 * time.Millisecond})
		}) {
			t.Fatal("host discrepancy: NewPlugin hung on a guest spinning in on_configure")
		}
		if err == nil {
			t.Fatal("host discrepancy: NewPlugin succeeded")
		}
		wantRejected(t, err, ErrDeadline)
		t.Logf("rejected: %v", err)
	}
}

// loopDuringGC: the Go garbage collector runs while a guest spins. A host
// whose deadline depends on the Go scheduler preempting the guest stalls
// here: native guest code has no preemption points, so the GC's
// stop-the-world waits for the guest and the deadline timer never runs.
func loopDuringGC(target Target) func(t *testing.T) {
	return func(t *testing.T) {
		p, sink := harness{t, target}.mustPlugin(AbuseWasm, PluginOptions{Name: "abuse", Config: []byte("loop"),
			PoolMin: 1, PoolMax: 2, CallTimeout: 200 * time.Millisecond})
		x := abuseExchange(true)
		x.Arrive(PhaseRequestHeaders)
		s, err := p.NewStream(x)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := s.OnRequestHeaders(x.RequestHeaders.Len(), false)
			done <- err
		}()
		eventually(5*time.Second, func() bool { _, ok := lastTrace(sink, PhaseRequestHeaders); return ok })
		gc := make(chan struct{})
		go func() {
			runtime.GC()
			close(gc)
		}()
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("host discrepancy: the spinning call did not return within 30s of a GC")
		}
		wantCallError(t, err, ErrDeadline, abi.ExportOnRequestHeaders)
		<-gc
		_ = s.Close() // the instance is gone
		wantRefill(t, p, 1, 1)
		wantWorking(t, p, sink)
	}
}

// memoryBomb: a guest that grows its memory until memory.grow fails fails
// its call with one of kinds; the pool refills and keeps serving.
func memoryBomb(t *testing.T, target Target, config string, kinds []error) {
	p, sink := harness{t, target}.mustPlugin(AbuseWasm, PluginOptions{Name: "abuse", Config: []byte(config),
		PoolMin: 1, PoolMax: 2, CallTimeout: 2 * time.Second, MemoryLimit: 4 << 20})
	var err error
	var ph Phase
	if !within(30*time.Second, func() { _, ph, err = runStream(p, abuseExchange(true), flowFull, nil) }) {
		t.Fatal("host discrepancy: the memory bomb hung the host")
	}
	if err == nil || !slices.ContainsFunc(kinds, func(k error) bool { return errors.Is(err, k) }) {
		t.Errorf("host discrepancy: memory bomb: error %v (%s) in %s, want %v", err, kindOf(err), ph, kinds)
	} else if cb := callbackOf(err); cb != "" && cb != abi.ExportOnRequestHeaders {
		t.Errorf("host discrepancy: error names callback %s, want %s", cb, abi.ExportOnRequestHeaders)
	}
	t.Logf("memory bomb: %v", err)
	wantRefill(t, p, 1, 1)
	wantWorking(t, p, sink)
}

// garbageAllocator: proxy_on_memory_allocate returns garbage (or traps)
// while the host returns data to the guest. The host must not report OK,
// write outside guest memory or crash; failing the call is acceptable
// (and required when the allocator traps).
func garbageAllocator(t *testing.T, target Target, mode string) {
	p, sink := harness{t, target}.mustPlugin(AbuseWasm, PluginOptions{Name: "abuse", Config: []byte(mode),
		PoolMin: 1, PoolMax: 2, CallTimeout: 2 * time.Second})
	var err error
	var ph Phase
	if !within(30*time.Second, func() { _, ph, err = runStream(p, abuseExchange(false), flowFull, nil) }) {
		t.Fatal("host discrepancy: the host hung")
	}
	if mode == "alloc-trap" {
		if ph != PhaseRequestHeaders {
			t.Errorf("host discrepancy: failed in %s, want on_request_headers", ph)
		}
		wantCallError(t, err, ErrTrap, abi.ExportOnRequestHeaders)
		wantRefill(t, p, 1, 1)
		return
	}
	noPanic(t, err)
	if err != nil {
		t.Logf("the host failed the call in %s: %v", ph, err)
	}
	res := allocResults(sink)
	for n, st := range res {
		if st == abi.StatusOK {
			t.Errorf("host discrepancy: call %d returned OK although proxy_on_memory_allocate returned an invalid pointer", n)
		} else if st != abi.StatusInvalidMemoryAccess {
			t.Logf("call %d returned %s (Envoy returns INVALID_MEMORY_ACCESS)", n, st.String())
		}
	}
	if err == nil && len(res) != 4 {
		t.Errorf("got %d results, want 4:%s", len(res), sink.dump())
	}
	var sts []string
	for n := 1; n <= 4; n++ {
		if st, ok := res[n]; ok {
			sts = append(sts, fmt.Sprintf("call %d: %s", n, st.String()))
		}
	}
	t.Logf("statuses: %s", strings.Join(sts, ", "))
}

// allocResults parses abuse.wat's "cf res <n> <status>" lines.
func allocResults(sink *logSink) map[int]abi.Status {
	out := map[int]abi.Status{}
	for _, l := range sink.snapshot() {
		f := strings.Fields(l.Msg)
		if len(f) == 4 && f[0] == "cf" && f[1] == "res" {
			n, err1 := strconv.Atoi(f[2])
			st, err2 := strconv.Atoi(f[3])
			if err1 == nil && err2 == nil {
				out[n] = abi.Status(st)
			}
		}
	}
	return out
}

// trapIn checks a trap in the callback of phase ph.
func trapIn(t *testing.T, target Target, ph Phase) {
	cfg := []byte(fmt.Sprintf("trap %d", ph))
	opts := PluginOptions{Name: "abuse", Config: cfg, VMConfig: cfg, PoolMin: 1, PoolMax: 2, CallTimeout: 2 * time.Second}
	h := harness{t, target}
	switch ph {
	case PhaseVMStart, PhaseConfigure:
		_, sink, err := h.plugin(AbuseWasm, opts)
		if err == nil {
			t.Fatalf("host discrepancy: NewPlugin succeeded although %s trapped%s", ph, sink.dump())
		}
		wantRejected(t, err, ErrTrap)
		return
	case PhaseTick:
		p, sink := h.mustPlugin(AbuseWasm, opts)
		wantRefill(t, p, 1, 1)
		if _, ok := lastTrace(sink, PhaseTick); !ok {
			t.Errorf("no tick ran")
		}
		return
	}
	p, sink := h.mustPlugin(AbuseWasm, opts)
	var err error
	var got Phase
	if !within(30*time.Second, func() { _, got, err = runStream(p, abuseExchange(true), flowFull, nil) }) {
		t.Fatal("host discrepancy: the trapping stream hung")
	}
	want := ph
	if ph >= PhaseDone {
		want = PhaseDone // runStream reports Close's error at PhaseDone
	}
	if got != want {
		t.Errorf("host discrepancy: the stream failed in %s, want %s (err %v)", got, ph, err)
	}
	wantCallError(t, err, ErrTrap, ph.Export())
	wantRefill(t, p, 1, 1)
	if ph != PhaseStreamCreate {
		wantWorking(t, p, sink)
	}
}
