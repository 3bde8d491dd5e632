//go:build !wasip1

package sdk

import "unsafe"

// Outside a wasip1 build there is no host: every host function reports
// UNIMPLEMENTED, which the wrappers turn into an error explaining how to
// build and run a plugin. This keeps `go build ./...`, `go vet ./...` and
// unit tests of plugin logic working on the developer's machine.

const inHost = false

const unimplemented = 12 // abi.StatusUnimplemented

func proxyLog(uint32, string) uint32                                         { return unimplemented }
func proxyGetLogLevel(*uint32) uint32                                        { return unimplemented }
func proxySetTickPeriodMilliseconds(uint32) uint32                           { return unimplemented }
func proxyGetProperty(unsafe.Pointer, uint32, *uint32, *uint32) uint32       { return unimplemented }
func proxySetProperty(unsafe.Pointer, uint32, unsafe.Pointer, uint32) uint32 { return unimplemented }
func proxySetEffectiveContext(uint32) uint32                                 { return unimplemented }
func proxyGetBufferBytes(uint32, uint32, uint32, *uint32, *uint32) uint32    { return unimplemented }
func proxySetBufferBytes(uint32, uint32, uint32, unsafe.Pointer, uint32) uint32 {
	return unimplemented
}
func proxyGetHeaderMapPairs(uint32, *uint32, *uint32) uint32         { return unimplemented }
func proxySetHeaderMapPairs(uint32, unsafe.Pointer, uint32) uint32   { return unimplemented }
func proxyGetHeaderMapValue(uint32, string, *uint32, *uint32) uint32 { return unimplemented }
func proxyAddHeaderMapValue(uint32, string, string) uint32           { return unimplemented }
func proxyReplaceHeaderMapValue(uint32, string, string) uint32       { return unimplemented }
func proxyRemoveHeaderMapValue(uint32, string) uint32                { return unimplemented }
func proxyContinueStream(uint32) uint32                              { return unimplemented }
func proxySendLocalResponse(uint32, string, unsafe.Pointer, uint32, unsafe.Pointer, uint32, int32) uint32 {
	return unimplemented
}
func proxyHTTPCall(string, unsafe.Pointer, uint32, unsafe.Pointer, uint32, unsafe.Pointer, uint32, uint32, *uint32) uint32 {
	return unimplemented
}
func proxyGetSharedData(string, *uint32, *uint32, *uint32) uint32      { return unimplemented }
func proxySetSharedData(string, unsafe.Pointer, uint32, uint32) uint32 { return unimplemented }
func proxyRegisterSharedQueue(string, *uint32) uint32                  { return unimplemented }
func proxyResolveSharedQueue(string, string, *uint32) uint32           { return unimplemented }
func proxyEnqueueSharedQueue(uint32, unsafe.Pointer, uint32) uint32    { return unimplemented }
func proxyDequeueSharedQueue(uint32, *uint32, *uint32) uint32          { return unimplemented }
func proxyDefineMetric(uint32, string, *uint32) uint32                 { return unimplemented }
func proxyRecordMetric(uint32, uint64) uint32                          { return unimplemented }
func proxyIncrementMetric(uint32, int64) uint32                        { return unimplemented }
func proxyGetMetric(uint32, *uint64) uint32                            { return unimplemented }
func wasmgateGetStageVariable(string, *uint32, *uint32) uint32         { return unimplemented }
func wasmgateGetRouteParam(string, *uint32, *uint32) uint32            { return unimplemented }
func wasmgateTokenBucketTake(string, int64, uint32, uint32, *uint32, *uint32, *uint32) uint32 {
	return unimplemented
}
func wasmgateQuotaUse(string, uint32, int64, int64, *uint64, *uint64) uint32 { return unimplemented }
func wasmgateCacheLookup(string, unsafe.Pointer, uint32) uint32              { return unimplemented }
func wasmgateCacheStore(int64) uint32                                        { return unimplemented }
func wasmgateCacheInvalidate(string) uint32                                  { return unimplemented }
func wasmgateAPIKeyVerify(string, *uint32, *uint32) uint32                   { return unimplemented }
