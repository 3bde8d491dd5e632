package abi

// The wasmgate extension namespace. Gateway-specific host calls live in
// their own import module so a Proxy-Wasm plugin that does not use them
// stays portable to Envoy and other hosts. All functions return a Status
// like the Proxy-Wasm ones and write results through return pointers
// allocated with proxy_on_memory_allocate.
const ExtModule = "wasmgate"

// Extension host functions (import module "wasmgate").
const (
	// ExtGetStageVariable(name_ptr, name_size, return_value_ptr, return_value_size)
	// reads a stage variable of the stage serving the current request.
	ExtGetStageVariable = "get_stage_variable"
	// ExtGetRouteParam(name_ptr, name_size, return_value_ptr, return_value_size)
	// reads a path parameter of the matched route ({id}, {proxy+}).
	ExtGetRouteParam = "get_route_param"
	// ExtTokenBucketTake(key_ptr, key_size, rate_milli_per_sec i64, burst,
	// cost, return_remaining_ptr, return_retry_after_ms_ptr,
	// return_reset_ms_ptr) takes cost tokens from the bucket named key,
	// which refills at rate_milli_per_sec/1000 tokens per second up to
	// burst. The bucket is shared by every plugin and instance (and every
	// gateway of a cluster). Returns OK when granted, EMPTY when throttled
	// (the u32 return slots then hold the tokens left, the milliseconds
	// until the take would succeed, and until the bucket is full),
	// BAD_ARGUMENT for a rate, burst or cost out of range, INTERNAL_FAILURE
	// when the store (Redis) failed: apply your on_error policy. Only in an
	// HTTP context.
	ExtTokenBucketTake = "token_bucket_take"
	// ExtQuotaUse(key_ptr, key_size, period, limit i64, n i64,
	// return_remaining_ptr, return_reset_unix_ms_ptr) adds n to key's
	// counter for the current period (QuotaDay, QuotaWeek, QuotaMonth: UTC
	// calendar periods, weeks from Monday). Returns OK within the limit,
	// EMPTY over it (nothing counted), BAD_ARGUMENT, or INTERNAL_FAILURE as
	// above. The i64 return slots hold what is left and when the period
	// ends (Unix milliseconds).
	ExtQuotaUse = "quota_use"
	// ExtCacheLookup(key_ptr, key_size, hit_headers_ptr, hit_headers_size)
	// looks key up in the response cache of the stage serving the current
	// request. hit_headers is a header map (the Proxy-Wasm encoding, may
	// be empty) added to the response when it is answered from the cache
	// (X-Cache: Hit, say). Call it from on_request_headers, once per
	// request:
	//
	//   - OK: a hit. When the callback returns, the gateway answers the
	//     request with the stored response (its status, headers and body,
	//     plus Age and hit_headers); the integration is not called, and
	//     the plugins before this one see it as a local response.
	//   - NOT_FOUND: not in this gateway's memory. When the callback
	//     returns the request waits, without holding the plugin, for a
	//     fetch of the same key already in progress or for the shared L2
	//     cache, and is answered from it; or it becomes the request that
	//     fetches the key (a miss): it goes on to the integration, and its
	//     response is stored if the plugin calls cache_store. N concurrent
	//     misses on one key make one upstream call.
	//   - UNIMPLEMENTED: the stage's cache is off; serve without it.
	//   - BAD_ARGUMENT: an empty key, a bad header map, or a second lookup
	//     in one request; INVALID_MEMORY_ACCESS: pointers out of bounds;
	//     NOT_FOUND is also the answer outside an HTTP context.
	ExtCacheLookup = "cache_lookup"
	// ExtCacheStore(ttl_ms i64) stores the response of the current request
	// under the key it missed on, fresh for ttl_ms milliseconds. Call it
	// from on_response_headers of a request whose cache_lookup missed. The
	// entry is the response as it reached this plugin (status, headers
	// without hop-by-hop ones, and the body), stored once the body has
	// reached the client in full; a body over the gateway's entry size
	// limit, or an upstream failure, stores nothing. A miss whose plugin
	// does not call cache_store by the end of on_response_headers stores
	// nothing, and the next waiting request fetches the key itself.
	// Returns OK, NOT_FOUND when this request is not fetching a key (a hit,
	// no lookup, or a phase other than the response headers),
	// BAD_ARGUMENT for ttl_ms <= 0.
	ExtCacheStore = "cache_store"
	// ExtCacheInvalidate(key_ptr, key_size) removes key from the stage's
	// cache (this gateway's memory and the shared L2): for a client's
	// authorized "Cache-Control: max-age=0". A cache_lookup after it
	// misses. Returns OK, UNIMPLEMENTED when the stage's cache is off,
	// BAD_ARGUMENT for an empty key.
	ExtCacheInvalidate = "cache_invalidate"
	// ExtAPIKeyVerify(value_ptr, value_size, return_json_ptr,
	// return_json_size) looks up the API key whose value (the secret a
	// client sent, e.g. in x-api-key) is the given bytes. Returns OK with
	// a JSON document
	//
	//	{"id":"k-…","name":"…","plan":{"id":"p-…","name":"…",
	//	 "throttle":{"rate":10,"burst":20} or null,
	//	 "quota":{"limit":10000,"period":"month"} or null,
	//	 "route_throttles":{"GET /pets/{id}":{"rate":1,"burst":2}}} or null}
	//
	// for an enabled key; "plan" is the key's usage plan for the stage
	// serving the request, null when the key is in no plan for that stage
	// (the plugin decides: the api-key plugin answers 403, as API Gateway
	// does, unless configured otherwise). The host never answers
	// FORBIDDEN: the refusal is the plugin's. On OK the host records the
	// key's id on the request as the property wasmgate.api_key.id, which
	// plugins cannot set themselves. NOT_FOUND for an unknown or disabled
	// key (an empty value included), or outside an HTTP context;
	// UNIMPLEMENTED when the gateway has no key store; INVALID_MEMORY_ACCESS
	// for pointers out of bounds. The value is compared by its SHA-256:
	// the host keeps no plaintext.
	ExtAPIKeyVerify = "api_key_verify"
)

