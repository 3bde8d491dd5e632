package sdktest

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// stream is the wasm.StreamHost of one Do call.
type stream struct {
	h   *Harness
	req *Request

	// The maps and buffers are used by the guest while it runs (the host
	// serializes guest calls per instance) and by run between callbacks.
	reqHeaders, reqTrailers   *wasm.Fields
	respHeaders, respTrailers *wasm.Fields
	reqBody, respBody         *wasm.Buffer

	mu        sync.Mutex
	props     map[string][]byte
	local     *wasm.LocalResponse
	continued [2]bool // by abi.StreamType (request, response)
	reset     bool
	failed    error
	wake      chan struct{}
	cache     cacheState
}

var _ wasm.StreamHost = (*stream)(nil)

func newStream(h *Harness, req *Request) *stream {
	method, path, authority := req.Method, req.Path, req.Authority
	if method == "" {
		method = "GET"
	}
	if path == "" {
		path = "/"
	}
	if authority == "" {
		authority = "example.com"
	}
	pairs := make([][2]string, 0, 4+len(req.Headers))
	pairs = append(pairs, [2]string{":method", method}, [2]string{":path", path},
		[2]string{":authority", authority}, [2]string{":scheme", "http"})
	pairs = append(pairs, req.Headers...)
	s := &stream{
		h:          h,
		req:        req,
		reqHeaders: wasm.NewFields(pairs),
		reqBody:    &wasm.Buffer{B: append([]byte(nil), req.Body...)},
		props:      map[string][]byte{},
		wake:       make(chan struct{}, 1),
	}
	if len(req.Trailers) > 0 {
		s.reqTrailers = wasm.NewFields(req.Trailers)
	}
	return s
}

// Headers implements wasm.StreamHost.
func (s *stream) Headers(t abi.MapType) wasm.HeaderMap {
	var f *wasm.Fields
	switch t {
	case abi.MapHTTPRequestHeaders:
		f = s.reqHeaders
	case abi.MapHTTPRequestTrailers:
		f = s.reqTrailers
	case abi.MapHTTPResponseHeaders:
		f = s.respHeaders
	case abi.MapHTTPResponseTrailers:
		f = s.respTrailers
	}
	if f == nil {
		return nil // a nil *Fields in the interface would not compare to nil
	}
	return f
}

// Body implements wasm.StreamHost.
func (s *stream) Body(t abi.BufferType) *wasm.Buffer {
	switch t {
	case abi.BufferHTTPRequestBody:
		return s.reqBody
	case abi.BufferHTTPResponseBody:
		return s.respBody
	}
	return nil
}

