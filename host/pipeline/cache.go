package pipeline

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/host/policy/cache"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// The response cache as plugins drive it (wasmgate.cache_lookup,
// cache_store, cache_invalidate; see abi.ExtCacheLookup). A plugin's
// lookup only records the key; the wait a miss may need (for a fetch of
// the same key in progress, or the L2) happens in runThen after the
// callback returned, so no instance is held while a request waits.

// CacheSource gives an exchange the response cache of the stage serving
// its request; nil when the stage has none.
type CacheSource interface {
	ResponseCache() *cache.Cache
}

// Cache statuses of a request (CacheStatus), for logs and metrics.
const (
	CacheHit  = "hit"  // answered from the cache (or from a concurrent fill)
	CacheMiss = "miss" // fetched from the integration
)

// DefaultCacheMaxBody bounds the body of a stored response when
// Exchange.CacheMaxBody is 0 (API Gateway caches responses up to 1 MB).
const DefaultCacheMaxBody = 1 << 20

// cacheState is an exchange's cache bookkeeping, guarded by Exchange.mu.
type cacheState struct {
	resolved bool
	c        *cache.Cache
	looked   bool
	status   string

	// A miss to resolve after the callback of step `step`.
	key  string
	hit  [][2]string
	step int

	// The fill this request leads, the step that looked it up, and what
	// it stores.
	fill     *cache.Fill
	storing  bool
	ttl      time.Duration
	respCode int
	headers  [][2]string
	body     []byte
	haveBody bool
}

// CacheStatus is CacheHit, CacheMiss, or "" when no plugin looked the
// request up.
func (x *Exchange) CacheStatus() string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.cache.status
}

// responseCache resolves the stage's cache once; x.mu must be held.
func (x *Exchange) responseCacheLocked() *cache.Cache {
	if !x.cache.resolved {
		x.cache.resolved = true
		if x.Caches != nil {
			x.cache.c = x.Caches.ResponseCache()
		}
	}
	return x.cache.c
}

// CachedResponse is the local response that replays a cached entry e at
// now: its status, headers, body, an Age header and the plugin's hit
// headers.
func CachedResponse(e *cache.Entry, now time.Time, hit [][2]string) *wasm.LocalResponse {
	h := make([][2]string, 0, len(e.Headers)+len(hit)+1)
	h = append(h, e.Headers...)
	h = append(h, [2]string{"age", strconv.FormatInt(int64(e.Age(now)/time.Second), 10)})
	h = append(h, hit...)
	// A full slice expression: a plugin appending to the body must copy,
	// never write into the shared entry's spare capacity.
	return &wasm.LocalResponse{StatusCode: e.Status, Body: e.Body[:len(e.Body):len(e.Body)], Headers: h, GRPCStatus: -1}
}

// answerFromCacheLocked makes e the response, as a local response of
// step i; x.mu must be held.
func (x *Exchange) answerFromCacheLocked(i int, e *cache.Entry, hit [][2]string) {
	x.cache.status = CacheHit
	if x.local == nil && !x.respSent {
		x.local = CachedResponse(e, x.cache.c.Now(), hit)
		x.localBy = i
	}
}

// CacheLookup implements wasm.CacheHost.
func (h *stepHost) CacheLookup(key string, hit [][2]string) (bool, error) {
	x := h.x
	x.mu.Lock()
	defer x.mu.Unlock()
	c := x.responseCacheLocked()
	if c == nil {
		return false, wasm.ErrNoCache
	}
	if x.cache.looked || x.respPhase {
		return false, fmt.Errorf("%w: one cache_lookup per request, from on_request_headers", wasm.ErrCacheArgument)
	}
	x.cache.looked = true
	if e, ok := c.Peek(key); ok {
		x.answerFromCacheLocked(h.i, e, hit)
		return true, nil
	}
	x.cache.key, x.cache.hit, x.cache.step = key, hit, h.i
	return false, nil
}

// CacheStore implements wasm.CacheHost.
func (h *stepHost) CacheStore(ttl time.Duration) error {
	x := h.x
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cache.fill == nil || x.cache.step != h.i || x.cache.headers == nil {
		return wasm.ErrNotFilling
	}
	x.cache.storing, x.cache.ttl = true, ttl
	return nil
}

// CacheInvalidate implements wasm.CacheHost.
func (h *stepHost) CacheInvalidate(key string) error {
	x := h.x
	x.mu.Lock()
	c := x.responseCacheLocked()
	x.mu.Unlock()
	if c == nil {
		return wasm.ErrNoCache
	}
	c.Delete(key)
	return nil
}

