package wasm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/wasmgate/wasmgate/abi"
)

// Errors wrapped by *CallError.
var (
	// ErrDeadline: the guest call ran past PluginConfig.CallTimeout.
	ErrDeadline = errors.New("deadline exceeded")
	// ErrTrap: the guest trapped (unreachable, out-of-bounds access, stack
	// overflow, explicit abort, proc_exit...).
	ErrTrap = errors.New("trap")
	// ErrMemoryLimit: the guest needed more memory than the plugin's limit.
	ErrMemoryLimit = errors.New("memory limit exceeded")
	// ErrInstanceLost: the instance holding this stream's context was
	// discarded because another call on it failed.
	ErrInstanceLost = errors.New("instance lost")
	// ErrPluginRejected: on_vm_start or on_configure returned false, or a
	// required export is missing or has the wrong signature.
	ErrPluginRejected = errors.New("plugin rejected")
	// ErrClosed: the plugin or engine was closed.
	ErrClosed = errors.New("closed")
)

// CallError reports a failed guest call.
type CallError struct {
	Plugin   string // plugin name as configured, e.g. "rate-limit@1.2.0"
	Digest   string // "sha256:…"
	Callback string // export name, e.g. "proxy_on_request_headers"
	Kind     error  // one of the Err* sentinels
	Detail   string // guest-side detail: trap message, panic text
	// Start is set when the failure happened while starting an instance
	// (_initialize, on_vm_start, on_configure): the error then also
	// matches ErrPluginRejected.
	Start bool
}