// Quota periods of ExtQuotaUse.
const (
	QuotaDay   uint32 = 0
	QuotaWeek  uint32 = 1
	QuotaMonth uint32 = 2
)

// ExtFunctions lists the wasmgate extension functions and signatures.
var ExtFunctions = map[string]Signature{
	ExtGetStageVariable: {i32s(4), i32s(1)},
	ExtGetRouteParam:    {i32s(4), i32s(1)},
	ExtTokenBucketTake:  {[]ValType{I32, I32, I64, I32, I32, I32, I32, I32}, i32s(1)},
	ExtQuotaUse:         {[]ValType{I32, I32, I32, I64, I64, I32, I32}, i32s(1)},
	ExtCacheLookup:      {i32s(4), i32s(1)},
	ExtCacheStore:       {[]ValType{I64}, i32s(1)},
	ExtCacheInvalidate:  {i32s(2), i32s(1)},
	ExtAPIKeyVerify:     {i32s(4), i32s(1)},
}

// ExportYield is the optional export a standard-Go plugin offers so the host
// can give the guest's scheduler a turn between calls: goroutines a plugin
// starts only run while the guest is executing. The Go SDK exports it; the
// host calls it every few calls and ignores its absence.
const ExportYield = "wasmgate_yield"

// ExportHooks is the optional export `wasmgate_hooks() -> i32` through
// which a plugin tells the host which HTTP callbacks it actually handles,
// as a bit set of Hook values. SDKs export every proxy_on_* callback, so
// without it the host must assume all of them matter, and buffer bodies
// for plugins that never look at them. The host calls it once per instance
// after _initialize; a plugin without it handles every callback it exports.
const ExportHooks = "wasmgate_hooks"

// ExportDeleteRing is the optional export `wasmgate_delete_ring() -> i32`
// through which a plugin takes the ends of its HTTP streams from a ring in
// its own memory instead of one proxy_on_delete call per request. It
// returns the ring's address, 4-byte aligned, laid out as little-endian
// u32s:
//
//	+0  head      written by the host: ids pushed so far (wraps)
//	+4  tail      written by the plugin: ids taken so far (wraps)
//	+8  size      set by the plugin: slots, a power of two, at most DeleteRingMaxSize
//	+12 ids[size] the context id pushed as number n is in ids[n % size]
//
// The host calls it once per instance after ExportHooks. Where it would
// call proxy_on_delete for an HTTP context, it writes the id to
// ids[head % size] and increments head instead, unless the ring is full
// (head - tail == size): then it calls proxy_on_delete, and the plugin
// first takes the ids already in the ring. The plugin takes the ring's ids
// at the start of its callbacks, before looking up a context, and treats
// each as a proxy_on_delete. Writes happen only between guest calls, so
// neither side needs atomics. Root contexts are always deleted with
// proxy_on_delete. The Go SDK exports it.
const ExportDeleteRing = "wasmgate_delete_ring"

// Layout of the ring of ExportDeleteRing.
const (
	DeleteRingHead    = 0
	DeleteRingTail    = 4
	DeleteRingSize    = 8
	DeleteRingIDs     = 12
	DeleteRingMaxSize = 1 << 16
)

// Hook bits for ExportHooks.
const (
	HookRequestHeaders   uint32 = 1 << 0
	HookRequestBody      uint32 = 1 << 1
	HookRequestTrailers  uint32 = 1 << 2
	HookResponseHeaders  uint32 = 1 << 3
	HookResponseBody     uint32 = 1 << 4
	HookResponseTrailers uint32 = 1 << 5
	// HookStreamDone is proxy_on_log for HTTP contexts (the SDKs'
	// "stream done"): a plugin that declares hooks without it is not
	// called at the end of each request (on_done and on_delete still are).
	HookStreamDone uint32 = 1 << 6
	HookAll        uint32 = 1<<7 - 1

	// HookLazyContexts is not a callback but a promise about them: the
	// plugin creates an HTTP context on its first callback, whatever it
	// is, and its proxy_on_done always returns true for HTTP contexts. The
	// host then skips proxy_on_context_create and proxy_on_done for HTTP
	// streams, and proxy_on_delete for streams that got no callback: three
	// guest calls per request instead of five for a plugin that handles
	// request and response headers. The Go SDK declares it.
	HookLazyContexts uint32 = 1 << 7
)

// HookFor returns the hook bit of an HTTP stream callback export name, or 0
// for callbacks that are not optional HTTP hooks.
func HookFor(callback string) uint32 {
	switch callback {
	case ExportOnRequestHeaders:
		return HookRequestHeaders
	case ExportOnRequestBody:
		return HookRequestBody
	case ExportOnRequestTrailers:
		return HookRequestTrailers
	case ExportOnResponseHeaders:
		return HookResponseHeaders
	case ExportOnResponseBody:
		return HookResponseBody
	case ExportOnResponseTrailers:
		return HookResponseTrailers
	case ExportOnLog:
		return HookStreamDone
	}
	return 0
}
