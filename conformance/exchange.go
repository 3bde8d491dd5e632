package conformance

import (
	"strings"
	"sync"

	"github.com/wasmgate/wasmgate/abi"
)

// Fields is an ordered header or trailer map with case-insensitive keys,
// stored lower-cased. Its method set is the host's header map interface
// (Len, Get, Range, Add, Set, Del, Reset), so an adapter can hand it to the
// host as is.
type Fields struct {
	Pairs [][2]string
}

// NewFields returns Fields holding a copy of pairs with lower-cased keys.
func NewFields(pairs ...[2]string) *Fields {
	f := &Fields{Pairs: make([][2]string, 0, len(pairs))}
	for _, p := range pairs {
		f.Add(p[0], p[1])
	}
	return f
}

// Len returns the number of pairs.
func (f *Fields) Len() int { return len(f.Pairs) }

// Get returns the first value of key.
func (f *Fields) Get(key string) (string, bool) {
	for _, p := range f.Pairs {
		if strings.EqualFold(p[0], key) {
			return p[1], true
		}
	}
	return "", false
}

// Values returns every value of key, in order.
func (f *Fields) Values(key string) []string {
	var vs []string
	for _, p := range f.Pairs {
		if strings.EqualFold(p[0], key) {
			vs = append(vs, p[1])
		}
	}
	return vs
}

// Range calls fn for each pair in order until fn returns false.
func (f *Fields) Range(fn func(key, value string) bool) {
	for _, p := range f.Pairs {
		if !fn(p[0], p[1]) {
			return
		}
	}
}

// Add appends a pair.
func (f *Fields) Add(key, value string) {
	f.Pairs = append(f.Pairs, [2]string{strings.ToLower(key), value})
}

// Set replaces every value of key with value, in the position of the first.
func (f *Fields) Set(key, value string) {
	for i, p := range f.Pairs {
		if strings.EqualFold(p[0], key) {
			f.Pairs[i][1] = value
			f.del(key, i+1)
			return
		}
	}
	f.Add(key, value)
}

// Del removes every value of key.
func (f *Fields) Del(key string) { f.del(key, 0) }

func (f *Fields) del(key string, from int) {
	out := f.Pairs[:from]
	for _, p := range f.Pairs[from:] {
		if !strings.EqualFold(p[0], key) {
			out = append(out, p)
		}
	}
	f.Pairs = out
}

// Reset replaces the whole map.
func (f *Fields) Reset(pairs [][2]string) {
	f.Pairs = f.Pairs[:0]
	for _, p := range pairs {
		f.Add(p[0], p[1])
	}
}

func (f *Fields) clone() *Fields {
	if f == nil {
		return nil
	}
	return &Fields{Pairs: append([][2]string(nil), f.Pairs...)}
}

// Buffer is a body buffer. It has the host's buffer layout (one field B),
// so an adapter can convert a *Buffer to the host's type.
type Buffer struct {
	B []byte
}

// LocalResponse is what the plugin sent with proxy_send_local_response.
type LocalResponse struct {
	StatusCode    int
	StatusDetails string
	Body          []byte
	Headers       [][2]string
	GRPCStatus    int32
}

// WritableProperty is the one property path (dotted) a plugin may set.
const WritableProperty = "conformance.writable"

// Exchange is the HTTP request and response one stream sees, the suite's
// implementation of the host's per-stream interface. Parts become visible to
// the plugin as the exchange arrives at their phase (see Arrive): before
// that, Headers and Body return nil, which the host must report as
// BAD_ARGUMENT (maps) and NOT_FOUND (buffers).
//
// The exported fields are the exchange's state; tests set them up before
// the stream and read them afterwards.
type Exchange struct {
	RequestHeaders, RequestTrailers   *Fields
	ResponseHeaders, ResponseTrailers *Fields
	RequestBody, ResponseBody         *Buffer
	Properties                        map[string][]byte

	mu             sync.Mutex
	arrived        Phase
	LocalResponses []LocalResponse
	Continued      []abi.StreamType
	Closed         []abi.StreamType
	Failures       []error // reported by the target outside the stream's own calls
}