func (e *CallError) Error() string {
	d := e.Digest
	if len(d) > 19 {
		d = d[:19] + "…"
	}
	s := fmt.Sprintf("plugin[%s@%s] %s: %v", e.Plugin, d, e.Callback, e.Kind)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the Err* sentinel, and ErrPluginRejected for start-up
// failures.
func (e *CallError) Unwrap() []error {
	if e.Start && e.Kind != ErrPluginRejected {
		return []error{e.Kind, ErrPluginRejected}
	}
	return []error{e.Kind}
}

// EngineConfig configures an Engine. The zero value is usable.
type EngineConfig struct {
	// CacheDir, when set, keeps compiled machine code on disk so a restart
	// does not recompile plugins. It is created if missing.
	CacheDir string
	// ModuleIdleGrace is how long a compiled module that no plugin uses
	// stays in memory (default 10 minutes); see Engine.Compile.
	ModuleIdleGrace time.Duration
	// Log receives the plugins' proxy_log lines and their stdout/stderr
	// (info/error). Nil discards them.
	Log LogFunc
	// HTTPCaller performs proxy_http_call requests. Nil makes
	// proxy_http_call return BAD_ARGUMENT (no upstreams known).
	HTTPCaller HTTPCaller
	// LogLevel is what proxy_get_log_level reports; lines below it are
	// dropped before reaching Log. The zero value is LogTrace (everything).
	LogLevel abi.LogLevel
	// SharedDataLimit caps the total bytes of keys and values held in
	// shared data (default 64 MiB); a set beyond it fails with
	// INTERNAL_FAILURE.
	SharedDataLimit int
	// QueueLimit caps the items waiting in one shared queue (default
	// 10,000); an enqueue beyond it fails with INTERNAL_FAILURE.
	QueueLimit int
	// SharedStore, when set, holds shared data (proxy_get_shared_data,
	// proxy_set_shared_data) instead of the engine's memory: Redis in
	// cluster mode (host/policy.NewRedisShared), so every gateway of a
	// cluster sees one store. SharedDataLimit does not apply then.
	SharedStore SharedStore
}

// SharedStore is an external shared-data store with Proxy-Wasm's
// compare-and-swap semantics. Get returns found=false for a missing key.
// Set stores value when cas is 0 or equals the key's current CAS token
// (casMatched=false otherwise, a missing key included when cas != 0).
// Tokens are non-zero u32 values that change on every write. An error
// (the store is unreachable, the value is too large) is INTERNAL_FAILURE
// for the plugin. Calls block the guest: keep them short.
type SharedStore interface {
	GetShared(ctx context.Context, key string) (value []byte, cas uint32, found bool, err error)
	SetShared(ctx context.Context, key string, value []byte, cas uint32) (casMatched bool, err error)
}

// LogFunc receives one plugin log line.
type LogFunc func(p *PluginInfo, level abi.LogLevel, msg string)

// PluginInfo identifies a plugin in logs and errors.
type PluginInfo struct {
	Name   string
	Digest string
	RootID string
	VMID   string
}

// HTTPCaller dispatches a proxy_http_call. Upstream is the name the plugin
// passed (a cluster name or a URL, as the gateway defines); headers include
// the :method, :path and :authority pseudo-headers. Call must honour
// timeout and ctx.
type HTTPCaller interface {
	HTTPCall(ctx context.Context, upstream string, headers [][2]string, body []byte, trailers [][2]string, timeout time.Duration) (*HTTPCallResponse, error)
}

// HTTPCallerFunc adapts a function to HTTPCaller.
type HTTPCallerFunc func(ctx context.Context, upstream string, headers [][2]string, body []byte, trailers [][2]string, timeout time.Duration) (*HTTPCallResponse, error)

// HTTPCall implements HTTPCaller.
func (f HTTPCallerFunc) HTTPCall(ctx context.Context, upstream string, headers [][2]string, body []byte, trailers [][2]string, timeout time.Duration) (*HTTPCallResponse, error) {
	return f(ctx, upstream, headers, body, trailers, timeout)
}

// HTTPCallResponse is the answer to a proxy_http_call. Headers include the
// ":status" pseudo-header.
type HTTPCallResponse struct {
	Headers  [][2]string
	Body     []byte
	Trailers [][2]string
}

// PluginConfig configures a plugin and its instance pool. Zero values take
// the defaults documented on each field.
type PluginConfig struct {
	Name     string // for logs, errors and the plugin_name property
	RootID   string // plugin_root_id property
	VMID     string // plugin_vm_id property; also scopes shared queues
	VMConfig []byte // proxy_on_vm_start configuration
	Config   []byte // proxy_on_configure configuration (JSON in wasmgate)

	// PoolMin instances are created and configured before NewPlugin
	// returns (default: GOMAXPROCS, at least 1). PoolMax caps the pool
	// (default: 4 × GOMAXPROCS, at least PoolMin); it grows, in the
	// background, when a call waits more than a millisecond for its
	// instance.
	PoolMin, PoolMax int
	// CallTimeout bounds each guest call (default 100ms). StartTimeout
	// bounds _initialize, proxy_on_vm_start and proxy_on_configure
	// (default 5s).
	CallTimeout, StartTimeout time.Duration
	// MemoryLimit caps each instance's linear memory in bytes (default
	// 128 MiB; rounded up to 64 KiB pages).
	MemoryLimit uint64
	// RecycleAfterCalls retires an instance after this many calls
	// (default 1,000,000); RecycleAfterGrowth retires it once its memory
	// has grown this many bytes past its size after configuration (default
	// 32 MiB). A retired instance takes no new streams and closes when its
	// last stream ends.
	RecycleAfterCalls  uint64
	RecycleAfterGrowth uint64
	// YieldEvery calls the guest's wasmgate_yield export (when present)
	// after this many calls on an instance (default 64).
	YieldEvery int
	// Env are the WASI environment variables the plugin sees. The host's
	// own environment is never exposed.
	Env map[string]string
}

// StreamHost is what the gateway provides for one HTTP stream. Each method
// backs one family of host calls. Methods are called while the guest is
// executing, from the goroutine that made the Stream call (or, for calls
// made from on_http_call_response, on_tick or on_queue_ready after
// proxy_set_effective_context, from the goroutine delivering that
// callback): implementations must be safe for that.
type StreamHost interface {
	// Headers returns the header or trailer map of the given type
	// (request/response headers/trailers), or nil when it does not exist
	// (yet). The returned map may be written while its phase allows it.
	Headers(t abi.MapType) HeaderMap
	// Body returns the request or response body buffer (the data
	// received so far), or nil when there is none.
	Body(t abi.BufferType) *Buffer
	// Property returns the value of a property by its dotted path, e.g.
	// "request.path" or "wasmgate.route.params.id".
	Property(path string) ([]byte, bool)
	// SetProperty sets a property; NOT_FOUND for unknown or read-only paths.
	SetProperty(path string, value []byte) abi.Status
	// SendLocalResponse answers the request from the plugin instead of
	// (or replacing) the upstream response.
	SendLocalResponse(r *LocalResponse) abi.Status
	// ContinueStream resumes a request or response the plugin paused.
	ContinueStream(t abi.StreamType) abi.Status
	// CloseStream resets the request or response.
	CloseStream(t abi.StreamType) abi.Status
	// Failed tells the gateway that the stream can no longer make progress
	// because its instance was discarded outside one of the stream's own
	// calls (for example a trap in on_http_call_response or on_tick while
	// the stream was paused). err is a *CallError.
	Failed(err error)
}

// UpstreamChecker may be implemented by an HTTPCaller so proxy_http_call
// can answer BAD_ARGUMENT synchronously for an unknown upstream.
type UpstreamChecker interface {
	HasUpstream(name string) bool
}

// LocalResponse is a response produced by proxy_send_local_response.
type LocalResponse struct {
	StatusCode    int
	StatusDetails string
	Body          []byte
	Headers       [][2]string
	GRPCStatus    int32 // -1 when not a gRPC response
}

// Buffer is a body buffer the guest can read and rewrite.
type Buffer struct {
	B []byte
}

// Bytes returns the buffer's contents.
func (b *Buffer) Bytes() []byte { return b.B }

// Replace replaces size bytes at start with data, per proxy_set_buffer_bytes:
// start=0,size=0 prepends; start>=len appends; otherwise an inject/replace.
func (b *Buffer) Replace(start, size int, data []byte) {
	if start >= len(b.B) {
		b.B = append(b.B, data...)
		return
	}
	end := start + size
	if size < 0 || end > len(b.B) || end < start {
		end = len(b.B)
	}
	out := make([]byte, 0, len(b.B)-(end-start)+len(data))
	out = append(out, b.B[:start]...)
	out = append(out, data...)
	out = append(out, b.B[end:]...)
	b.B = out
}

// HeaderMap is an ordered header (or trailer) map with case-insensitive
// keys. Keys passed to Get and Del may alias guest memory: implementations
// must not retain them.
type HeaderMap interface {
	// Len returns the number of pairs (a multi-value header counts once
	// per value).
	Len() int
	// Get returns the first value of key.
	Get(key string) (string, bool)
	// Range calls fn for each pair in order until fn returns false.
	Range(fn func(key, value string) bool)
	// Add appends a pair.
	Add(key, value string)
	// Set replaces all values of key with one value (adds it if missing).
	Set(key, value string)
	// Del removes all values of key.
	Del(key string)
	// Reset replaces the whole map.
	Reset(pairs [][2]string)
}

// Fields is a simple HeaderMap backed by a slice, with keys stored in
// lower case (HTTP/2 style). It is what tests and http-call responses use.
type Fields struct {
	Pairs [][2]string
	// buf holds the bytes of names and values plugins wrote (intern): one
	// allocation for several writes instead of one each. Bytes once
	// handed out are never written again; a Fields is therefore never
	// copied by value once written to (the copies would share buf).
	buf []byte
}

// internChunk is the size of a chunk of Fields.buf.
const internChunk = 256

// intern returns copies of k (in lower case) and v as strings, from f's
// own buffer.
func (f *Fields) intern(k, v []byte) (key, value string) {
	n := len(k) + len(v)
	if n == 0 {
		return "", ""
	}
	if cap(f.buf)-len(f.buf) < n {
		f.buf = make([]byte, 0, max(internChunk, n))
	}
	start := len(f.buf)
	f.buf = f.buf[:start+n]
	b := f.buf[start:]
	for i, c := range k {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	copy(b[len(k):], v)
	s := unsafe.String(&b[0], n)
	return s[:len(k)], s[len(k):]
}

// NewFields returns a Fields holding a copy of pairs with lower-cased keys.
func NewFields(pairs [][2]string) *Fields {
	f := &Fields{Pairs: make([][2]string, 0, len(pairs))}
	for _, p := range pairs {
		f.Pairs = append(f.Pairs, [2]string{strings.ToLower(p[0]), p[1]})
	}
	return f
}

// Len implements HeaderMap.
func (f *Fields) Len() int { return len(f.Pairs) }

// sameKey compares header names. Names are stored in lower case and
// those a plugin passes are lowered when read (readKV), so the equal
// names match at a memory compare; the length check, inlined, turns most
// pairs away without a call (a request through 4 plugins compared 2,000
// instructions' worth of names).
func sameKey(a, b string) bool { return len(a) == len(b) && (a == b || equalFold(a, b)) }

// equalFold is strings.EqualFold for names of equal length, without its
// Unicode machinery for the ASCII bytes that make up header names.
func equalFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		c, d := a[i], b[i]
		if c == d {
			continue
		}
		if c|d >= 0x80 {
			return strings.EqualFold(a, b)
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// Get implements HeaderMap.
func (f *Fields) Get(key string) (string, bool) {
	for _, p := range f.Pairs {
		if sameKey(p[0], key) {
			return p[1], true
		}
	}
	return "", false
}

// Range implements HeaderMap.
func (f *Fields) Range(fn func(key, value string) bool) {
	for _, p := range f.Pairs {
		if !fn(p[0], p[1]) {
			return
		}
	}
}

// Add implements HeaderMap.
func (f *Fields) Add(key, value string) {
	f.Pairs = append(f.Pairs, [2]string{strings.ToLower(key), value})
}

// Set implements HeaderMap.
func (f *Fields) Set(key, value string) {
	for i, p := range f.Pairs {
		if sameKey(p[0], key) {
			f.Pairs[i][1] = value
			f.delFrom(key, i+1)
			return
		}
	}
	f.Add(key, value)
}

// Del implements HeaderMap.
func (f *Fields) Del(key string) { f.delFrom(key, 0) }

func (f *Fields) delFrom(key string, from int) {
	out := f.Pairs[:from]
	for _, p := range f.Pairs[from:] {
		if !sameKey(p[0], key) {
			out = append(out, p)
		}
	}
	f.Pairs = out
}

// Reset implements HeaderMap.
func (f *Fields) Reset(pairs [][2]string) {
	f.Pairs = f.Pairs[:0]
	for _, p := range pairs {
		f.Add(p[0], p[1])
	}
}

// PolicyHost may be implemented by a StreamHost to back the wasmgate
// policy calls (token_bucket_take, quota_use) of its stream; without it
// they answer UNIMPLEMENTED. Calls block the guest while they run, so an
// implementation keeps them short (in memory, or one Redis round trip).
type PolicyHost interface {
	TakeTokens(ctx context.Context, key string, ratePerSec float64, burst, cost int) (TokenResult, error)
	UseQuota(ctx context.Context, key string, period QuotaPeriod, limit, n int64) (QuotaResult, error)
}

// TokenResult is the outcome of a token bucket take.
type TokenResult struct {
	Allowed    bool
	Remaining  int
	RetryAfter time.Duration // when denied
	ResetAfter time.Duration // until the bucket is full
}

// QuotaPeriod is the period of a quota counter.
type QuotaPeriod string

// Quota periods (UTC calendar periods; weeks start on Monday).
const (
	QuotaDay   QuotaPeriod = "day"
	QuotaWeek  QuotaPeriod = "week"
	QuotaMonth QuotaPeriod = "month"
)

// QuotaResult is the outcome of a quota use.
type QuotaResult struct {
	Allowed   bool
	Remaining int64
	ResetAt   time.Time
}

// Errors a PolicyHost returns besides store failures (INTERNAL_FAILURE for
// the guest): ErrPolicyArgument for arguments out of range
// (BAD_ARGUMENT), ErrNoPolicy when the gateway has none configured
// (UNIMPLEMENTED).
var (
	ErrPolicyArgument = errors.New("policy argument out of range")
	ErrNoPolicy       = errors.New("no policy store configured")
)

// CacheHost may be implemented by a StreamHost to back the wasmgate
// response cache calls (cache_lookup, cache_store, cache_invalidate) of
// its stream; without it they answer UNIMPLEMENTED. The calls only record
// what the plugin asked: the waiting a lookup may need happens after the
// callback returns, without holding the instance.
type CacheHost interface {
	// CacheLookup reports a hit (the host answers the request with the
	// stored response plus hitHeaders), or a miss to be resolved after
	// the callback. Errors: ErrNoCache, ErrCacheArgument.
	CacheLookup(key string, hitHeaders [][2]string) (hit bool, err error)
	// CacheStore asks for the response of the request whose lookup
	// missed to be stored for ttl. Errors: ErrNotFilling.
	CacheStore(ttl time.Duration) error
	// CacheInvalidate deletes key. Errors: ErrNoCache.
	CacheInvalidate(key string) error
}

// Errors of a CacheHost: ErrNoCache when the stage's cache is off
// (UNIMPLEMENTED for the guest), ErrCacheArgument for a bad or repeated
// lookup (BAD_ARGUMENT), ErrNotFilling when cache_store is called by a
// request that is not fetching a key (NOT_FOUND).
var (
	ErrNoCache       = errors.New("the stage has no response cache")
	ErrCacheArgument = errors.New("bad cache call")
	ErrNotFilling    = errors.New("this request is not fetching a cache key")
)
