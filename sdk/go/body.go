package sdk

import (
	"math"

	"github.com/wasmgate/wasmgate/abi"
)

// Bodies and configurations (Proxy-Wasm buffers). The request body is
// available in OnHTTPRequestBody, the response body in OnHTTPResponseBody,
// the VM configuration in OnVMStart, the plugin configuration in
// OnPluginStart and an HTTP callout's response body in its callback.
//
// To see a whole body, return ActionPause from the body callback until
// endOfStream is true: the host keeps buffering, and bodySize grows.

func getBuffer(t abi.BufferType, start, maxSize int) ([]byte, error) {
	if start < 0 || maxSize < 0 {
		return nil, &HostCallError{Func: abi.FuncGetBufferBytes, Status: abi.StatusBadArgument}
	}
	st := proxyGetBufferBytes(uint32(t), clampU32(start), clampU32(maxSize), &retPtr, &retSize)
	if err := statusErr(abi.FuncGetBufferBytes, st); err != nil {
		return nil, err
	}
	return takeResult(retPtr, retSize)
}

func setBuffer(t abi.BufferType, start, size uint32, data []byte) error {
	p, n := bytesPtr(data)
	return statusErr(abi.FuncSetBufferBytes, proxySetBufferBytes(uint32(t), start, size, p, n))
}

func clampU32(n int) uint32 {
	if uint64(n) > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(n)
}

// Buffer positions understood by every Proxy-Wasm host: start 0 with size
// MaxInt32 replaces everything, start MaxInt32 appends, start 0 with size
// 0 prepends.
const wholeBuffer = math.MaxInt32

// GetHTTPRequestBody returns up to maxSize bytes of the request body from
// start. Pass the bodySize of OnHTTPRequestBody to read all received data.
func GetHTTPRequestBody(start, maxSize int) ([]byte, error) {
	return getBuffer(abi.BufferHTTPRequestBody, start, maxSize)
}

// ReplaceHTTPRequestBody replaces the request body received so far.
func ReplaceHTTPRequestBody(body []byte) error {
	return setBuffer(abi.BufferHTTPRequestBody, 0, wholeBuffer, body)
}

// AppendHTTPRequestBody appends data to the request body.
func AppendHTTPRequestBody(data []byte) error {
	return setBuffer(abi.BufferHTTPRequestBody, wholeBuffer, 0, data)
}

// PrependHTTPRequestBody inserts data before the request body.
func PrependHTTPRequestBody(data []byte) error {
	return setBuffer(abi.BufferHTTPRequestBody, 0, 0, data)
}

// GetHTTPResponseBody returns up to maxSize bytes of the response body from
// start.
func GetHTTPResponseBody(start, maxSize int) ([]byte, error) {
	return getBuffer(abi.BufferHTTPResponseBody, start, maxSize)
}

// ReplaceHTTPResponseBody replaces the response body received so far.
func ReplaceHTTPResponseBody(body []byte) error {
	return setBuffer(abi.BufferHTTPResponseBody, 0, wholeBuffer, body)
}

// AppendHTTPResponseBody appends data to the response body.
func AppendHTTPResponseBody(data []byte) error {
	return setBuffer(abi.BufferHTTPResponseBody, wholeBuffer, 0, data)
}

// PrependHTTPResponseBody inserts data before the response body.
func PrependHTTPResponseBody(data []byte) error {
	return setBuffer(abi.BufferHTTPResponseBody, 0, 0, data)
}

// GetPluginConfiguration returns the plugin configuration (the per-stage
// JSON in wasmgate). Call it from OnPluginStart.
func GetPluginConfiguration() ([]byte, error) {
	return getBuffer(abi.BufferPluginConfiguration, 0, wholeBuffer)
}

// GetVMConfiguration returns the VM configuration. Call it from OnVMStart.
func GetVMConfiguration() ([]byte, error) {
	return getBuffer(abi.BufferVMConfiguration, 0, wholeBuffer)
}
