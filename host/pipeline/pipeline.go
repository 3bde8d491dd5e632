// Package pipeline runs one operation's plugin chain over a request and its
// response: request headers, request body (buffered only when a plugin
// handles it), response headers and response body, with short-circuit by
// local response, pause/continue, and each plugin's on_error policy.
//
// The gateway owns the HTTP side: it fills an Exchange's header maps and
// bodies, calls the phases in order, and writes what the plugins leave
// (or the local response one of them sent).
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// OnError is what happens to a request when a plugin fails (trap, deadline,
// memory limit, lost instance).
type OnError int

const (
	// FailClosed fails the request with a 500 gateway response (default).
	FailClosed OnError = iota
	// FailOpen skips the failed plugin for the rest of the request.
	FailOpen
)

// Step is one plugin in a chain.
type Step struct {
	Plugin  *wasm.Plugin
	OnError OnError
}

// Chain is an operation's plugin chain. It is immutable and shared by all
// requests of the operation.
type Chain struct {
	steps                               []Step
	reqBody, respHeaders, respBody, log bool
}

// NewChain builds a chain; it asks the plugins once which callbacks they
// handle, so phases no plugin handles cost nothing per request and bodies
// stream unless a plugin reads them.
func NewChain(steps ...Step) *Chain {
	c := &Chain{steps: steps}
	for _, s := range steps {
		p := s.Plugin
		c.reqBody = c.reqBody || p.Handles(abi.ExportOnRequestBody)
		c.respHeaders = c.respHeaders || p.Handles(abi.ExportOnResponseHeaders)
		c.respBody = c.respBody || p.Handles(abi.ExportOnResponseBody)
	}
	return c
}

// Len returns the number of plugins.
func (c *Chain) Len() int { return len(c.steps) }

// NeedsRequestBody reports whether a plugin handles the request body, in
// which case the gateway buffers it before the integration.
func (c *Chain) NeedsRequestBody() bool { return c.reqBody }

// NeedsResponseBody reports whether a plugin handles the response body, in
// which case the gateway buffers it; otherwise the body streams.
func (c *Chain) NeedsResponseBody() bool { return c.respBody }

// Props answers the properties of a request (request.*, wasmgate.*).
type Props interface {
	Property(path string) ([]byte, bool)
}

// StepError is a plugin failure that fails the request.
type StepError struct {
	Plugin string
	Err    error
}

