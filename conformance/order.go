package conformance

import (
	"fmt"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/abi"
)

// call is an expected callback: phase, context and arguments.
type call struct {
	ph      Phase
	ctx     uint32
	a, b, c uint32
}

func (c call) String() string {
	return fmt.Sprintf("%s(ctx %d, %d, %d)", c.ph, c.ctx, c.a, c.b)
}

// streamCalls returns the stream callbacks of context ctx, in order.
func streamCalls(tr []Trace, ctx uint32) []call {
	var out []call
	for _, x := range tr {
		if x.Ctx == ctx && x.Phase.isStream() {
			out = append(out, call{x.Phase, x.Ctx, x.A, x.B, 0})
		}
	}
	return out
}

func sameCalls(got, want []call) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func rootOf(t *testing.T, tr []Trace) uint32 {
	t.Helper()
	for _, x := range tr {
		if x.Phase == PhaseRootCreate {
			return x.Ctx
		}
	}
	t.Fatal("host discrepancy: no root context was created")
	return 0
}

// lastCtx returns the context of the last trace of phase p.
func lastCtx(sink *logSink, p Phase) uint32 {
	var ctx uint32
	for _, x := range sink.traces() {
		if x.Phase == p {
			ctx = x.Ctx
		}
	}
	return ctx
}

