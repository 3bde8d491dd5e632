package wasm

import (
	"context"

	"github.com/wasmgate/wasmgate/abi"
)

// Stream is one HTTP request/response pair in a plugin. It is bound to one
// instance for its whole life (its context lives in that instance's
// memory). Stream methods must be called from one goroutine at a time, in
// request order; they block only while the guest runs.
type Stream struct {
	p      *Plugin
	in     *instance
	host   StreamHost
	id     uint32
	phase  phase // last callback delivered
	closed bool
	// pendingDone is set when on_done returned false: the plugin will call
	// proxy_done later, and on_log/on_delete follow.
	pendingDone bool
	// called is set once the stream got a callback (on_log included): a
	// plugin with lazy contexts has created its context then.
	called bool
	stack  [3]uint64
}

// NewStream binds a new stream to an instance and creates its context
// (proxy_on_context_create; a plugin declaring abi.HookLazyContexts
// creates it at its first callback instead). Close must be called when the
// request ends.
func (p *Plugin) NewStream(ctx context.Context, host StreamHost) (*Stream, error) {
	s := new(Stream)
	if err := p.NewStreamAt(ctx, host, s); err != nil {
		return nil, err
	}
	return s, nil
}

// NewStreamAt is NewStream into memory the caller provides: s must be a
// zero Stream that outlives the stream (a field of the caller's
// per-request state, which saves an allocation per plugin and request).
func (p *Plugin) NewStreamAt(ctx context.Context, host StreamHost, s *Stream) error {
	for attempt := 0; ; attempt++ {
		in, err := p.acquire(ctx)
		if err != nil {
			return err
		}
		in.lock()
		if in.dead {
			// Lost a race with a failure on that instance: pick another.
			in.bound.Add(-1)
			in.mu.Unlock()
			if attempt < 3 {
				continue
			}
			return p.callError(abi.ExportOnContextCreate, ErrInstanceLost, "")
		}
		*s = Stream{p: p, in: in, host: host, id: in.nextID}
		in.nextID++
		if in.nextID == 0 {
			in.nextID = rootContextID + 1
		}
		in.streams.put(s)
		if fn := in.fns[cbContextCreate]; fn != nil && p.hooks.Load()&abi.HookLazyContexts == 0 {
			in.enter(s, phContextCreate)
			s.stack[0], s.stack[1] = uint64(s.id), rootContextID
			err = in.callTop(fn, abi.ExportOnContextCreate, s.stack[:2], p.cfg.CallTimeout)
			in.leave()
		}
		if err != nil {
			in.streams.delete(s.id)
			in.bound.Add(-1)
			in.mu.Unlock()
			*s = Stream{}
			return err
		}
		s.phase = phContextCreate
		in.mu.Unlock()
		return nil
	}
}

// ID returns the stream's context id inside its instance.
func (s *Stream) ID() uint32 { return s.id }

// OnRequestHeaders delivers proxy_on_request_headers.
func (s *Stream) OnRequestHeaders(numHeaders int, endOfStream bool) (abi.Action, error) {
	return s.action(cbRequestHeaders, phRequestHeaders, uint64(numHeaders), endOfStream)
}

// OnRequestBody delivers proxy_on_request_body; bodySize is the size of the
// data available in the request body buffer.
func (s *Stream) OnRequestBody(bodySize int, endOfStream bool) (abi.Action, error) {
	return s.action(cbRequestBody, phRequestBody, uint64(bodySize), endOfStream)
}

// OnRequestTrailers delivers proxy_on_request_trailers.
func (s *Stream) OnRequestTrailers(numTrailers int) (abi.Action, error) {
	return s.action2(cbRequestTrailers, phRequestTrailers, uint64(numTrailers))
}

// OnResponseHeaders delivers proxy_on_response_headers.
func (s *Stream) OnResponseHeaders(numHeaders int, endOfStream bool) (abi.Action, error) {
	return s.action(cbResponseHeaders, phResponseHeaders, uint64(numHeaders), endOfStream)
}

// OnResponseBody delivers proxy_on_response_body.
func (s *Stream) OnResponseBody(bodySize int, endOfStream bool) (abi.Action, error) {
	return s.action(cbResponseBody, phResponseBody, uint64(bodySize), endOfStream)
}