func (e *StepError) Error() string { return e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// ErrNotResumed is returned when a plugin paused a phase and neither
// resumed it nor answered before the request's context ended.
var ErrNotResumed = errors.New("plugin paused the request and did not resume it")

// Exchange is one request going through a chain.
type Exchange struct {
	ctx   context.Context
	chain *Chain
	props Props

	ReqHeaders   *wasm.Fields
	ReqTrailers  *wasm.Fields
	ReqBody      wasm.Buffer
	RespHeaders  *wasm.Fields
	RespTrailers *wasm.Fields
	RespBody     wasm.Buffer

	// Skipped lists the plugins skipped after a fail_open failure, with the
	// error, for logs.
	Skipped []error

	// Policies backs the plugins' token bucket and quota calls; nil
	// answers them UNIMPLEMENTED.
	Policies wasm.PolicyHost

	// Caches gives the plugins' cache calls the stage's response cache;
	// nil answers them UNIMPLEMENTED. CacheMaxBody bounds a stored body
	// (default DefaultCacheMaxBody).
	Caches       CacheSource
	CacheMaxBody int64
	cache        cacheState
	// APIKeys backs the plugins' api_key_verify calls; nil answers them
	// UNIMPLEMENTED.
	APIKeys APIKeys
	// Observer, when set, is told of every plugin callback and of the
	// plugins' log lines (execution logs, metrics). Set it before the
	// first phase.
	Observer Observer

	// LoadBody reads the whole request body into ReqBody; RequestHeaders
	// calls it when a plugin that handles the body pauses its headers.
	// Nil: the body is only delivered by RequestBody.
	LoadBody   func() error
	bodyLoaded bool
	bodySeen   []bool

	streams []*wasm.Stream
	hosts   []stepHost
	// wake is signalled when a paused step may have been resumed; one for
	// all steps, which run one at a time (a waiting step checks its own
	// state when woken). Made on first use (wakeChan): most requests
	// never pause.
	wake chan struct{}
	// inline holds the per-step state of a short chain, the plugins'
	// streams included: one allocation per request instead of 4 + steps.
	inline struct {
		mem     [inlineSteps]wasm.Stream
		streams [inlineSteps]*wasm.Stream
		hosts   [inlineSteps]stepHost
		skip    [inlineSteps]bool
	}

	mu        sync.Mutex
	local     *wasm.LocalResponse
	localBy   int
	respSent  bool
	setProps  map[string][]byte
	skip      []bool
	respPhase bool
}

// Start creates the plugins' stream contexts for a request. reqHeaders must
// include the pseudo-headers :method, :path, :authority and :scheme.
func (c *Chain) Start(ctx context.Context, props Props, reqHeaders *wasm.Fields) (*Exchange, error) {
	return c.StartObserved(ctx, props, reqHeaders, nil)
}

// StartObserved is Start with the exchange's Observer set from the
// start, so it also hears of the plugins' stream context creation.
func (c *Chain) StartObserved(ctx context.Context, props Props, reqHeaders *wasm.Fields, obs Observer) (*Exchange, error) {
	n := len(c.steps)
	x := &Exchange{
		ctx:        ctx,
		chain:      c,
		props:      props,
		Observer:   obs,
		ReqHeaders: reqHeaders,
		localBy:    -1,
	}
	var mem []wasm.Stream // the streams themselves
	if n <= inlineSteps {
		mem, x.streams, x.hosts, x.skip = x.inline.mem[:n], x.inline.streams[:n], x.inline.hosts[:n], x.inline.skip[:n]
	} else {
		mem, x.streams, x.hosts, x.skip = make([]wasm.Stream, n), make([]*wasm.Stream, n), make([]stepHost, n), make([]bool, n)
	}
	for i := range c.steps {
		x.hosts[i] = stepHost{x: x, i: i}
		s := &mem[i]
		if err := c.steps[i].Plugin.NewStreamAt(ctx, &x.hosts[i], s); err != nil {
			if ferr := x.failed(i, err); ferr != nil {
				x.Close()
				return nil, ferr
			}
			continue
		}
		x.streams[i] = s
	}
	return x, nil
}

// inlineSteps is the longest chain whose per-step state is allocated with
// its Exchange.
const inlineSteps = 6

// Local returns the local response a plugin sent, or nil.
func (x *Exchange) Local() *wasm.LocalResponse {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.local
}

// failed applies a step's on_error policy to err.
func (x *Exchange) failed(i int, err error) error {
	x.skip[i] = true
	if x.chain.steps[i].OnError == FailOpen {
		x.Skipped = append(x.Skipped, err)
		return nil
	}
	return &StepError{Plugin: x.chain.steps[i].Plugin.Info().Name, Err: err}
}

// run delivers one callback to step i and waits while it is paused.
func (x *Exchange) run(i int, ph Phase, call func(*wasm.Stream) (abi.Action, error)) error {
	return x.runThen(i, ph, call, nil)
}

// runThen is run; paused, when not nil, is called once when the step
// pauses, before waiting for it to resume.
func (x *Exchange) runThen(i int, ph Phase, call func(*wasm.Stream) (abi.Action, error), paused func() error) error {
	s := x.streams[i]
	if s == nil || x.skip[i] {
		return nil
	}
	h := &x.hosts[i]
	h.mu.Lock()
	h.continued = false
	h.mu.Unlock()
	act, err := x.timed(i, ph, s, call)
	if err != nil {
		return x.failed(i, err)
	}
	if err := x.resolveLookup(i); err != nil {
		return err
	}
	if act == abi.ActionContinue || x.Local() != nil {
		return nil
	}
	if paused != nil {
		if err := paused(); err != nil {
			return err
		}
	}
	for {
		if x.Local() != nil {
			return nil
		}
		h.mu.Lock()
		cont, ferr := h.continued, h.failErr
		h.mu.Unlock()
		if ferr != nil {
			return x.failed(i, ferr)
		}
		if cont {
			return nil
		}
		select {
		case <-x.wakeChan():
			s.Sync() // let the guest call that resumed us finish
		case <-x.ctx.Done():
			return &StepError{Plugin: x.chain.steps[i].Plugin.Info().Name, Err: fmt.Errorf("%w: %v", ErrNotResumed, x.ctx.Err())}
		}
	}
}

// RequestHeaders runs on_request_headers through the chain. It stops at
// the first plugin that answers (see Local).
//
// As in Envoy, a plugin that pauses its request headers still receives
// the request body: when it handles the body, the body is read (through
// LoadBody) and delivered to it, and to the plugins before it, while its
// headers stay paused; it may then resume or answer from its body
// callback. Those plugins are not given the body again by RequestBody.
func (x *Exchange) RequestHeaders(endOfStream bool) error {
	for i := range x.streams {
		n := x.ReqHeaders.Len()
		var paused func() error
		if !endOfStream && x.chain.reqBody && x.LoadBody != nil && x.chain.steps[i].Plugin.Handles(abi.ExportOnRequestBody) {
			paused = func() error { return x.bodyWhilePaused(i) }
		}
		if err := x.runThen(i, PhaseRequestHeaders, func(s *wasm.Stream) (abi.Action, error) { return s.OnRequestHeaders(n, endOfStream) }, paused); err != nil {
			return err
		}
		if x.Local() != nil {
			return nil
		}
	}
	return nil
}

// bodyWhilePaused delivers the request body to steps 0..i while step i's
// headers are paused.
func (x *Exchange) bodyWhilePaused(i int) error {
	if !x.bodyLoaded {
		if err := x.LoadBody(); err != nil {
			return err
		}
		x.bodyLoaded = true
	}
	if x.bodySeen == nil {
		x.bodySeen = make([]bool, len(x.streams))
	}
	for j := 0; j < i; j++ {
		if x.bodySeen[j] {
			continue
		}
		x.bodySeen[j] = true
		if err := x.run(j, PhaseRequestBody, func(s *wasm.Stream) (abi.Action, error) { return s.OnRequestBody(len(x.ReqBody.B), true) }); err != nil {
			return err
		}
		if x.Local() != nil {
			return nil
		}
	}
	// Step i itself: its headers stay paused, so its action here is not
	// waited on (a resume it sends from this callback ends the wait).
	x.bodySeen[i] = true
	s := x.streams[i]
	if s == nil || x.skip[i] {
		return nil
	}
	if _, err := x.timed(i, PhaseRequestBody, s, func(s *wasm.Stream) (abi.Action, error) { return s.OnRequestBody(len(x.ReqBody.B), true) }); err != nil {
		return x.failed(i, err)
	}
	return nil
}

// BodyLoaded reports whether RequestHeaders read the request body
// (through LoadBody).
func (x *Exchange) BodyLoaded() bool { return x.bodyLoaded }

// RequestBody runs on_request_body with the whole buffered body
// (end_of_stream true), for the plugins that did not receive it while
// paused in RequestHeaders.
func (x *Exchange) RequestBody() error {
	if !x.chain.reqBody {
		return nil
	}
	for i := range x.streams {
		if x.bodySeen != nil && x.bodySeen[i] {
			continue
		}
		if err := x.run(i, PhaseRequestBody, func(s *wasm.Stream) (abi.Action, error) { return s.OnRequestBody(len(x.ReqBody.B), true) }); err != nil {
			return err
		}
		if x.Local() != nil {
			return nil
		}
	}
	return nil
}

// respSteps returns the steps that see the response, in response order
// (last plugin first). After a local response from step k only the steps
// before k see it, as in Envoy's encoder chain.
func (x *Exchange) respSteps() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.respPhase = true
	if x.localBy >= 0 {
		return x.localBy
	}
	return len(x.streams)
}

