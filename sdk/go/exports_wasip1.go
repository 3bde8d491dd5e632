//go:build wasip1

package sdk

import (
	"unsafe"

	"github.com/wasmgate/wasmgate/abi"
)

// The callbacks the host calls (Proxy-Wasm 0.2.1 exports), as thin shims
// over the dispatcher. Booleans and actions are returned as i32.

//go:wasmexport proxy_abi_version_0_2_1
func proxyABIVersion021() {}

//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) uint32 { return allocate(size) }

//go:wasmexport proxy_on_context_create
func proxyOnContextCreate(contextID, parentContextID uint32) {
	state.onContextCreate(contextID, parentContextID)
}

//go:wasmexport proxy_on_vm_start
func proxyOnVMStart(rootContextID, vmConfigSize uint32) uint32 {
	return b2u(state.onVMStart(rootContextID, int(vmConfigSize)))
}

//go:wasmexport proxy_on_configure
func proxyOnConfigure(rootContextID, configSize uint32) uint32 {
	return b2u(state.onConfigure(rootContextID, int(configSize)))
}

//go:wasmexport proxy_on_tick
func proxyOnTick(rootContextID uint32) { state.onTick(rootContextID) }

//go:wasmexport proxy_on_queue_ready
func proxyOnQueueReady(rootContextID, queueID uint32) {
	state.onQueueReady(rootContextID, queueID)
}

//go:wasmexport proxy_on_done
func proxyOnDone(contextID uint32) uint32 { return b2u(state.onDone(contextID)) }

//go:wasmexport proxy_on_log
func proxyOnLog(contextID uint32) { state.onLog(contextID) }

//go:wasmexport proxy_on_delete
func proxyOnDelete(contextID uint32) { state.onDelete(contextID) }

// The header callbacks, every request's, run a shared HTTP context
// without httpCall's level (httpShared): the same steps, the callback
// called here. a is PAUSE until it returns, the answer after a panic
// (httpRecover answered the request with a 500).

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeaders(contextID, numHeaders, endOfStream uint32) (a uint32) {
	c := state.httpShared(contextID, cbRequestHeaders)
	if c == nil {
		return answer(state.httpCall(contextID, cbRequestHeaders, int(numHeaders), endOfStream != 0))
	}
	a = uint32(ActionPause)
	defer httpRecover()
	a = uint32(c.OnHTTPRequestHeaders(int(numHeaders), endOfStream != 0))
	state.inHTTP = false
	return a
}

//go:wasmexport proxy_on_request_body
func proxyOnRequestBody(contextID, bodySize, endOfStream uint32) uint32 {
	return answer(state.httpCall(contextID, cbRequestBody, int(bodySize), endOfStream != 0))
}

//go:wasmexport proxy_on_request_trailers
func proxyOnRequestTrailers(contextID, numTrailers uint32) uint32 {
	return answer(state.httpCall(contextID, cbRequestTrailers, int(numTrailers), false))
}

//go:wasmexport proxy_on_response_headers
func proxyOnResponseHeaders(contextID, numHeaders, endOfStream uint32) (a uint32) {
	c := state.httpShared(contextID, cbResponseHeaders)
	if c == nil {
		return answer(state.httpCall(contextID, cbResponseHeaders, int(numHeaders), endOfStream != 0))
	}
	a = uint32(ActionPause)
	defer httpRecover()
	a = uint32(c.OnHTTPResponseHeaders(int(numHeaders), endOfStream != 0))
	state.inHTTP = false
	return a
}

//go:wasmexport proxy_on_response_body
func proxyOnResponseBody(contextID, bodySize, endOfStream uint32) uint32 {
	return answer(state.httpCall(contextID, cbResponseBody, int(bodySize), endOfStream != 0))
}

//go:wasmexport proxy_on_response_trailers
func proxyOnResponseTrailers(contextID, numTrailers uint32) uint32 {
	return answer(state.httpCall(contextID, cbResponseTrailers, int(numTrailers), false))
}

//go:wasmexport proxy_on_http_call_response
func proxyOnHTTPCallResponse(rootContextID, token, numHeaders, bodySize, numTrailers uint32) {
	state.onHTTPCallResponse(rootContextID, token, int(numHeaders), int(bodySize), int(numTrailers))
}

// wasmgate_delete_ring gives the host the dispatcher's delete ring:
// ended streams cost no proxy_on_delete call.
//
//go:wasmexport wasmgate_delete_ring
func wasmgateDeleteRing() uint32 {
	return uint32(uintptr(unsafe.Pointer(&state.deletes)))
}

//go:wasmexport wasmgate_yield
func wasmgateYield() { yield() }

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// wasmgate_hooks also declares abi.HookLazyContexts: the dispatcher
// creates HTTP contexts on their first callback (dispatcher.httpCall,
// lazyParent) and its on_done returns true for them.
//
//go:wasmexport wasmgate_hooks
func wasmgateHooks() uint32 { return uint32(declaredHooks) | abi.HookLazyContexts }
