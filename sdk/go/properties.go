package sdk

import (
	"runtime"

	"github.com/wasmgate/wasmgate/abi"
)

// Properties are the host's attributes, addressed by path segments:
// GetProperty("request", "path") reads what the documentation writes as
// request.path. Strings are raw bytes, integers 8-byte little-endian
// (GetPropertyInt64), maps use the header-map encoding. wasmgate exposes
// its $context under wasmgate.*: wasmgate.stage, wasmgate.deployment,
// wasmgate.route.params.<name>, wasmgate.stage_variables.<name>, ... (see
// the Prop* constants of package abi for the list).

// GetProperty returns the value of a property, or ErrNotFound.
func GetProperty(path ...string) ([]byte, error) {
	p, n := bytesPtr(encodePath(path))
	st := proxyGetProperty(p, n, &retPtr, &retSize)
	if err := statusErr(abi.FuncGetProperty, st); err != nil {
		return nil, err
	}
	return takeResult(retPtr, retSize)
}

// GetPropertyString returns a string property, or ErrNotFound.
func GetPropertyString(path ...string) (string, error) {
	b, err := GetProperty(path...)
	if err != nil {
		return "", err
	}
	return bytesToString(b), nil
}

// GetPropertyInt64 returns an integer property (response.code,
// request.size, ...), or ErrNotFound. ErrSerializationFailure when the
// value is not 8 bytes long.
func GetPropertyInt64(path ...string) (int64, error) {
	b, err := GetProperty(path...)
	if err != nil {
		return 0, err
	}
	v, ok := abi.DecodeInt64(b)
	if !ok {
		return 0, &HostCallError{Func: abi.FuncGetProperty, Status: abi.StatusSerializationFailure}
	}
	return v, nil
}

// GetPropertyMap returns a map property (request.headers, ...) as pairs.
func GetPropertyMap(path ...string) ([][2]string, error) {
	b, err := GetProperty(path...)
	if err != nil {
		return nil, err
	}
	return decodePairs(abi.FuncGetProperty, b)
}

// SetProperty sets a property of the current request. The host decides
// which paths are writable (ErrNotFound otherwise).
func SetProperty(path []string, value []byte) error {
	p, n := bytesPtr(encodePath(path))
	v, vn := bytesPtr(value)
	st := proxySetProperty(p, n, v, vn)
	runtime.KeepAlive(value)
	return statusErr(abi.FuncSetProperty, st)
}