// ResponseHeaders runs on_response_headers in reverse order. A plugin may
// replace the response with a local one (see Local) as long as nothing was
// sent downstream.
func (x *Exchange) ResponseHeaders(endOfStream bool) error {
	defer x.afterResponseHeaders()
	if !x.chain.respHeaders {
		return nil
	}
	for i := x.respSteps() - 1; i >= 0; i-- {
		x.snapshotHeaders(i)
		n := x.RespHeaders.Len()
		if err := x.run(i, PhaseResponseHeaders, func(s *wasm.Stream) (abi.Action, error) { return s.OnResponseHeaders(n, endOfStream) }); err != nil {
			return err
		}
	}
	return nil
}

// ResponseBody runs on_response_body with the whole buffered response body.
func (x *Exchange) ResponseBody() error {
	if !x.chain.respBody {
		return nil
	}
	for i := x.respSteps() - 1; i >= 0; i-- {
		x.snapshotBody(i)
		if err := x.run(i, PhaseResponseBody, func(s *wasm.Stream) (abi.Action, error) { return s.OnResponseBody(len(x.RespBody.B), true) }); err != nil {
			return err
		}
	}
	return nil
}

// ResponseSent marks the response as written downstream: later local
// responses are refused.
func (x *Exchange) ResponseSent() {
	x.mu.Lock()
	x.respSent = true
	x.mu.Unlock()
}

// Close ends every stream (on_done, on_log, on_delete).
func (x *Exchange) Close() {
	x.CacheAbandon()
	for i, s := range x.streams {
		if s != nil {
			var t0 int64
			if x.Observer != nil {
				t0 = nanotime()
			}
			err := s.Close() // a failure here poisons that instance; the response is out already
			if x.Observer != nil {
				v := VerdictContinue
				if err != nil {
					v = VerdictError
				}
				x.Observer.PluginCall(Call{Step: i, Plugin: x.chain.steps[i].Plugin, Phase: PhaseDone, Duration: time.Duration(nanotime() - t0), Verdict: v, Err: err})
			}
			x.streams[i] = nil
		}
	}
}

// stepHost is the wasm.StreamHost of one step.
type stepHost struct {
	x *Exchange
	i int

	mu        sync.Mutex
	continued bool
	failErr   error
}

