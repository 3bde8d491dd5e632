package sdk

import (
	"runtime"

	"github.com/wasmgate/wasmgate/abi"
)

// HTTP fields: request/response headers and trailers, and the headers and
// trailers of an HTTP callout's response. Keys are case-insensitive (the
// host stores them in lower case); multi-value headers such as Set-Cookie
// are separate pairs. Pseudo-headers (:method, :path, :authority,
// :scheme, :status) are part of the maps, as in Envoy.

func getHeader(t abi.MapType, key string) (string, error) {
	st := proxyGetHeaderMapValue(uint32(t), key, &retPtr, &retSize)
	runtime.KeepAlive(key)
	if err := statusErr(abi.FuncGetHeaderMapValue, st); err != nil {
		return "", err
	}
	b, err := takeResult(retPtr, retSize)
	if err != nil {
		return "", err
	}
	return bytesToString(b), nil
}

func getHeaders(t abi.MapType) ([][2]string, error) {
	st := proxyGetHeaderMapPairs(uint32(t), &retPtr, &retSize)
	if err := statusErr(abi.FuncGetHeaderMapPairs, st); err != nil {
		return nil, err
	}
	b, err := takeResult(retPtr, retSize)
	if err != nil {
		return nil, err
	}
	return decodePairs(abi.FuncGetHeaderMapPairs, b)
}

func setHeaders(t abi.MapType, pairs [][2]string) error {
	b := encodeMap(&mapScratch, pairs)
	p, n := bytesPtr(b)
	st := proxySetHeaderMapPairs(uint32(t), p, n)
	trimScratch(&mapScratch)
	return statusErr(abi.FuncSetHeaderMapPairs, st)
}

// addHeader, replaceHeader and removeHeader, and the request and
// response header functions written out below (the trailer ones call
// these), are short enough to be inlined into the plugin's code: their
// errors come from tables (statusErrors), so the one call left is the
// host's. A Go call costs a hundred or more instructions in a Wasm guest,
// and these run for every request.

func addHeader(t abi.MapType, key, value string) error {
	if st := proxyAddHeaderMapValue(uint32(t), key, value); st != uint32(abi.StatusOK) {
		return addHeaderErrors[min(st, lastStatus)]
	}
	return nil
}

func replaceHeader(t abi.MapType, key, value string) error {
	if st := proxyReplaceHeaderMapValue(uint32(t), key, value); st != uint32(abi.StatusOK) {
		return replaceHeaderErrors[min(st, lastStatus)]
	}
	return nil
}

func removeHeader(t abi.MapType, key string) error {
	if st := proxyRemoveHeaderMapValue(uint32(t), key); st != uint32(abi.StatusOK) {
		return removeHeaderErrors[min(st, lastStatus)]
	}
	return nil
}

// GetHTTPRequestHeader returns the first value of a request header, or
// ErrNotFound. Available from OnHTTPRequestHeaders on.
func GetHTTPRequestHeader(key string) (string, error) {
	return getHeader(abi.MapHTTPRequestHeaders, key)
}

// GetHTTPRequestHeaders returns all request headers, in order. The
// returned strings share one buffer (a single allocation besides the
// slice).
func GetHTTPRequestHeaders() ([][2]string, error) { return getHeaders(abi.MapHTTPRequestHeaders) }

// SetHTTPRequestHeaders replaces all request headers. Writable during the
// request callbacks.
func SetHTTPRequestHeaders(headers [][2]string) error {
	return setHeaders(abi.MapHTTPRequestHeaders, headers)
}

// AddHTTPRequestHeader appends a request header value (keeping existing
// values of the same key).
func AddHTTPRequestHeader(key, value string) error {
	if st := proxyAddHeaderMapValue(uint32(abi.MapHTTPRequestHeaders), key, value); st != uint32(abi.StatusOK) {
		return addHeaderErrors[min(st, lastStatus)]
	}
	return nil
}

// ReplaceHTTPRequestHeader sets a request header to one value, adding it
// when absent.
func ReplaceHTTPRequestHeader(key, value string) error {
	if st := proxyReplaceHeaderMapValue(uint32(abi.MapHTTPRequestHeaders), key, value); st != uint32(abi.StatusOK) {
		return replaceHeaderErrors[min(st, lastStatus)]
	}
	return nil
}