func runOrder(t *testing.T, target Target) {
	opts := PluginOptions{Name: "probe", PoolMin: 1, PoolMax: 1}
	t.Run("full_request", func(t *testing.T) {
		t.Parallel()
		p, sink := harness{t, target}.mustPlugin(ProbeWasm, opts)
		x := NewExchange()
		run, ph, err := runStream(p, x, flowFull, nil)
		if err != nil {
			t.Fatalf("host discrepancy: stream failed in %s: %v", ph, err)
		}
		tr := sink.traces()
		root := rootOf(t, tr)
		s := lastCtx(sink, PhaseStreamCreate)
		want := []call{
			{PhaseStreamCreate, s, root, 0, 0},
			{PhaseRequestHeaders, s, uint32(len(FixtureRequestHeaders)), 0, 0},
			{PhaseRequestBody, s, uint32(len(FixtureRequestBody)), 0, 0},
			{PhaseRequestTrailers, s, uint32(len(FixtureRequestTrailers)), 0, 0},
			{PhaseResponseHeaders, s, uint32(len(FixtureResponseHeaders)), 0, 0},
			{PhaseResponseBody, s, uint32(len(FixtureResponseBody)), 0, 0},
			{PhaseResponseTrailers, s, uint32(len(FixtureResponseTrailers)), 0, 0},
			{PhaseDone, s, 0, 0, 0},
			{PhaseLog, s, 0, 0, 0},
			{PhaseDelete, s, 0, 0, 0},
		}
		if got := streamCalls(tr, s); s == 0 || s == root || !sameCalls(got, want) {
			t.Errorf("host discrepancy: callbacks\n got %v\nwant %v", got, want)
		}
		for ph, a := range run.actions {
			if a != abi.ActionContinue {
				t.Errorf("host discrepancy: %s returned action %s, the guest returned CONTINUE", ph, a)
			}
		}
	})
	t.Run("end_of_stream_flags_and_actions", func(t *testing.T) {
		t.Parallel()
		o := opts
		o.Config = mustEncode(Script{Ret: map[Phase]uint32{PhaseRequestHeaders: uint32(abi.ActionPause)}})
		p, sink := harness{t, target}.mustPlugin(ProbeWasm, o)
		run, ph, err := runStream(p, NewExchange(), flowHeadersOnly, nil)
		if err != nil {
			t.Fatalf("host discrepancy: stream failed in %s: %v", ph, err)
		}
		s := lastCtx(sink, PhaseStreamCreate)
		got := streamCalls(sink.traces(), s)
		if len(got) != 5 || got[1].ph != PhaseRequestHeaders || got[1].b != 1 {
			t.Errorf("host discrepancy: callbacks %v, want on_request_headers with end_of_stream 1, then done/log/delete", got)
		}
		if a := run.actions[PhaseRequestHeaders]; a != abi.ActionPause {
			t.Errorf("host discrepancy: on_request_headers action %s, the guest returned PAUSE", a)
		}
	})
	t.Run("interleaved_streams", func(t *testing.T) {
		t.Parallel()
		o := opts
		o.Config = mustEncode(Script{Steps: []Step{
			Call(PhaseRequestHeaders, abi.FuncGetHeaderMapValue, Imm(0), Str(":path"), Out(0), Out(1)).Deref(0, 1),
		}})
		p, sink := harness{t, target}.mustPlugin(ProbeWasm, o)
		x1, x2 := NewExchange(), NewExchange()
		x1.RequestHeaders.Set(":path", "/one")
		x2.RequestHeaders.Set(":path", "/two")
		x1.Arrive(PhaseRequestHeaders)
		x2.Arrive(PhaseRequestHeaders)
		s1, err := p.NewStream(x1)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := p.NewStream(x2)
		if err != nil {
			t.Fatal(err)
		}
		must := func(_ abi.Action, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("host discrepancy: %v", err)
			}
		}
		must(s1.OnRequestHeaders(x1.RequestHeaders.Len(), false))
		must(s2.OnRequestHeaders(x2.RequestHeaders.Len(), false))
		x1.Arrive(PhaseResponseHeaders)
		x2.Arrive(PhaseResponseHeaders)
		must(s2.OnResponseHeaders(x2.ResponseHeaders.Len(), true))
		must(s1.OnResponseHeaders(x1.ResponseHeaders.Len(), true))
		if err := s2.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s1.Close(); err != nil {
			t.Fatal(err)
		}
		tr := sink.traces()
		var ids []uint32
		for _, x := range tr {
			if x.Phase == PhaseStreamCreate {
				ids = append(ids, x.Ctx)
			}
		}
		if len(ids) != 2 || ids[0] == ids[1] {
			t.Fatalf("host discrepancy: stream contexts %v, want two distinct", ids)
		}
		for i, id := range ids {
			got := streamCalls(tr, id)
			var phs []Phase
			for _, c := range got {
				phs = append(phs, c.ph)
			}
			want := []Phase{PhaseStreamCreate, PhaseRequestHeaders, PhaseResponseHeaders, PhaseDone, PhaseLog, PhaseDelete}
			if fmt.Sprint(phs) != fmt.Sprint(want) {
				t.Errorf("host discrepancy: stream %d callbacks %v, want %v", i+1, phs, want)
			}
		}
		// Each stream's on_request_headers saw its own request.
		paths := map[uint32]string{}
		for _, r := range sink.results() {
			var ctx uint32
			for _, x := range tr {
				if x.Seq < r.Seq {
					ctx = x.Ctx
				}
			}
			paths[ctx] = string(r.Data)
		}
		if paths[ids[0]] != "/one" || paths[ids[1]] != "/two" {
			t.Errorf("host discrepancy: streams read :path %q and %q, want /one and /two", paths[ids[0]], paths[ids[1]])
		}
	})
	t.Run("unique_context_ids", func(t *testing.T) {
		t.Parallel()
		p, sink := harness{t, target}.mustPlugin(ProbeWasm, opts)
		for i := 0; i < 5; i++ {
			if _, ph, err := runStream(p, NewExchange(), flowHeadersOnly, nil); err != nil {
				t.Fatalf("host discrepancy: stream %d failed in %s: %v", i, ph, err)
			}
		}
		tr := sink.traces()
		seen := map[uint32]bool{rootOf(t, tr): true}
		for _, x := range tr {
			if x.Phase == PhaseStreamCreate {
				if seen[x.Ctx] {
					t.Errorf("host discrepancy: context id %d reused", x.Ctx)
				}
				seen[x.Ctx] = true
			}
		}
	})
	t.Run("on_done_false_then_proxy_done", func(t *testing.T) {
		t.Parallel()
		o := opts
		o.Config = mustEncode(Script{
			Ret: map[Phase]uint32{PhaseDone: 0},
			Steps: []Step{
				Call(PhaseConfigure, abi.FuncSetTickPeriod, Imm(5)),
				SetSlot(PhaseRequestHeaders, 5, Ctx()),
				Call(PhaseTick, abi.FuncSetEffectiveContext, Slot(5)),
				Call(PhaseTick, abi.FuncDone),
			},
		})
		p, sink := harness{t, target}.mustPlugin(ProbeWasm, o)
		var err error
		var ph Phase
		if !within(30*time.Second, func() { _, ph, err = runStream(p, NewExchange(), flowHeadersOnly, nil) }) {
			t.Fatalf("host discrepancy: the stream hung after proxy_on_done returned false")
		}
		if err != nil {
			t.Fatalf("host discrepancy: stream failed in %s: %v", ph, err)
		}
		s := lastCtx(sink, PhaseStreamCreate)
		var calls []call
		if !eventually(5*time.Second, func() bool {
			calls = streamCalls(sink.traces(), s)
			return len(calls) >= 5
		}) {
			t.Fatalf("host discrepancy: after proxy_on_done returned false and on_tick called proxy_done, callbacks were %v; want on_log and on_delete to follow", calls)
		}
		var phs []Phase
		for _, c := range calls {
			phs = append(phs, c.ph)
		}
		if want := []Phase{PhaseStreamCreate, PhaseRequestHeaders, PhaseDone, PhaseLog, PhaseDelete}; fmt.Sprint(phs) != fmt.Sprint(want) {
			t.Errorf("host discrepancy: callbacks %v, want %v", phs, want)
		}
		// proxy_done succeeded once, before on_log.
		var logSeq int
		for _, x := range sink.traces() {
			if x.Ctx == s && x.Phase == PhaseLog {
				logSeq = x.Seq
			}
		}
		ok := 0
		for _, r := range sink.results() {
			if r.Step == 3 && r.Status == sOK {
				ok++
				if r.Seq > logSeq {
					t.Errorf("host discrepancy: proxy_on_log ran before proxy_done")
				}
			}
		}
		if ok != 1 {
			t.Errorf("host discrepancy: proxy_done returned OK %d times, want once", ok)
		}
	})
	t.Run("on_tick_on_root_context", func(t *testing.T) {
		t.Parallel()
		o := opts
		o.Config = mustEncode(Script{Steps: []Step{Call(PhaseConfigure, abi.FuncSetTickPeriod, Imm(10))}})
		_, sink := harness{t, target}.mustPlugin(ProbeWasm, o)
		var ticks []Trace
		eventually(5*time.Second, func() bool {
			ticks = nil
			for _, x := range sink.traces() {
				if x.Phase == PhaseTick {
					ticks = append(ticks, x)
				}
			}
			return len(ticks) >= 3
		})
		if len(ticks) < 3 {
			t.Fatalf("host discrepancy: %d ticks in 5s at a 10ms period", len(ticks))
		}
		root := rootOf(t, sink.traces())
		for _, x := range ticks {
			if x.Ctx != root {
				t.Errorf("host discrepancy: on_tick on context %d, want root %d", x.Ctx, root)
			}
		}
	})
}
