package conformance

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/abi"
)

// LogLine is one plugin log line.
type LogLine struct {
	Level abi.LogLevel
	Msg   string
}

// logSink collects a plugin's log lines.
type logSink struct {
	mu    sync.Mutex
	lines []LogLine
}

func (s *logSink) log(level abi.LogLevel, msg string) {
	s.mu.Lock()
	s.lines = append(s.lines, LogLine{level, msg})
	s.mu.Unlock()
}

func (s *logSink) snapshot() []LogLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LogLine(nil), s.lines...)
}

func (s *logSink) traces() []Trace {
	var out []Trace
	inv := map[uint64]int{}
	for i, l := range s.snapshot() {
		if tr, ok := parseTrace(l.Msg); ok {
			inv[tr.Instance]++
			tr.Inv, tr.Seq = inv[tr.Instance], i
			out = append(out, tr)
		}
	}
	return out
}

func (s *logSink) results() []Result {
	var out []Result
	for i, l := range s.snapshot() {
		if r, ok := parseResult(l.Msg); ok {
			r.Seq = i
			out = append(out, r)
		}
	}
	return out
}

// find returns the lines containing substr.
func (s *logSink) find(substr string) []LogLine {
	var out []LogLine
	for _, l := range s.snapshot() {
		if strings.Contains(l.Msg, substr) {
			out = append(out, l)
		}
	}
	return out
}

// dump formats the log for a failure message.
func (s *logSink) dump() string {
	var b strings.Builder
	for _, l := range s.snapshot() {
		m := l.Msg
		if len(m) > 300 {
			m = m[:300] + "…"
		}
		fmt.Fprintf(&b, "\n  [%s] %s", l.Level, m)
	}
	return b.String()
}

// eventually polls cond every 10ms until it holds or timeout passes.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// harness is one test's view of the target.
type harness struct {
	t      *testing.T
	target Target
}

// plugin starts a plugin whose log goes to the returned sink and closes it
// when the test ends.
func (h harness) plugin(wasm []byte, opts PluginOptions) (Plugin, *logSink, error) {
	sink := &logSink{}
	if opts.Name == "" {
		opts.Name = "conformance"
	}
	if opts.VMID == "" {
		opts.VMID = "conformance-vm"
	}
	if opts.RootID == "" {
		opts.RootID = "conformance-root"
	}
	opts.Log = sink.log
	p, err := h.target.NewPlugin(h.t, wasm, opts)
	if err != nil {
		if errors.Is(err, ErrHostPanic) {
			h.t.Errorf("host discrepancy: NewPlugin: %v", err)
		}
		return nil, sink, err
	}
	h.t.Cleanup(func() {
		if err := p.Close(); err != nil {
			h.t.Errorf("plugin close: %v", err)
		}
	})
	return p, sink, nil
}

// mustPlugin is plugin that fails the test on error.
func (h harness) mustPlugin(wasm []byte, opts PluginOptions) (Plugin, *logSink) {
	h.t.Helper()
	p, sink, err := h.plugin(wasm, opts)
	if err != nil {
		h.t.Fatalf("NewPlugin(%s): %v%s", opts.Name, err, sink.dump())
	}
	return p, sink
}

// flow is how a test drives a stream.
type flow int

const (
	flowFull        flow = iota // headers, body, trailers both ways, then Close
	flowHeadersOnly             // request headers (end of stream), then Close
	flowNone                    // no stream
)

// streamRun records one stream's calls.
type streamRun struct {
	x       *Exchange
	actions map[Phase]abi.Action
}

// noPanic fails t when err reports a host panic.
func noPanic(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrHostPanic) {
		t.Errorf("host discrepancy: %v", err)
	}
}

// runStream drives a stream through x. pause, when set, is called after
// on_request_headers. The first error is returned with the phase it
// happened in.
func runStream(p Plugin, x *Exchange, f flow, pause func()) (*streamRun, Phase, error) {
	run := &streamRun{x: x, actions: map[Phase]abi.Action{}}
	x.Arrive(PhaseStreamCreate)
	s, err := p.NewStream(x)
	if err != nil {
		return run, PhaseStreamCreate, err
	}
	step := func(ph Phase, call func() (abi.Action, error)) error {
		x.Arrive(ph)
		a, err := call()
		run.actions[ph] = a
		return err
	}
	fail := func(ph Phase, err error) (*streamRun, Phase, error) {
		_ = s.Close() // keep the original error
		return run, ph, err
	}
	if f == flowHeadersOnly {
		if err := step(PhaseRequestHeaders, func() (abi.Action, error) {
			return s.OnRequestHeaders(x.RequestHeaders.Len(), true)
		}); err != nil {
			return fail(PhaseRequestHeaders, err)
		}
		if pause != nil {
			pause()
		}
		x.Arrive(PhaseDone)
		return run, PhaseDone, s.Close()
	}
	calls := []phaseCall{
		{PhaseRequestHeaders, func() (abi.Action, error) { return s.OnRequestHeaders(x.RequestHeaders.Len(), false) }},
		{PhaseRequestBody, func() (abi.Action, error) { return s.OnRequestBody(len(x.RequestBody.B), false) }},
		{PhaseRequestTrailers, func() (abi.Action, error) { return s.OnRequestTrailers(x.RequestTrailers.Len()) }},
		{PhaseResponseHeaders, func() (abi.Action, error) { return s.OnResponseHeaders(x.ResponseHeaders.Len(), false) }},
		{PhaseResponseBody, func() (abi.Action, error) { return s.OnResponseBody(len(x.ResponseBody.B), false) }},
		{PhaseResponseTrailers, func() (abi.Action, error) { return s.OnResponseTrailers(x.ResponseTrailers.Len()) }},
	}
	for _, c := range calls {
		if err := step(c.ph, c.call); err != nil {
			return fail(c.ph, err)
		}
		if c.ph == PhaseRequestHeaders && pause != nil {
			pause()
		}
	}
	x.Arrive(PhaseDone)
	return run, PhaseDone, s.Close()
}

// phaseCall is a stream callback to make in a phase.
type phaseCall struct {
	ph   Phase
	call func() (abi.Action, error)
}

// callbackOf returns the callback a *CallError names, or "".
func callbackOf(err error) string {
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.Callback
	}
	return ""
}

// kindOf names the failure kind of err.
func kindOf(err error) string {
	for _, k := range []error{ErrTrap, ErrDeadline, ErrMemoryLimit, ErrInstanceLost, ErrRejected} {
		if errors.Is(err, k) {
			return k.Error()
		}
	}
	return "unclassified"
}
