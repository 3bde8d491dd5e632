package wasm

import (
	"context"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/abi"
)

// HTTP calls from plugins (proxy_http_call), performed by the engine's
// HTTPCaller. The answer is delivered to the root context of the instance
// that dispatched, as proxy_on_http_call_response(root_id, token,
// num_headers, body_size, num_trailers); num_headers is 0 when the call
// failed. SDKs then switch to the dispatching stream with
// proxy_set_effective_context.
// Spec: https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#http-calls

func init() {
	register(hostFuncs, abi.FuncHTTPCall, hostHTTPCall)
}

const defaultHTTPCallTimeout = 5 * time.Second

// hostHTTPCall is proxy_http_call(upstream_ptr, upstream_size, headers_ptr,
// headers_size, body_ptr, body_size, trailers_ptr, trailers_size,
// timeout_ms, return_token_ptr) → status. BAD_ARGUMENT for an unknown
// upstream, malformed maps, or headers missing :method, :path or
// :authority.
func hostHTTPCall(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	up, ok1 := in.read(uint32(stack[0]), uint32(stack[1]))
	hb, ok2 := in.read(uint32(stack[2]), uint32(stack[3]))
	body, ok3 := in.read(uint32(stack[4]), uint32(stack[5]))
	tb, ok4 := in.read(uint32(stack[6]), uint32(stack[7]))
	retToken := uint32(stack[9])
	if !ok1 || !ok2 || !ok3 || !ok4 || !in.validOut(retToken, 4) {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	headers, err1 := abi.DecodeMap(hb)
	trailers, err2 := abi.DecodeMap(tb)
	if err1 != nil || err2 != nil {
		status(stack, abi.StatusBadArgument)
		return
	}
	f := &Fields{Pairs: headers}
	for _, h := range []string{":method", ":path", ":authority"} {
		if _, ok := f.Get(h); !ok {
			status(stack, abi.StatusBadArgument)
			return
		}
	}
	caller := in.p.e.cfg.HTTPCaller
	upstream := string(up)
	if caller == nil {
		status(stack, abi.StatusBadArgument)
		return
	}
	if c, ok := caller.(UpstreamChecker); ok && !c.HasUpstream(upstream) {
		status(stack, abi.StatusBadArgument)
		return
	}
	timeout := time.Duration(uint32(stack[8])) * time.Millisecond
	if timeout <= 0 {
		timeout = defaultHTTPCallTimeout
	}
	token := in.nextToken
	in.nextToken++
	if in.nextToken == 0 {
		in.nextToken = 1
	}
	in.httpCalls[token] = in.effective
	in.writeU32(retToken, token)
	body = append([]byte(nil), body...)
	go in.runHTTPCall(caller, token, upstream, headers, body, trailers, timeout)
	status(stack, abi.StatusOK)
}

func (in *instance) runHTTPCall(caller HTTPCaller, token uint32, upstream string, headers [][2]string, body []byte, trailers [][2]string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	resp, err := caller.HTTPCall(ctx, upstream, headers, body, trailers, timeout)
	cancel()

	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.httpCalls, token)
	fn := in.fns[cbHTTPCallResponse]
	if in.dead || in.closedMod || fn == nil {
		return
	}
	in.callResp, in.callErr = resp, ""
	if err != nil {
		in.callResp, in.callErr = nil, err.Error()
	}
	var nh, nb, nt int
	if in.callResp != nil {
		nh, nb, nt = len(resp.Headers), len(resp.Body), len(resp.Trailers)
	}
	in.enterRoot(phHTTPCallResponse)
	st := in.scratch[:5]
	st[0], st[1], st[2], st[3], st[4] = rootContextID, uint64(token), uint64(nh), uint64(nb), uint64(nt)
	_ = in.callTop(fn, abi.ExportOnHTTPCallResponse, st, in.p.cfg.CallTimeout) // a failure poisons the instance and notifies its streams
	in.callResp, in.callErr = nil, ""
	in.leave()
}
