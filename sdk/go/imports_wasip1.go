//go:build wasip1

package sdk

import "unsafe"

// The host functions, imported from module "env" (Proxy-Wasm 0.2.1) and
// "wasmgate" (gateway extensions). Pointers and sizes are i32; a string
// parameter is passed as (i32 pointer, i32 length). Every function returns
// a proxy_status_t. Return pointers always point at package variables
// (see memory.go). The declarations carry no //go:noescape on purpose:
// data the host reads must stay where it is while the host may re-enter
// the plugin to allocate.

const inHost = true

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg string) uint32

//go:wasmimport env proxy_get_log_level
func proxyGetLogLevel(retLevel *uint32) uint32

//go:wasmimport env proxy_set_tick_period_milliseconds
func proxySetTickPeriodMilliseconds(period uint32) uint32

//go:wasmimport env proxy_get_property
func proxyGetProperty(path unsafe.Pointer, pathSize uint32, retData, retSize *uint32) uint32

//go:wasmimport env proxy_set_property
func proxySetProperty(path unsafe.Pointer, pathSize uint32, value unsafe.Pointer, valueSize uint32) uint32

//go:wasmimport env proxy_set_effective_context
func proxySetEffectiveContext(contextID uint32) uint32

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(bufferType, start, maxSize uint32, retData, retSize *uint32) uint32

//go:wasmimport env proxy_set_buffer_bytes
func proxySetBufferBytes(bufferType, start, size uint32, data unsafe.Pointer, dataSize uint32) uint32

//go:wasmimport env proxy_get_header_map_pairs
func proxyGetHeaderMapPairs(mapType uint32, retData, retSize *uint32) uint32

//go:wasmimport env proxy_set_header_map_pairs
func proxySetHeaderMapPairs(mapType uint32, data unsafe.Pointer, size uint32) uint32

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(mapType uint32, key string, retData, retSize *uint32) uint32

//go:wasmimport env proxy_add_header_map_value
func proxyAddHeaderMapValue(mapType uint32, key, value string) uint32

//go:wasmimport env proxy_replace_header_map_value
func proxyReplaceHeaderMapValue(mapType uint32, key, value string) uint32

//go:wasmimport env proxy_remove_header_map_value
func proxyRemoveHeaderMapValue(mapType uint32, key string) uint32

//go:wasmimport env proxy_continue_stream
func proxyContinueStream(streamType uint32) uint32

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(statusCode uint32, details string, body unsafe.Pointer, bodySize uint32, headers unsafe.Pointer, headersSize uint32, grpcStatus int32) uint32

//go:wasmimport env proxy_http_call
func proxyHTTPCall(upstream string, headers unsafe.Pointer, headersSize uint32, body unsafe.Pointer, bodySize uint32, trailers unsafe.Pointer, trailersSize uint32, timeoutMillis uint32, retToken *uint32) uint32

//go:wasmimport env proxy_get_shared_data
func proxyGetSharedData(key string, retData, retSize, retCAS *uint32) uint32

//go:wasmimport env proxy_set_shared_data
func proxySetSharedData(key string, value unsafe.Pointer, valueSize uint32, cas uint32) uint32

//go:wasmimport env proxy_register_shared_queue
func proxyRegisterSharedQueue(name string, retID *uint32) uint32

//go:wasmimport env proxy_resolve_shared_queue
func proxyResolveSharedQueue(vmID, name string, retID *uint32) uint32

//go:wasmimport env proxy_enqueue_shared_queue
func proxyEnqueueSharedQueue(queueID uint32, data unsafe.Pointer, size uint32) uint32

//go:wasmimport env proxy_dequeue_shared_queue
func proxyDequeueSharedQueue(queueID uint32, retData, retSize *uint32) uint32

//go:wasmimport env proxy_define_metric
func proxyDefineMetric(metricType uint32, name string, retID *uint32) uint32

//go:wasmimport env proxy_record_metric
func proxyRecordMetric(metricID uint32, value uint64) uint32

//go:wasmimport env proxy_increment_metric
func proxyIncrementMetric(metricID uint32, offset int64) uint32

//go:wasmimport env proxy_get_metric
func proxyGetMetric(metricID uint32, retValue *uint64) uint32

//go:wasmimport wasmgate get_stage_variable
func wasmgateGetStageVariable(name string, retData, retSize *uint32) uint32

//go:wasmimport wasmgate get_route_param
func wasmgateGetRouteParam(name string, retData, retSize *uint32) uint32

//go:wasmimport wasmgate token_bucket_take
func wasmgateTokenBucketTake(key string, rateMilli int64, burst, cost uint32, remaining, retryAfterMs, resetMs *uint32) uint32

//go:wasmimport wasmgate quota_use
func wasmgateQuotaUse(key string, period uint32, limit, n int64, remaining, resetUnixMs *uint64) uint32

//go:wasmimport wasmgate cache_lookup
func wasmgateCacheLookup(key string, hitHeaders unsafe.Pointer, hitHeadersSize uint32) uint32

//go:wasmimport wasmgate cache_store
func wasmgateCacheStore(ttlMs int64) uint32

//go:wasmimport wasmgate cache_invalidate
func wasmgateCacheInvalidate(key string) uint32

//go:wasmimport wasmgate api_key_verify
func wasmgateAPIKeyVerify(value string, retData, retSize *uint32) uint32