// TakeTokens implements wasm.PolicyHost through the exchange's Policies.
func (h *stepHost) TakeTokens(ctx context.Context, key string, rate float64, burst, cost int) (wasm.TokenResult, error) {
	if h.x.Policies == nil {
		return wasm.TokenResult{}, wasm.ErrNoPolicy
	}
	return h.x.Policies.TakeTokens(ctx, key, rate, burst, cost)
}

// UseQuota implements wasm.PolicyHost through the exchange's Policies.
func (h *stepHost) UseQuota(ctx context.Context, key string, period wasm.QuotaPeriod, limit, n int64) (wasm.QuotaResult, error) {
	if h.x.Policies == nil {
		return wasm.QuotaResult{}, wasm.ErrNoPolicy
	}
	return h.x.Policies.UseQuota(ctx, key, period, limit, n)
}

func (h *stepHost) signal() {
	select {
	case h.x.wakeChan() <- struct{}{}:
	default:
	}
}

// wakeChan returns x.wake, making it the first time.
func (x *Exchange) wakeChan() chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.wake == nil {
		x.wake = make(chan struct{}, 1)
	}
	return x.wake
}

func (h *stepHost) Headers(t abi.MapType) wasm.HeaderMap {
	x := h.x
	var f *wasm.Fields
	switch t {
	case abi.MapHTTPRequestHeaders:
		f = x.ReqHeaders
	case abi.MapHTTPRequestTrailers:
		if x.ReqTrailers == nil {
			x.ReqTrailers = &wasm.Fields{}
		}
		f = x.ReqTrailers
	case abi.MapHTTPResponseHeaders:
		f = x.RespHeaders
	case abi.MapHTTPResponseTrailers:
		if x.RespTrailers == nil {
			x.RespTrailers = &wasm.Fields{}
		}
		f = x.RespTrailers
	}
	if f == nil {
		return nil
	}
	return f
}

func (h *stepHost) Body(t abi.BufferType) *wasm.Buffer {
	switch t {
	case abi.BufferHTTPRequestBody:
		return &h.x.ReqBody
	case abi.BufferHTTPResponseBody:
		return &h.x.RespBody
	}
	return nil
}

func (h *stepHost) Property(path string) ([]byte, bool) {
	x := h.x
	x.mu.Lock()
	v, ok := x.setProps[path]
	x.mu.Unlock()
	if ok {
		return v, true
	}
	if path == abi.PropResponseCode && x.RespHeaders != nil {
		if s, ok := x.RespHeaders.Get(":status"); ok {
			var code int64
			for _, c := range []byte(s) {
				code = code*10 + int64(c-'0')
			}
			return abi.EncodeInt64(code), true
		}
	}
	if x.props == nil {
		return nil, false
	}
	return x.props.Property(path)
}

// SetProperty stores a request-scoped property that later plugins (and the
// gateway's logs) can read. Paths under "request.", "response.",
// "source.", "destination." and "plugin_" are read-only, and so are the
// gateway's: the stage, deployment, route, operation schema,
// wasmgate.api_key.* (set by the host when api_key_verify succeeds, so
// not forgeable) and wasmgate.authorizer.* (a custom authorizer's answer).
func (h *stepHost) SetProperty(path string, v []byte) abi.Status {
	for _, ro := range []string{"request.", "response.", "source.", "destination.", "plugin_", "wasmgate.stage", "wasmgate.deployment", "wasmgate.route", "wasmgate.api_key", "wasmgate.operation", "wasmgate.authorizer"} {
		if len(path) >= len(ro) && path[:len(ro)] == ro {
			return abi.StatusNotFound
		}
	}
	x := h.x
	x.mu.Lock()
	if x.setProps == nil {
		x.setProps = map[string][]byte{}
	}
	x.setProps[path] = v
	x.mu.Unlock()
	return abi.StatusOK
}

func (h *stepHost) SendLocalResponse(r *wasm.LocalResponse) abi.Status {
	x := h.x
	x.mu.Lock()
	if x.respSent {
		x.mu.Unlock()
		return abi.StatusBadArgument
	}
	if x.local == nil || x.respPhase {
		x.local = r
		if !x.respPhase {
			x.localBy = h.i
		}
	}
	x.mu.Unlock()
	h.signal()
	return abi.StatusOK
}

func (h *stepHost) ContinueStream(t abi.StreamType) abi.Status {
	h.mu.Lock()
	h.continued = true
	h.mu.Unlock()
	h.signal()
	return abi.StatusOK
}

func (h *stepHost) CloseStream(t abi.StreamType) abi.Status {
	h.Failed(fmt.Errorf("plugin reset the %s stream", t))
	return abi.StatusOK
}

func (h *stepHost) Failed(err error) {
	h.mu.Lock()
	if h.failErr == nil {
		h.failErr = err
	}
	h.mu.Unlock()
	h.signal()
}