// resolveLookup runs after step i's callback: a lookup that missed in
// memory waits for a fetch in progress or the L2 (answering the request
// from it), or makes this request the one that fetches the key.
func (x *Exchange) resolveLookup(i int) error {
	x.mu.Lock()
	key, hit := x.cache.key, x.cache.hit
	c := x.cache.c
	x.cache.key, x.cache.hit = "", nil
	x.mu.Unlock()
	if key == "" {
		return nil
	}
	e, fill, err := c.Lookup(x.ctx, key)
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case err != nil:
		return &StepError{Plugin: x.chain.steps[i].Plugin.Info().Name, Err: fmt.Errorf("waiting for the cached response: %w", err)}
	case e != nil:
		x.answerFromCacheLocked(i, e, hit)
	default:
		x.cache.status = CacheMiss
		x.cache.fill = fill
	}
	return nil
}

// snapshotHeaders records the response as it reaches the step that leads
// a fill, before that step's on_response_headers; x.mu must not be held.
func (x *Exchange) snapshotHeaders(i int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cache.fill == nil || x.cache.step != i || x.RespHeaders == nil {
		return
	}
	code := 0
	if s, ok := x.RespHeaders.Get(":status"); ok {
		code, _ = strconv.Atoi(s)
	}
	x.cache.respCode, x.cache.headers = code, StoredHeaders(x.RespHeaders.Pairs)
}

// StoredHeaders returns the headers a cache entry keeps of a response:
// lower-cased, without pseudo-headers and without those that belong to
// one response only (Content-Length, Age, X-Request-Id, hop-by-hop).
func StoredHeaders(pairs [][2]string) [][2]string {
	hs := make([][2]string, 0, len(pairs))
	for _, p := range pairs {
		switch k := strings.ToLower(p[0]); k {
		case "content-length", "age", "x-request-id", "transfer-encoding", "connection":
		default:
			if !strings.HasPrefix(k, ":") {
				hs = append(hs, [2]string{k, p[1]})
			}
		}
	}
	return hs
}

// snapshotBody records the buffered response body as it reaches the step
// that leads a fill, before its on_response_body.
func (x *Exchange) snapshotBody(i int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cache.fill == nil || x.cache.step != i || !x.cache.storing {
		return
	}
	x.cache.body = append([]byte(nil), x.RespBody.B...)
	x.cache.haveBody = true
}

// afterResponseHeaders abandons the fill when its plugin did not ask to
// store the response: the next waiting request fetches the key at once.
func (x *Exchange) afterResponseHeaders() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cache.fill != nil && !x.cache.storing {
		x.cache.fill.Abandon()
		x.cache.fill = nil
	}
}

// cacheMaxBody is CacheMaxBody or its default.
func (x *Exchange) cacheMaxBody() int64 {
	if x.CacheMaxBody > 0 {
		return x.CacheMaxBody
	}
	return DefaultCacheMaxBody
}

// CacheWantsBody reports whether the response must be stored once its
// body has reached the client, and the most body bytes it may have;
// the gateway then copies the body it streams (CacheComplete) or gives up
// (CacheAbandon).
func (x *Exchange) CacheWantsBody() (bool, int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.cache.fill != nil && x.cache.storing, x.cacheMaxBody()
}

// CacheComplete stores the response of the fill this request leads, with
// body when the body was not buffered for the plugins (streamed), and
// wakes the requests waiting for it.
func (x *Exchange) CacheComplete(body []byte) {
	x.mu.Lock()
	defer x.mu.Unlock()
	cs := &x.cache
	if cs.fill == nil {
		return
	}
	if !cs.storing || cs.respCode < 100 {
		cs.fill.Abandon()
		cs.fill = nil
		return
	}
	if cs.haveBody {
		body = cs.body
	}
	if int64(len(body)) > x.cacheMaxBody() {
		cs.fill.Abandon()
	} else {
		cs.fill.Done(&cache.Entry{Status: cs.respCode, Headers: cs.headers, Body: body}, cs.ttl)
	}
	cs.fill = nil
}

// CacheAbandon gives up the fill this request leads (the response failed,
// was replaced, or is too large to store).
func (x *Exchange) CacheAbandon() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cache.fill != nil {
		x.cache.fill.Abandon()
		x.cache.fill = nil
	}
}