// OnResponseTrailers delivers proxy_on_response_trailers.
func (s *Stream) OnResponseTrailers(numTrailers int) (abi.Action, error) {
	return s.action2(cbResponseTrailers, phResponseTrailers, uint64(numTrailers))
}

// Handles reports whether the plugin handles a callback (see
// Plugin.Handles).
func (s *Stream) Handles(callback string) bool { return s.p.Handles(callback) }

func (s *Stream) action(cb int, ph phase, n uint64, eos bool) (abi.Action, error) {
	var e uint64
	if eos {
		e = 1
	}
	return s.call(cb, ph, 3, n, e)
}

func (s *Stream) action2(cb int, ph phase, n uint64) (abi.Action, error) {
	return s.call(cb, ph, 2, n, 0)
}

func (s *Stream) call(cb int, ph phase, nargs int, a, b uint64) (abi.Action, error) {
	in := s.in
	fn := in.fns[cb]
	s.phase = ph
	if fn == nil || s.closed || (cbHooks[cb] != 0 && s.p.hooks.Load()&cbHooks[cb] == 0) {
		return abi.ActionContinue, nil
	}
	in.lock()
	if in.dead {
		in.mu.Unlock()
		return abi.ActionContinue, s.p.callError(callbackNames[cb], ErrInstanceLost, "")
	}
	in.enter(s, ph)
	s.called = true
	st := s.stack[:nargs]
	st[0], st[1] = uint64(s.id), a
	if nargs == 3 {
		st[2] = b
	}
	err := in.callTop(fn, callbackNames[cb], st, s.p.cfg.CallTimeout)
	in.leave()
	if err == nil {
		in.afterStreamCall()
	}
	in.mu.Unlock()
	if err != nil {
		return abi.ActionContinue, err
	}
	return abi.Action(uint32(st[0])), nil
}

// Close ends the stream: proxy_on_done, then proxy_on_log and
// proxy_on_delete (at once, or after the plugin calls proxy_done when
// on_done returned false; with abi.HookLazyContexts, no on_done, and no
// on_delete for a stream the plugin never saw). It releases the stream's
// hold on its instance.
func (s *Stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	in := s.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.dead {
		in.streams.delete(s.id)
		s.p.unbound(in)
		return nil
	}
	s.phase = phDone
	in.enter(s, phDone)
	var err error
	done := true
	lazy := s.p.hooks.Load()&abi.HookLazyContexts != 0
	if fn := in.fns[cbDone]; fn != nil && !lazy {
		s.stack[0] = uint64(s.id)
		err = in.callTop(fn, abi.ExportOnDone, s.stack[:1], s.p.cfg.CallTimeout)
		done = err != nil || uint32(s.stack[0]) != 0
	}
	if err == nil && !done {
		// The plugin holds the context open; proxy_done finishes it.
		s.pendingDone = true
		in.leave()
		return nil
	}
	if err == nil {
		err = s.finishLocked()
	}
	in.leave()
	in.streams.delete(s.id)
	s.p.unbound(in)
	return err
}

// finishLocked delivers on_log and on_delete. in.mu is held.
func (s *Stream) finishLocked() error {
	in := s.in
	hooks := s.p.hooks.Load()
	for _, cb := range [...]int{cbLog, cbDelete} {
		if cb == cbLog && hooks&abi.HookStreamDone == 0 {
			continue // the plugin declared it has nothing to do then
		}
		if cb == cbDelete && hooks&abi.HookLazyContexts != 0 && !s.called {
			continue // the plugin never created this context
		}
		if cb == cbDelete && in.pushDelete(s.id) {
			continue // the plugin takes it from its delete ring
		}
		if fn := in.fns[cb]; fn != nil {
			s.called = true
			s.stack[0] = uint64(s.id)
			if err := in.callTop(fn, callbackNames[cb], s.stack[:1], s.p.cfg.CallTimeout); err != nil {
				return err
			}
		}
	}
	return nil
}

// Sync waits for any guest call running on the stream's instance to
// return. The gateway calls it after a paused stream is resumed from
// another goroutine (an http-call response, a tick), so the resuming
// callback has finished with the stream's state before the request moves
// on.
func (s *Stream) Sync() {
	s.in.mu.Lock()
	s.in.mu.Unlock() //nolint:staticcheck // an empty critical section is the point
}
