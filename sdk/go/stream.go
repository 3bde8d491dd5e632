package sdk

import (
	"runtime"

	"github.com/wasmgate/wasmgate/abi"
)

// SendHTTPResponse answers the current request from the plugin: the
// upstream is not called (or its response is replaced). Return
// ActionPause from the callback that calls it. grpcStatus is -1 for a
// plain HTTP response. The status must be in 200..599.
func SendHTTPResponse(status uint32, headers [][2]string, body []byte, grpcStatus int32) error {
	return sendLocalResponse(status, "", headers, body, grpcStatus)
}

func sendLocalResponse(status uint32, details string, headers [][2]string, body []byte, grpcStatus int32) error {
	h, hn := bytesPtr(encodeMap(&mapScratch, headers))
	b, bn := bytesPtr(body)
	st := proxySendLocalResponse(status, details, b, bn, h, hn, grpcStatus)
	runtime.KeepAlive(body)
	trimScratch(&mapScratch)
	return statusErr(abi.FuncSendLocalResponse, st)
}

// ResumeHTTPRequest resumes a request paused by ActionPause, typically from
// an HTTP callout's callback.
func ResumeHTTPRequest() error {
	return statusErr(abi.FuncContinueStream, proxyContinueStream(uint32(abi.StreamHTTPRequest)))
}

// ResumeHTTPResponse resumes a response paused by ActionPause.
func ResumeHTTPResponse() error {
	return statusErr(abi.FuncContinueStream, proxyContinueStream(uint32(abi.StreamHTTPResponse)))
}

// SetEffectiveContext makes contextID (the id NewHTTPContext or
// SetNewRootContext received) the context that the following header,
// body, property and stream calls act on, until the callback returns or
// the next SetEffectiveContext. Use it where one result serves several
// requests: a callout callback or OnTick resumes or answers each request
// that was paused waiting for it, and a request can dispatch a callout
// from its root context (SetEffectiveContext(rootID) before
// DispatchHTTPCall), so that the callback runs even if that request ends
// first. ErrBadArgument when the context is unknown or its request has
// ended.
func SetEffectiveContext(contextID uint32) error {
	if err := statusErr(abi.FuncSetEffectiveContext, proxySetEffectiveContext(contextID)); err != nil {
		return err
	}
	state.current = contextID
	return nil
}