// Fixture values of NewExchange.
var (
	FixtureRequestHeaders = [][2]string{
		{":method", "GET"}, {":path", "/pets/1?x=1"}, {":authority", "example.com"},
		{":scheme", "http"}, {"user-agent", "conformance/1"}, {"x-test", "a"},
		{"x-multi", "one"}, {"x-multi", "two"},
	}
	FixtureRequestBody      = "hello request"
	FixtureRequestTrailers  = [][2]string{{"x-req-trailer", "rt"}}
	FixtureResponseHeaders  = [][2]string{{":status", "200"}, {"content-type", "text/plain"}, {"set-cookie", "a=1"}, {"set-cookie", "b=2"}}
	FixtureResponseBody     = "hello response"
	FixtureResponseTrailers = [][2]string{{"x-resp-trailer", "st"}}
	FixturePath             = "/pets/1?x=1"
)

// NewExchange returns the suite's standard request and response.
func NewExchange() *Exchange {
	return &Exchange{
		RequestHeaders:   NewFields(FixtureRequestHeaders...),
		RequestBody:      &Buffer{B: []byte(FixtureRequestBody)},
		RequestTrailers:  NewFields(FixtureRequestTrailers...),
		ResponseHeaders:  NewFields(FixtureResponseHeaders...),
		ResponseBody:     &Buffer{B: []byte(FixtureResponseBody)},
		ResponseTrailers: NewFields(FixtureResponseTrailers...),
		Properties: map[string][]byte{
			abi.PropRequestPath:   []byte(FixturePath),
			abi.PropRequestMethod: []byte("GET"),
			abi.PropRequestHost:   []byte("example.com"),
			abi.PropRequestID:     []byte("req-1"),
			WritableProperty:      []byte("old"),
		},
	}
}

// Arrive makes the parts of phase p (and of every earlier stream phase)
// visible to the plugin. The runner calls it before each stream callback.
func (x *Exchange) Arrive(p Phase) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if p > x.arrived {
		x.arrived = p
	}
}

func (x *Exchange) reached(p Phase) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.arrived >= p
}

// Headers returns the map of type t, or nil when it does not exist (yet).
func (x *Exchange) Headers(t abi.MapType) *Fields {
	switch t {
	case abi.MapHTTPRequestHeaders:
		if x.reached(PhaseRequestHeaders) {
			return x.RequestHeaders
		}
	case abi.MapHTTPRequestTrailers:
		if x.reached(PhaseRequestTrailers) {
			return x.RequestTrailers
		}
	case abi.MapHTTPResponseHeaders:
		if x.reached(PhaseResponseHeaders) {
			return x.ResponseHeaders
		}
	case abi.MapHTTPResponseTrailers:
		if x.reached(PhaseResponseTrailers) {
			return x.ResponseTrailers
		}
	}
	return nil
}

// Body returns the body buffer of type t, or nil when it does not exist
// (yet).
func (x *Exchange) Body(t abi.BufferType) *Buffer {
	switch t {
	case abi.BufferHTTPRequestBody:
		if x.reached(PhaseRequestBody) {
			return x.RequestBody
		}
	case abi.BufferHTTPResponseBody:
		if x.reached(PhaseResponseBody) {
			return x.ResponseBody
		}
	}
	return nil
}

// Property returns a property by its dotted path.
func (x *Exchange) Property(path string) ([]byte, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	v, ok := x.Properties[path]
	return v, ok
}

// SetProperty sets WritableProperty; every other path is NOT_FOUND.
func (x *Exchange) SetProperty(path string, value []byte) abi.Status {
	if path != WritableProperty {
		return abi.StatusNotFound
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.Properties[path] = append([]byte(nil), value...)
	return abi.StatusOK
}

// SendLocalResponse records a local response.
func (x *Exchange) SendLocalResponse(r LocalResponse) abi.Status {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.LocalResponses = append(x.LocalResponses, r)
	return abi.StatusOK
}

// ContinueStream records a continue of the HTTP request or response;
// other stream types are BAD_ARGUMENT.
func (x *Exchange) ContinueStream(t abi.StreamType) abi.Status {
	if t != abi.StreamHTTPRequest && t != abi.StreamHTTPResponse {
		return abi.StatusBadArgument
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.Continued = append(x.Continued, t)
	return abi.StatusOK
}

// CloseStream records a close of the HTTP request or response; other
// stream types are BAD_ARGUMENT.
func (x *Exchange) CloseStream(t abi.StreamType) abi.Status {
	if t != abi.StreamHTTPRequest && t != abi.StreamHTTPResponse {
		return abi.StatusBadArgument
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.Closed = append(x.Closed, t)
	return abi.StatusOK
}

// Failed records that the target gave up on the stream outside one of its
// own calls (its instance was discarded).
func (x *Exchange) Failed(err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.Failures = append(x.Failures, err)
}