// RemoveHTTPRequestHeader removes every value of a request header; removing
// an absent header is not an error.
func RemoveHTTPRequestHeader(key string) error {
	if st := proxyRemoveHeaderMapValue(uint32(abi.MapHTTPRequestHeaders), key); st != uint32(abi.StatusOK) {
		return removeHeaderErrors[min(st, lastStatus)]
	}
	return nil
}

// GetHTTPRequestTrailer returns the first value of a request trailer, or
// ErrNotFound.
func GetHTTPRequestTrailer(key string) (string, error) {
	return getHeader(abi.MapHTTPRequestTrailers, key)
}

// GetHTTPRequestTrailers returns all request trailers.
func GetHTTPRequestTrailers() ([][2]string, error) { return getHeaders(abi.MapHTTPRequestTrailers) }

// SetHTTPRequestTrailers replaces all request trailers.
func SetHTTPRequestTrailers(trailers [][2]string) error {
	return setHeaders(abi.MapHTTPRequestTrailers, trailers)
}

// AddHTTPRequestTrailer appends a request trailer value.
func AddHTTPRequestTrailer(key, value string) error {
	return addHeader(abi.MapHTTPRequestTrailers, key, value)
}

// ReplaceHTTPRequestTrailer sets a request trailer to one value.
func ReplaceHTTPRequestTrailer(key, value string) error {
	return replaceHeader(abi.MapHTTPRequestTrailers, key, value)
}

// RemoveHTTPRequestTrailer removes every value of a request trailer.
func RemoveHTTPRequestTrailer(key string) error {
	return removeHeader(abi.MapHTTPRequestTrailers, key)
}

// GetHTTPResponseHeader returns the first value of a response header, or
// ErrNotFound. Available from OnHTTPResponseHeaders on.
func GetHTTPResponseHeader(key string) (string, error) {
	return getHeader(abi.MapHTTPResponseHeaders, key)
}

// GetHTTPResponseHeaders returns all response headers, including :status.
func GetHTTPResponseHeaders() ([][2]string, error) { return getHeaders(abi.MapHTTPResponseHeaders) }

// SetHTTPResponseHeaders replaces all response headers. Writable during the
// response callbacks.
func SetHTTPResponseHeaders(headers [][2]string) error {
	return setHeaders(abi.MapHTTPResponseHeaders, headers)
}

// AddHTTPResponseHeader appends a response header value.
func AddHTTPResponseHeader(key, value string) error {
	if st := proxyAddHeaderMapValue(uint32(abi.MapHTTPResponseHeaders), key, value); st != uint32(abi.StatusOK) {
		return addHeaderErrors[min(st, lastStatus)]
	}
	return nil
}

// ReplaceHTTPResponseHeader sets a response header to one value, adding it
// when absent.
func ReplaceHTTPResponseHeader(key, value string) error {
	if st := proxyReplaceHeaderMapValue(uint32(abi.MapHTTPResponseHeaders), key, value); st != uint32(abi.StatusOK) {
		return replaceHeaderErrors[min(st, lastStatus)]
	}
	return nil
}

// RemoveHTTPResponseHeader removes every value of a response header.
func RemoveHTTPResponseHeader(key string) error {
	if st := proxyRemoveHeaderMapValue(uint32(abi.MapHTTPResponseHeaders), key); st != uint32(abi.StatusOK) {
		return removeHeaderErrors[min(st, lastStatus)]
	}
	return nil
}

// GetHTTPResponseTrailer returns the first value of a response trailer, or
// ErrNotFound.
func GetHTTPResponseTrailer(key string) (string, error) {
	return getHeader(abi.MapHTTPResponseTrailers, key)
}

// GetHTTPResponseTrailers returns all response trailers.
func GetHTTPResponseTrailers() ([][2]string, error) { return getHeaders(abi.MapHTTPResponseTrailers) }

// SetHTTPResponseTrailers replaces all response trailers.
func SetHTTPResponseTrailers(trailers [][2]string) error {
	return setHeaders(abi.MapHTTPResponseTrailers, trailers)
}

// AddHTTPResponseTrailer appends a response trailer value.
func AddHTTPResponseTrailer(key, value string) error {
	return addHeader(abi.MapHTTPResponseTrailers, key, value)
}

// ReplaceHTTPResponseTrailer sets a response trailer to one value.
func ReplaceHTTPResponseTrailer(key, value string) error {
	return replaceHeader(abi.MapHTTPResponseTrailers, key, value)
}

// RemoveHTTPResponseTrailer removes every value of a response trailer.
func RemoveHTTPResponseTrailer(key string) error {
	return removeHeader(abi.MapHTTPResponseTrailers, key)
}
