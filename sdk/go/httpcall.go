package sdk

import (
	"runtime"

	"github.com/wasmgate/wasmgate/abi"
)

// HTTP callouts: a plugin can call another service while it handles a
// request (or from a tick). The usual pattern pauses the request and
// resumes it from the callback:
//
//	func (c *ctx) OnHTTPRequestHeaders(int, bool) sdk.Action {
//		_, err := sdk.DispatchHTTPCall("auth", [][2]string{
//			{":method", "GET"}, {":path", "/check"}, {":authority", "auth"},
//		}, nil, nil, 500, func(numHeaders, bodySize, numTrailers int) {
//			if numHeaders == 0 { // the call failed
//				sdk.SendHTTPResponse(503, nil, nil, -1)
//				return
//			}
//			sdk.ResumeHTTPRequest()
//		})
//		if err != nil {
//			return sdk.ActionContinue
//		}
//		return sdk.ActionPause
//	}

// DispatchHTTPCall sends an HTTP request to upstream (a cluster name or a
// URL, as the gateway defines) with headers (include :method, :path and
// :authority), an optional body and trailers, and a timeout in
// milliseconds. cb runs when the response arrives (numHeaders is 0 when
// the call failed or timed out), with the dispatching context made current
// again, so it may read the response with GetHTTPCallResponseHeaders,
// GetHTTPCallResponseBody and GetHTTPCallResponseTrailers, and act on the
// request (ResumeHTTPRequest, SendHTTPResponse, header calls). If the
// request ends before the response arrives, cb is not called.
func DispatchHTTPCall(upstream string, headers [][2]string, body []byte, trailers [][2]string, timeoutMillis uint32, cb func(numHeaders, bodySize, numTrailers int)) (calloutID uint32, err error) {
	h, hn := bytesPtr(encodeMap(&mapScratch, headers))
	t, tn := bytesPtr(encodeMap(&trailersScratch, trailers))
	b, bn := bytesPtr(body)
	st := proxyHTTPCall(upstream, h, hn, b, bn, t, tn, timeoutMillis, &retExtra)
	runtime.KeepAlive(body)
	trimScratch(&mapScratch)
	trimScratch(&trailersScratch)
	if err := statusErr(abi.FuncHTTPCall, st); err != nil {
		return 0, err
	}
	token := retExtra
	state.addCallout(token, cb)
	return token, nil
}

// GetHTTPCallResponseHeaders returns the headers (with :status) of the
// response being delivered to a DispatchHTTPCall callback.
func GetHTTPCallResponseHeaders() ([][2]string, error) {
	return getHeaders(abi.MapHTTPCallResponseHeaders)
}

// GetHTTPCallResponseHeader returns one header of the callout response,
// or ErrNotFound.
func GetHTTPCallResponseHeader(key string) (string, error) {
	return getHeader(abi.MapHTTPCallResponseHeaders, key)
}

// GetHTTPCallResponseBody returns up to maxSize bytes from start of the
// callout response body (bodySize of the callback is its length).
func GetHTTPCallResponseBody(start, maxSize int) ([]byte, error) {
	return getBuffer(abi.BufferHTTPCallResponseBody, start, maxSize)
}

// GetHTTPCallResponseTrailers returns the trailers of the callout response.
func GetHTTPCallResponseTrailers() ([][2]string, error) {
	return getHeaders(abi.MapHTTPCallResponseTrailers)
}
