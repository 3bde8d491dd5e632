package pipeline

import (
	"time"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// Phase names a plugin callback in execution logs and metrics.
type Phase string

// The phases an Exchange reports.
const (
	PhaseRequestHeaders  Phase = "request_headers"
	PhaseRequestBody     Phase = "request_body"
	PhaseResponseHeaders Phase = "response_headers"
	PhaseResponseBody    Phase = "response_body"
	PhaseDone            Phase = "done" // on_done, on_log, on_delete
)

// Verdict is what a plugin callback decided.
type Verdict string

// Verdicts of a callback.
const (
	VerdictContinue Verdict = "continue"
	VerdictPause    Verdict = "pause"
	VerdictLocal    Verdict = "local_response"
	VerdictError    Verdict = "error"
)

// Call is one plugin callback as an Observer sees it. Duration is the time
// the guest ran, not the time a paused request waited.
type Call struct {
	Step     int
	Plugin   *wasm.Plugin
	Phase    Phase
	Duration time.Duration
	Verdict  Verdict
	Err      error // set with VerdictError
}

// Observer is told of an exchange's plugin callbacks and of its plugins'
// log lines. Its methods run on the request's goroutine (PluginLog while
// the guest runs): they must not block.
type Observer interface {
	PluginCall(c Call)
	PluginLog(step int, p *wasm.Plugin, level abi.LogLevel, msg string)
}

// monoBase anchors nanotime.
var monoBase = time.Now()

// nanotime is monotonic nanoseconds: one clock read, where time.Now reads
// the wall clock too. Plugin calls are timed several times per request.
func nanotime() int64 { return int64(time.Since(monoBase)) }

// timed delivers a callback to step i, telling the Observer.
func (x *Exchange) timed(i int, ph Phase, s *wasm.Stream, call func(*wasm.Stream) (abi.Action, error)) (abi.Action, error) {
	if x.Observer == nil {
		return call(s)
	}
	before := x.Local()
	t0 := nanotime()
	act, err := call(s)
	c := Call{Step: i, Plugin: x.chain.steps[i].Plugin, Phase: ph, Duration: time.Duration(nanotime() - t0), Verdict: VerdictContinue, Err: err}
	switch {
	case err != nil:
		c.Verdict = VerdictError
	case x.Local() != before: // this callback sent (or replaced) it
		c.Verdict = VerdictLocal
	case act != abi.ActionContinue:
		c.Verdict = VerdictPause
	}
	x.Observer.PluginCall(c)
	return act, err
}

// StreamLog implements wasm.StreamLogHost: the plugin's log lines go to
// the exchange's Observer.
func (h *stepHost) StreamLog(level abi.LogLevel, msg string) {
	if o := h.x.Observer; o != nil {
		o.PluginLog(h.i, h.x.chain.steps[h.i].Plugin, level, msg)
	}
}

// SetPropertyValue returns a property a plugin set on the request, or one the
// host set (wasmgate.api_key.id after a verified key), for logs.
func (x *Exchange) SetPropertyValue(path string) ([]byte, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	v, ok := x.setProps[path]
	return v, ok
}