// Property implements wasm.StreamHost.
func (s *stream) Property(path string) ([]byte, bool) {
	s.mu.Lock()
	v, ok := s.props[path]
	s.mu.Unlock()
	if ok {
		return v, true
	}
	if v, ok := s.h.opts.Properties[path]; ok {
		return []byte(v), true
	}
	get := func(k string) string { v, _ := s.reqHeaders.Get(k); return v }
	switch path {
	case abi.PropRequestPath:
		return []byte(get(":path")), true
	case abi.PropRequestURLPath:
		p, _, _ := strings.Cut(get(":path"), "?")
		return []byte(p), true
	case abi.PropRequestQuery:
		_, q, _ := strings.Cut(get(":path"), "?")
		return []byte(q), true
	case abi.PropRequestMethod:
		return []byte(get(":method")), true
	case abi.PropRequestHost:
		return []byte(get(":authority")), true
	case abi.PropRequestScheme:
		return []byte(get(":scheme")), true
	case abi.PropRequestProtocol:
		return []byte("HTTP/1.1"), true
	case abi.PropRequestUA:
		return []byte(get("user-agent")), true
	case abi.PropRequestHeaders:
		return abi.EncodeMap(s.reqHeaders.Pairs), true
	case abi.PropRequestSize:
		return abi.EncodeInt64(int64(len(s.req.Body))), true
	case abi.PropResponseCode:
		if s.respHeaders != nil {
			if v, ok := s.respHeaders.Get(":status"); ok {
				n, _ := strconv.Atoi(v)
				return abi.EncodeInt64(int64(n)), true
			}
		}
	case abi.PropResponseHeaders:
		if s.respHeaders != nil {
			return abi.EncodeMap(s.respHeaders.Pairs), true
		}
	case abi.PropStageVariables, abi.PropRouteParams:
		// The map form: every Options.Properties entry under the prefix.
		var pairs [][2]string
		for k, v := range s.h.opts.Properties {
			if name, ok := strings.CutPrefix(k, path+"."); ok {
				pairs = append(pairs, [2]string{name, v})
			}
		}
		slices.SortFunc(pairs, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
		return abi.EncodeMap(pairs), true
	}
	return nil, false
}

// TakeTokens implements wasm.PolicyHost with Options.Policies.
func (s *stream) TakeTokens(ctx context.Context, key string, rate float64, burst, cost int) (wasm.TokenResult, error) {
	return s.h.opts.Policies.TakeTokens(ctx, key, rate, burst, cost)
}

// UseQuota implements wasm.PolicyHost with Options.Policies.
func (s *stream) UseQuota(ctx context.Context, key string, period wasm.QuotaPeriod, limit, n int64) (wasm.QuotaResult, error) {
	return s.h.opts.Policies.UseQuota(ctx, key, period, limit, n)
}

// VerifyAPIKey implements wasm.APIKeyHost with Options.APIKeys, as the
// gateway does: a verified key's id becomes the wasmgate.api_key.id
// property.
func (s *stream) VerifyAPIKey(_ context.Context, value string) ([]byte, error) {
	keys := s.h.opts.APIKeys
	if keys == nil {
		return nil, wasm.ErrNoAPIKeys
	}
	id, doc, ok := keys.VerifyAPIKey(s.h.opts.Properties[abi.PropStage], value)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok {
		delete(s.props, abi.PropAPIKeyID)
		return nil, wasm.ErrAPIKeyNotFound
	}
	s.props[abi.PropAPIKeyID] = []byte(id)
	return doc, nil
}

// SetProperty implements wasm.StreamHost: every path is writable and
// readable back within the request, except wasmgate.api_key.* (set by
// the host only, as in the gateway: NOT_FOUND).
func (s *stream) SetProperty(path string, value []byte) abi.Status {
	if strings.HasPrefix(path, "wasmgate.api_key") {
		return abi.StatusNotFound
	}
	s.mu.Lock()
	s.props[path] = value
	s.mu.Unlock()
	return abi.StatusOK
}

// SendLocalResponse implements wasm.StreamHost.
func (s *stream) SendLocalResponse(r *wasm.LocalResponse) abi.Status {
	s.mu.Lock()
	s.local = r
	s.mu.Unlock()
	s.signal()
	return abi.StatusOK
}

// ContinueStream implements wasm.StreamHost.
func (s *stream) ContinueStream(t abi.StreamType) abi.Status {
	s.mu.Lock()
	s.continued[t&1] = true
	s.mu.Unlock()
	s.signal()
	return abi.StatusOK
}

// CloseStream implements wasm.StreamHost.
func (s *stream) CloseStream(abi.StreamType) abi.Status {
	s.mu.Lock()
	s.reset = true
	s.mu.Unlock()
	s.signal()
	return abi.StatusOK
}

// Failed implements wasm.StreamHost.
func (s *stream) Failed(err error) {
	s.mu.Lock()
	if s.failed == nil {
		s.failed = err
	}
	s.mu.Unlock()
	s.signal()
}

func (s *stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// outcome of one callback.
type outcome int

const (
	proceed  outcome = iota
	answered         // a local response was sent
	stop             // error or reset: res.Err is set
)

// check handles what a callback returned: errors, local responses and
// PAUSE (waiting for the plugin to resume or answer).
func (s *stream) check(res *Result, phase string, t abi.StreamType, a abi.Action, err error) outcome {
	if err != nil {
		res.Err = err
		return stop
	}
	deadline := time.NewTimer(s.h.opts.Timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		local, cont, reset, failed := s.local, s.continued[t&1], s.reset, s.failed
		s.mu.Unlock()
		switch {
		case failed != nil:
			res.Err = failed
			return stop
		case reset:
			res.Err = errReset
			return stop
		case local != nil:
			return answered
		case a != abi.ActionPause || cont:
			return proceed
		}
		select {
		case <-s.wake:
		case <-deadline.C:
			res.Err = timeoutError(phase, s.h.opts.Timeout)
			return stop
		}
	}
}

// buffering maps PAUSE from a body callback before the end of the stream
// to "keep buffering" (Envoy's StopIterationAndBuffer): the trailers are
// still delivered; only PAUSE at the end of the stream waits to be
// resumed.
func buffering(a abi.Action, endOfStream bool) abi.Action {
	if a == abi.ActionPause && !endOfStream {
		return abi.ActionContinue
	}
	return a
}

func (s *stream) resetContinue(t abi.StreamType) {
	s.mu.Lock()
	s.continued[t&1] = false
	s.mu.Unlock()
}

func (s *stream) run() (res *Result) {
	res = &Result{}
	ctx, cancel := context.WithTimeout(context.Background(), s.h.opts.Timeout)
	defer cancel()
	st, err := s.h.plugin.NewStream(ctx, s)
	if err != nil {
		res.Err = err
		return res
	}
	defer func() {
		if err := st.Close(); err != nil && res.Err == nil {
			res.Err = err
		}
	}()

	hasBody, hasTrailers := len(s.reqBody.B) > 0, s.reqTrailers != nil
	defer s.finishFill(true) // a fill not completed below is given up
	o := s.request(res, st, hasBody, hasTrailers)
	if o == stop {
		return res
	}
	var resp *Response
	if o == answered {
		resp = s.takeLocal(res)
	} else {
		up := s.upstreamRequest()
		res.Upstream = up
		if f := s.h.opts.Upstream; f != nil {
			resp = f(up)
		}
		if resp == nil {
			resp = &Response{Status: 200, Body: []byte("ok")}
		}
		s.snapshotResponse(resp)
	}
	replaced := s.respond(res, st, resp)
	s.finishFill(replaced || res.Err != nil)
	return res
}

// request delivers the request phases.
func (s *stream) request(res *Result, st *wasm.Stream, hasBody, hasTrailers bool) outcome {
	t := abi.StreamHTTPRequest
	s.resetContinue(t)
	a, err := st.OnRequestHeaders(s.reqHeaders.Len(), !hasBody && !hasTrailers)
	if err == nil {
		err = s.resolveLookup()
	}
	if o := s.check(res, "the request headers", t, a, err); o != proceed {
		return o
	}
	if hasBody {
		s.resetContinue(t)
		a, err = st.OnRequestBody(len(s.reqBody.B), !hasTrailers)
		if o := s.check(res, "the request body", t, buffering(a, !hasTrailers), err); o != proceed {
			return o
		}
	}
	if hasTrailers {
		s.resetContinue(t)
		a, err = st.OnRequestTrailers(s.reqTrailers.Len())
		if o := s.check(res, "the request trailers", t, a, err); o != proceed {
			return o
		}
	}
	return proceed
}

// respond delivers the response phases over resp and fills res. It
// reports whether a local response replaced resp.
func (s *stream) respond(res *Result, st *wasm.Stream, resp *Response) bool {
	status := resp.Status
	if status == 0 {
		status = 200
	}
	s.respHeaders = wasm.NewFields(append([][2]string{{":status", strconv.Itoa(status)}}, resp.Headers...))
	s.respBody = &wasm.Buffer{B: append([]byte(nil), resp.Body...)}
	if len(resp.Trailers) > 0 {
		s.respTrailers = wasm.NewFields(resp.Trailers)
	}
	defer func() { s.fill(res) }()

	t := abi.StreamHTTPResponse
	hasBody, hasTrailers := len(s.respBody.B) > 0, s.respTrailers != nil
	s.resetContinue(t)
	a, err := st.OnResponseHeaders(s.respHeaders.Len(), !hasBody && !hasTrailers)
	o := s.check(res, "the response headers", t, a, err)
	if o == proceed && hasBody {
		s.resetContinue(t)
		a, err = st.OnResponseBody(len(s.respBody.B), !hasTrailers)
		o = s.check(res, "the response body", t, buffering(a, !hasTrailers), err)
	}
	if o == proceed && hasTrailers {
		s.resetContinue(t)
		a, err = st.OnResponseTrailers(s.respTrailers.Len())
		o = s.check(res, "the response trailers", t, a, err)
	}
	if o == answered {
		// A local response sent while responding replaces the response.
		r := s.takeLocal(res)
		s.respHeaders = wasm.NewFields(append([][2]string{{":status", strconv.Itoa(r.Status)}}, r.Headers...))
		s.respBody = &wasm.Buffer{B: r.Body}
		s.respTrailers = nil
		return true
	}
	return false
}

// takeLocal consumes the pending local response.
func (s *stream) takeLocal(res *Result) *Response {
	s.mu.Lock()
	l := s.local
	s.local = nil
	s.mu.Unlock()
	res.Local = true
	res.LocalDetails = l.StatusDetails
	return &Response{Status: l.StatusCode, Headers: l.Headers, Body: l.Body}
}

func (s *stream) fill(res *Result) {
	for _, p := range s.respHeaders.Pairs {
		if p[0] == ":status" {
			res.Status, _ = strconv.Atoi(p[1])
			continue
		}
		res.Headers = append(res.Headers, p)
	}
	res.Body = s.respBody.B
	if s.respTrailers != nil {
		res.Trailers = s.respTrailers.Pairs
	}
}

// upstreamRequest is the request as the plugin left it.
func (s *stream) upstreamRequest() *Request {
	up := &Request{Body: append([]byte(nil), s.reqBody.B...)}
	for _, p := range s.reqHeaders.Pairs {
		switch p[0] {
		case ":method":
			up.Method = p[1]
		case ":path":
			up.Path = p[1]
		case ":authority":
			up.Authority = p[1]
		case ":scheme":
		default:
			up.Headers = append(up.Headers, p)
		}
	}
	if s.reqTrailers != nil {
		up.Trailers = append([][2]string(nil), s.reqTrailers.Pairs...)
	}
	return up
}
