package wasm

import (
	"context"
	"errors"
	"testing"
	"time"
)

// cacheGuest drives the cache calls from :path's second byte: 'a' looks
// up "k" with the hit header x-hit: yes, 'o' with a key out of bounds,
// 'e' with an empty key, 'm' with a truncated header map. It reports the
// lookup's status as x-st, cache_store's from on_request_headers (wrong
// phase) as x-s2, cache_invalidate("k")'s as x-s3 (request headers), and
// cache_store(1500 ms)'s from on_response_headers as x-st (response
// headers); each one byte, '0' + status.
const cacheGuest = `(module
  (import "wasmgate" "cache_lookup" (func $lookup (param i32 i32 i32 i32) (result i32)))
  (import "wasmgate" "cache_store" (func $store (param i64) (result i32)))
  (import "wasmgate" "cache_invalidate" (func $inval (param i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 8192))
  (data (i32.const 1024) "k:pathx-stx-s2x-s3")
  (data (i32.const 1100) "\01\00\00\00\05\00\00\00\03\00\00\00x-hit\00yes\00")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $n i32) (result i32)
    (local $p i32) (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n))) (local.get $p))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func $put (param $map i32) (param $name i32) (param $v i32)
    (i32.store8 (i32.const 3000) (i32.add (i32.const 48) (local.get $v)))
    (drop (call $add (local.get $map) (local.get $name) (i32.const 4) (i32.const 3000) (i32.const 1))))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (local $m i32) (local $st i32)
    (drop (call $get (i32.const 0) (i32.const 1025) (i32.const 5) (i32.const 2000) (i32.const 2004)))
    (local.set $m (i32.load8_u (i32.add (i32.load (i32.const 2000)) (i32.const 1))))
    (local.set $st
      (if (result i32) (i32.eq (local.get $m) (i32.const 111)) ;; 'o'
        (then (call $lookup (i32.const 70000) (i32.const 1) (i32.const 1100) (i32.const 22)))
        (else (if (result i32) (i32.eq (local.get $m) (i32.const 101)) ;; 'e'
          (then (call $lookup (i32.const 1024) (i32.const 0) (i32.const 1100) (i32.const 22)))
          (else (if (result i32) (i32.eq (local.get $m) (i32.const 109)) ;; 'm'
            (then (call $lookup (i32.const 1024) (i32.const 1) (i32.const 1100) (i32.const 3)))
            (else (call $lookup (i32.const 1024) (i32.const 1) (i32.const 1100) (i32.const 22)))))))))
    (call $put (i32.const 0) (i32.const 1030) (local.get $st))
    (call $put (i32.const 0) (i32.const 1034) (call $store (i64.const 1500)))
    (call $put (i32.const 0) (i32.const 1038) (call $inval (i32.const 1024) (i32.const 1)))
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (call $put (i32.const 2) (i32.const 1030) (call $store (i64.const 1500)))
    (i32.const 0)))`

// cacheStream is a fakeStream whose stream host has a cache.
type cacheStream struct {
	*fakeStream
	hit        bool
	err        error
	key        string
	hitHeaders [][2]string
	ttl        time.Duration
	invalid    string
}

func (c *cacheStream) CacheLookup(key string, hit [][2]string) (bool, error) {
	c.key, c.hitHeaders = key, hit
	return c.hit, c.err
}

func (c *cacheStream) CacheStore(ttl time.Duration) error {
	if c.err != nil {
		return c.err
	}
	c.ttl = ttl
	return nil
}

func (c *cacheStream) CacheInvalidate(key string) error {
	c.invalid = key
	return c.err
}

func TestCacheCalls(t *testing.T) {
	e := newEngine(t, EngineConfig{})
	p := newPlugin(t, e, mustWat(t, cacheGuest), PluginConfig{PoolMin: 1, PoolMax: 1})
	// Statuses as one byte '0'+status: OK '0', NOT_FOUND '1',
	// BAD_ARGUMENT '2', INVALID_MEMORY_ACCESS '6', INTERNAL_FAILURE ':',
	// UNIMPLEMENTED '<'.
	cases := []struct {
		name               string
		path               string
		host               func() StreamHost
		lookup, s2, s3, rs string
	}{
		{"hit", "/a", func() StreamHost { return &cacheStream{fakeStream: newFakeStream(), hit: true} }, "0", "1", "0", "0"},
		{"miss", "/a", func() StreamHost { return &cacheStream{fakeStream: newFakeStream()} }, "1", "1", "0", "0"},
		{"key out of bounds", "/o", func() StreamHost { return &cacheStream{fakeStream: newFakeStream()} }, "6", "1", "0", "0"},
		{"empty key", "/e", func() StreamHost { return &cacheStream{fakeStream: newFakeStream()} }, "2", "1", "0", "0"},
		{"truncated header map", "/m", func() StreamHost { return &cacheStream{fakeStream: newFakeStream()} }, "2", "1", "0", "0"},
		{"stage cache off", "/a", func() StreamHost { return &cacheStream{fakeStream: newFakeStream(), err: ErrNoCache} }, "<", "1", "<", "<"},
		{"not filling", "/a", func() StreamHost { return &cacheStream{fakeStream: newFakeStream(), err: ErrNotFilling} }, "1", "1", "1", "1"},
		{"host failure", "/a", func() StreamHost { return &cacheStream{fakeStream: newFakeStream(), err: errors.New("boom")} }, ":", "1", ":", ":"},
		{"host without CacheHost", "/a", func() StreamHost { return newFakeStream() }, "<", "<", "<", "<"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			host := c.host()
			var fs *fakeStream
			var cs *cacheStream
			switch h := host.(type) {
			case *cacheStream:
				fs, cs = h.fakeStream, h
			case *fakeStream:
				fs = h
			}
			fs.reqHeaders.Set(":path", c.path)
			s, err := p.NewStream(context.Background(), host)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.OnRequestHeaders(fs.reqHeaders.Len(), true); err != nil {
				t.Fatal(err)
			}
			if _, err := s.OnResponseHeaders(fs.respHeaders.Len(), true); err != nil {
				t.Fatal(err)
			}
			got := [4]string{}
			got[0], _ = fs.reqHeaders.Get("x-st")
			got[1], _ = fs.reqHeaders.Get("x-s2")
			got[2], _ = fs.reqHeaders.Get("x-s3")
			got[3], _ = fs.respHeaders.Get("x-st")
			if want := [4]string{c.lookup, c.s2, c.s3, c.rs}; got != want {
				t.Fatalf("statuses (lookup, store in request, invalidate, store in response) = %q, want %q", got, want)
			}
			if cs != nil && (c.lookup == "0" || c.lookup == "1") {
				if cs.key != "k" || len(cs.hitHeaders) != 1 || cs.hitHeaders[0] != [2]string{"x-hit", "yes"} {
					t.Fatalf("the host got key %q, hit headers %q", cs.key, cs.hitHeaders)
				}
			}
			if cs != nil && c.rs == "0" && (cs.ttl != 1500*time.Millisecond || cs.invalid != "k") {
				t.Fatalf("the host got ttl %v, invalidated %q", cs.ttl, cs.invalid)
			}
		})
	}
}
