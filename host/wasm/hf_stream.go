package wasm

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/abi"
)

// Context lifecycle and stream control: effective context, proxy_done,
// continue/close, local responses.
// Spec: https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#context-lifecycle

func init() {
	register(hostFuncs, abi.FuncSetEffectiveContext, hostSetEffectiveContext)
	register(hostFuncs, abi.FuncDone, hostDone)
	register(hostFuncs, abi.FuncContinueStream, hostContinueStream)
	register(hostFuncs, abi.FuncCloseStream, hostCloseStream)
	register(hostFuncs, abi.FuncContinueRequest, hostContinueRequest)
	register(hostFuncs, abi.FuncContinueResponse, hostContinueResponse)
	register(hostFuncs, abi.FuncSendLocalResponse, hostSendLocalResponse)
	register(hostFuncs, abi.FuncClearRouteCache, hostClearRouteCache)
	register(hostFuncs, abi.FuncGetStatus, hostGetStatus)
}

// hostSetEffectiveContext is proxy_set_effective_context(context_id) →
// status: later host calls of this callback apply to that context (the
// root context or a live stream of this instance). BAD_ARGUMENT for an
// unknown id, e.g. a stream that has already ended.
func hostSetEffectiveContext(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	id := uint32(stack[0])
	if id == rootContextID {
		in.effective, in.cur = id, nil
		status(stack, abi.StatusOK)
		return
	}
	s, ok := in.streams.get(id)
	if !ok || (s.closed && !s.pendingDone) {
		status(stack, abi.StatusBadArgument)
		return
	}
	in.effective, in.cur = id, s
	status(stack, abi.StatusOK)
}

// hostDone is proxy_done() → status: finishes the effective stream after
// its on_done returned false (on_log and on_delete follow once the current
// callback returns). NOT_FOUND when no finalization is pending.
func hostDone(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	s := in.cur
	if s == nil || !s.pendingDone {
		status(stack, abi.StatusNotFound)
		return
	}
	s.pendingDone = false
	in.deferred = append(in.deferred, func() {
		ph, eff, cur := in.phase, in.effective, in.cur
		in.enter(s, phDone)
		_ = s.finishLocked() // a failure poisons the instance; nothing else to do
		in.phase, in.effective, in.cur = ph, eff, cur
		in.streams.delete(s.id)
		s.p.unbound(in)
	})
	status(stack, abi.StatusOK)
}

func streamOp(in *instance, t abi.StreamType, op func(StreamHost, abi.StreamType) abi.Status) abi.Status {
	switch t {
	case abi.StreamHTTPRequest, abi.StreamHTTPResponse:
	case abi.StreamDownstream, abi.StreamUpstream:
		return abi.StatusUnimplemented // no TCP filters
	default:
		return abi.StatusBadArgument
	}
	if in.cur == nil || in.cur.closed {
		return abi.StatusBadArgument
	}
	return op(in.cur.host, t)
}

// hostContinueStream is proxy_continue_stream(stream_type) → status,
// resuming a request or response the plugin paused. UNIMPLEMENTED for TCP
// stream types, BAD_ARGUMENT for unknown types or outside a stream.
func hostContinueStream(ctx context.Context, _ api.Module, stack []uint64) {
	status(stack, streamOp(instanceOf(ctx), abi.StreamType(uint32(stack[0])), StreamHost.ContinueStream))
}

// hostCloseStream is proxy_close_stream(stream_type) → status, resetting the
// request or response.
func hostCloseStream(ctx context.Context, _ api.Module, stack []uint64) {
	status(stack, streamOp(instanceOf(ctx), abi.StreamType(uint32(stack[0])), StreamHost.CloseStream))
}

// hostContinueRequest is the 0.2.0 proxy_continue_request() → status.
func hostContinueRequest(ctx context.Context, _ api.Module, stack []uint64) {
	status(stack, streamOp(instanceOf(ctx), abi.StreamHTTPRequest, StreamHost.ContinueStream))
}

// hostContinueResponse is the 0.2.0 proxy_continue_response() → status.
func hostContinueResponse(ctx context.Context, _ api.Module, stack []uint64) {
	status(stack, streamOp(instanceOf(ctx), abi.StreamHTTPResponse, StreamHost.ContinueStream))
}

// hostSendLocalResponse is proxy_send_local_response(status_code,
// details_ptr, details_size, body_ptr, body_size, headers_ptr,
// headers_size, grpc_status) → status. The stream is answered by the
// plugin. BAD_ARGUMENT outside a stream, after it ended, for a status code
// outside 200..599, or for malformed headers.
func hostSendLocalResponse(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	details, ok1 := in.read(uint32(stack[1]), uint32(stack[2]))
	body, ok2 := in.read(uint32(stack[3]), uint32(stack[4]))
	hdrs, ok3 := in.read(uint32(stack[5]), uint32(stack[6]))
	if !ok1 || !ok2 || !ok3 {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	code := uint32(stack[0])
	s := in.cur
	if s == nil || s.closed || s.phase == phDone || code < 200 || code > 599 {
		status(stack, abi.StatusBadArgument)
		return
	}
	pairs, err := abi.DecodeMap(hdrs)
	if err != nil {
		status(stack, abi.StatusBadArgument)
		return
	}
	status(stack, s.host.SendLocalResponse(&LocalResponse{
		StatusCode:    int(code),
		StatusDetails: string(details),
		Body:          append([]byte(nil), body...),
		Headers:       pairs,
		GRPCStatus:    int32(uint32(stack[7])),
	}))
}

// hostClearRouteCache is the 0.2.0 proxy_clear_route_cache() → OK. Routes
// are matched once per request before the pipeline runs, so there is
// nothing to clear.
func hostClearRouteCache(_ context.Context, _ api.Module, stack []uint64) {
	status(stack, abi.StatusOK)
}

// hostGetStatus is proxy_get_status(return_code_ptr, return_message_ptr,
// return_message_size) → status. Inside on_http_call_response it reports
// the call's HTTP status (0 and the error text when the call failed);
// elsewhere 0 and an empty message.
func hostGetStatus(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	var code uint32
	msg := ""
	if in.phase == phHTTPCallResponse {
		if in.callResp != nil {
			if v, ok := (&Fields{Pairs: in.callResp.Headers}).Get(":status"); ok {
				code = atou32(v)
			}
		} else {
			msg = in.callErr
		}
	}
	if !in.writeU32(uint32(stack[0]), code) {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	status(stack, in.returnBytes([]byte(msg), uint32(stack[1]), uint32(stack[2])))
}

func atou32(s string) uint32 {
	var n uint32
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + uint32(c-'0')
	}
	return n
}
