package wasm

import (
	"context"
	"errors"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/abi"
)

// The response cache calls of the "wasmgate" module: cache_lookup,
// cache_store and cache_invalidate, backed by the stream host's CacheHost
// (the gateway: the stage's cache in host/policy/cache, with request
// coalescing and an optional Redis L2). See abi.ExtCacheLookup for the
// protocol.

func init() {
	register(extFuncs, abi.ExtCacheLookup, hostCacheLookup)
	register(extFuncs, abi.ExtCacheStore, hostCacheStore)
	register(extFuncs, abi.ExtCacheInvalidate, hostCacheInvalidate)
}

// cacheHost returns the current stream's CacheHost, or a status for the
// guest when there is none.
func (in *instance) cacheHost() (CacheHost, abi.Status) {
	if in.cur == nil {
		return nil, abi.StatusNotFound // not in an HTTP context
	}
	ch, ok := in.cur.host.(CacheHost)
	if !ok {
		return nil, abi.StatusUnimplemented
	}
	return ch, abi.StatusOK
}

func cacheStatus(err error) abi.Status {
	switch {
	case errors.Is(err, ErrNoCache):
		return abi.StatusUnimplemented
	case errors.Is(err, ErrCacheArgument):
		return abi.StatusBadArgument
	case errors.Is(err, ErrNotFilling):
		return abi.StatusNotFound
	}
	return abi.StatusInternalFailure
}

// hostCacheLookup is cache_lookup(key_ptr, key_size, hit_headers_ptr,
// hit_headers_size):
//
//	key_ptr         → [key bytes]
//	hit_headers_ptr → [u32 count][u32 klen, u32 vlen]*count [key\0 value\0]*count
//
// OK: hit (answered by the host when the callback returns); NOT_FOUND:
// miss, resolved when the callback returns (wait for a fill in progress,
// or fetch); UNIMPLEMENTED: no cache; BAD_ARGUMENT: empty key, bad map,
// second lookup, or not in on_request_headers.
func hostCacheLookup(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	key, ok := in.readString(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	hb, ok := in.read(uint32(stack[2]), uint32(stack[3]))
	if !ok {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	ch, st := in.cacheHost()
	if st != abi.StatusOK {
		status(stack, st)
		return
	}
	if key == "" || in.phase != phRequestHeaders {
		status(stack, abi.StatusBadArgument)
		return
	}
	var hit [][2]string
	if len(hb) > 0 {
		var err error
		if hit, err = abi.DecodeMap(hb); err != nil {
			status(stack, abi.StatusBadArgument)
			return
		}
	}
	found, err := ch.CacheLookup(key, hit)
	switch {
	case err != nil:
		status(stack, cacheStatus(err))
	case found:
		status(stack, abi.StatusOK)
	default:
		status(stack, abi.StatusNotFound)
	}
}

// hostCacheStore is cache_store(ttl_ms i64): store the response of a
// request whose lookup missed. Only in on_response_headers.
func hostCacheStore(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	ttl := int64(stack[0])
	ch, st := in.cacheHost()
	if st != abi.StatusOK {
		status(stack, st)
		return
	}
	if ttl <= 0 || ttl > int64(365*24*time.Hour/time.Millisecond) {
		status(stack, abi.StatusBadArgument)
		return
	}
	if in.phase != phResponseHeaders {
		status(stack, abi.StatusNotFound)
		return
	}
	if err := ch.CacheStore(time.Duration(ttl) * time.Millisecond); err != nil {
		status(stack, cacheStatus(err))
		return
	}
	status(stack, abi.StatusOK)
}

// hostCacheInvalidate is cache_invalidate(key_ptr, key_size).
func hostCacheInvalidate(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	key, ok := in.readString(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	ch, st := in.cacheHost()
	if st != abi.StatusOK {
		status(stack, st)
		return
	}
	if key == "" {
		status(stack, abi.StatusBadArgument)
		return
	}
	if err := ch.CacheInvalidate(key); err != nil {
		status(stack, cacheStatus(err))
		return
	}
	status(stack, abi.StatusOK)
}
