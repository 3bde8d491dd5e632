package sdk

import (
	"errors"
	"runtime"
	"time"

	"github.com/wasmgate/wasmgate/abi"
)

// The response cache of wasmgate (import module "wasmgate"): one per
// stage, in the gateway's memory with an optional Redis second level.
// A caching plugin looks a request up in OnHTTPRequestHeaders and, when
// it missed, stores the response from OnHTTPResponseHeaders:
//
//	func (c *ctx) OnHTTPRequestHeaders(int, bool) sdk.Action {
//		hit, err := sdk.CacheLookup(key, [][2]string{{"x-cache", "Hit"}})
//		c.miss = err == nil && !hit
//		return sdk.ActionContinue
//	}
//
//	func (c *ctx) OnHTTPResponseHeaders(int, bool) sdk.Action {
//		if status, _ := sdk.GetHTTPResponseHeader(":status"); c.miss && status == "200" {
//			_ = sdk.CacheStore(5 * time.Minute)
//			_ = sdk.AddHTTPResponseHeader("x-cache", "Miss")
//		}
//		return sdk.ActionContinue
//	}
//
// A hit is answered by the gateway once the callback returns, without
// the body entering the plugin. A miss waits (the plugin is not held) for
// a fetch of the same key already in progress, so N concurrent misses
// make one upstream call. A plugin using these runs only in wasmgate.

// CacheLookup looks key up in the stage's response cache; call it once,
// from OnHTTPRequestHeaders. It reports a hit: the gateway then answers
// the request with the stored response plus an Age header and hitHeaders
// (nil for none). Otherwise the request, once the callback returns,
// either gets the response another request is fetching for the same key
// (also a hit, with hitHeaders) or goes to the integration, and the
// plugin may store what comes back with CacheStore. Errors:
// ErrUnimplemented when the stage's cache is off (serve without it),
// ErrBadArgument for an empty key or a second lookup.
func CacheLookup(key string, hitHeaders [][2]string) (hit bool, err error) {
	var st uint32
	if len(hitHeaders) == 0 {
		st = wasmgateCacheLookup(key, nil, 0)
	} else {
		p, n := bytesPtr(encodeMap(&mapScratch, hitHeaders))
		st = wasmgateCacheLookup(key, p, n)
		trimScratch(&mapScratch)
	}
	runtime.KeepAlive(key)
	switch err := statusErr(abi.ExtModule+"."+abi.ExtCacheLookup, st); {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, nil
	default:
		return false, err
	}
}

// CacheStore stores the response of this request, whose CacheLookup
// missed, for ttl (rounded down to milliseconds). Call it from
// OnHTTPResponseHeaders before changing the response: the stored entry is
// the response as it reached the plugin (status, headers, and the body
// once it has reached the client in full). Errors: ErrNotFound when this
// request is not fetching a key (it was a hit, did not look up, or it is
// not the response headers callback), ErrBadArgument for ttl < 1 ms.
func CacheStore(ttl time.Duration) error {
	ms := ttl.Milliseconds()
	if ms <= 0 {
		return ErrBadArgument
	}
	return statusErr(abi.ExtModule+"."+abi.ExtCacheStore, wasmgateCacheStore(ms))
}

// CacheInvalidate removes key from the stage's response cache (the
// gateway's memory and the shared L2), for an authorized
// "Cache-Control: max-age=0"; a CacheLookup after it misses. Errors:
// ErrUnimplemented when the stage's cache is off.
func CacheInvalidate(key string) error {
	st := wasmgateCacheInvalidate(key)
	runtime.KeepAlive(key)
	return statusErr(abi.ExtModule+"."+abi.ExtCacheInvalidate, st)
}
