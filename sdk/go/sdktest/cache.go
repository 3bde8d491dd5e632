package sdktest

import (
	"context"
	"fmt"
	"time"

	"github.com/wasmgate/wasmgate/host/pipeline"
	"github.com/wasmgate/wasmgate/host/policy/cache"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// The response cache calls (sdk.CacheLookup, CacheStore,
// CacheInvalidate), over Options.Cache with the gateway's semantics: a hit
// is answered as a local response (stored headers, Age, the hit headers);
// a miss resolved after the request headers callback waits for a
// concurrent Do filling the same key, or fetches; CacheStore from the
// response headers callback stores the upstream response as it reached
// the plugin once the response phases are done.

// cacheState is a stream's cache bookkeeping; guarded by stream.mu.
type cacheState struct {
	looked   bool
	key      string
	hit      [][2]string
	fill     *cache.Fill
	storing  bool
	ttl      time.Duration
	status   int
	headers  [][2]string
	body     []byte
	snapshot bool
}

// CacheLookup implements wasm.CacheHost.
func (s *stream) CacheLookup(key string, hit [][2]string) (bool, error) {
	c := s.h.opts.Cache
	if c == nil || s.h.opts.NoCache {
		return false, wasm.ErrNoCache
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache.looked || s.respHeaders != nil {
		return false, fmt.Errorf("%w: one cache_lookup per request, from on_request_headers", wasm.ErrCacheArgument)
	}
	s.cache.looked = true
	if e, ok := c.Peek(key); ok {
		s.local = pipeline.CachedResponse(e, c.Now(), hit)
		return true, nil
	}
	s.cache.key, s.cache.hit = key, hit
	return false, nil
}

// CacheStore implements wasm.CacheHost.
func (s *stream) CacheStore(ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache.fill == nil || !s.cache.snapshot {
		return wasm.ErrNotFilling
	}
	s.cache.storing, s.cache.ttl = true, ttl
	return nil
}

// CacheInvalidate implements wasm.CacheHost.
func (s *stream) CacheInvalidate(key string) error {
	c := s.h.opts.Cache
	if c == nil || s.h.opts.NoCache {
		return wasm.ErrNoCache
	}
	c.Delete(key)
	return nil
}

// resolveLookup runs after the request headers callback: a miss waits
// for a fill in progress (answering from it) or becomes this request's
// fill.
func (s *stream) resolveLookup() error {
	s.mu.Lock()
	key, hit := s.cache.key, s.cache.hit
	s.cache.key = ""
	s.mu.Unlock()
	if key == "" {
		return nil
	}
	c := s.h.opts.Cache
	ctx, cancel := context.WithTimeout(context.Background(), s.h.opts.Timeout)
	defer cancel()
	e, fill, err := c.Lookup(ctx, key)
	if err != nil {
		return fmt.Errorf("sdktest: waiting for the cached response: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e != nil {
		s.local = pipeline.CachedResponse(e, c.Now(), hit)
	} else {
		s.cache.fill = fill
	}
	return nil
}

// snapshotResponse records the upstream response before the response
// callbacks, when this request fills a key.
func (s *stream) snapshotResponse(r *Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache.fill == nil {
		return
	}
	s.cache.headers = pipeline.StoredHeaders(r.Headers)
	s.cache.status, s.cache.body, s.cache.snapshot = r.Status, append([]byte(nil), r.Body...), true
	if s.cache.status == 0 {
		s.cache.status = 200
	}
}

// finishFill stores the response (when the plugin asked to and it was not
// replaced) or gives the fill up.
func (s *stream) finishFill(replaced bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := &s.cache
	if cs.fill == nil {
		return
	}
	if cs.storing && !replaced {
		cs.fill.Done(&cache.Entry{Status: cs.status, Headers: cs.headers, Body: cs.body}, cs.ttl)
	} else {
		cs.fill.Abandon()
	}
	cs.fill = nil
}
