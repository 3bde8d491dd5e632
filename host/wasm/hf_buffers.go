package wasm

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/abi"
)

// Buffers: bodies, configurations and http-call responses.
// Spec: https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#buffers
//
// HTTP_REQUEST_BODY is available in on_request_body, HTTP_RESPONSE_BODY in
// on_response_body, VM_CONFIGURATION in on_vm_start, PLUGIN_CONFIGURATION
// in on_configure, HTTP_CALL_RESPONSE_BODY in on_http_call_response. A
// buffer not available in the current context gives NOT_FOUND; an unknown
// buffer type BAD_ARGUMENT. Configurations and http-call bodies are
// read-only (BAD_ARGUMENT on write). TCP data, gRPC messages and foreign
// function arguments are never available here (NOT_FOUND).

func init() {
	register(hostFuncs, abi.FuncGetBufferBytes, hostGetBufferBytes)
	register(hostFuncs, abi.FuncSetBufferBytes, hostSetBufferBytes)
	register(hostFuncs, abi.FuncGetBufferStatus, hostGetBufferStatus)
	register(hostFuncs, abi.FuncGetConfiguration, hostGetConfiguration)
}

// buffer resolves a buffer type. For read-only buffers buf is nil and ro
// holds the bytes.
func (in *instance) buffer(t abi.BufferType) (buf *Buffer, ro []byte, st abi.Status) {
	if !t.Valid() {
		return nil, nil, abi.StatusBadArgument
	}
	switch t {
	case abi.BufferVMConfiguration:
		if in.phase == phVMStart {
			return nil, in.p.cfg.VMConfig, abi.StatusOK
		}
	case abi.BufferPluginConfiguration:
		if in.phase == phConfigure {
			return nil, in.p.cfg.Config, abi.StatusOK
		}
	case abi.BufferHTTPCallResponseBody:
		if in.phase == phHTTPCallResponse {
			if in.callResp == nil {
				return nil, nil, abi.StatusOK
			}
			return nil, in.callResp.Body, abi.StatusOK
		}
	case abi.BufferHTTPRequestBody, abi.BufferHTTPResponseBody:
		s := in.cur
		if s == nil {
			break
		}
		// As in Envoy, the body is also reachable from the trailers
		// callback that follows it (what was buffered of it).
		if (t == abi.BufferHTTPRequestBody && (s.phase == phRequestBody || s.phase == phRequestTrailers)) ||
			(t == abi.BufferHTTPResponseBody && (s.phase == phResponseBody || s.phase == phResponseTrailers)) {
			if b := s.host.Body(t); b != nil {
				return b, nil, abi.StatusOK
			}
		}
	}
	return nil, nil, abi.StatusNotFound
}

// hostGetBufferBytes is proxy_get_buffer_bytes(buffer_type, start,
// max_size, return_data_ptr, return_size_ptr) → status, returning up to
// max_size bytes from start. BAD_ARGUMENT when start is past the end.
func hostGetBufferBytes(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	buf, data, st := in.buffer(abi.BufferType(uint32(stack[0])))
	if st != abi.StatusOK {
		status(stack, st)
		return
	}
	if buf != nil {
		data = buf.B
	}
	start, max := uint64(uint32(stack[1])), uint64(uint32(stack[2]))
	if start > uint64(len(data)) {
		status(stack, abi.StatusBadArgument)
		return
	}
	end := start + max
	if end > uint64(len(data)) {
		end = uint64(len(data))
	}
	status(stack, in.returnBytes(data[start:end], uint32(stack[3]), uint32(stack[4])))
}

// hostSetBufferBytes is proxy_set_buffer_bytes(buffer_type, start, size,
// value_ptr, value_size) → status: replaces size bytes at start with the
// value (start=0,size=0 prepends; start ≥ length appends).
func hostSetBufferBytes(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	buf, _, st := in.buffer(abi.BufferType(uint32(stack[0])))
	if st != abi.StatusOK {
		status(stack, st)
		return
	}
	if buf == nil {
		status(stack, abi.StatusBadArgument) // read-only buffer
		return
	}
	v, ok := in.read(uint32(stack[3]), uint32(stack[4]))
	if !ok {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	start, size := int(uint32(stack[1])), int(uint32(stack[2]))
	if start < 0 || size < 0 { // 32-bit platforms
		start, size = len(buf.B), 0
	}
	buf.Replace(start, size, v)
	status(stack, abi.StatusOK)
}

// hostGetBufferStatus is proxy_get_buffer_status(buffer_type,
// return_size_ptr, return_flags_ptr) → status.
func hostGetBufferStatus(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	buf, data, st := in.buffer(abi.BufferType(uint32(stack[0])))
	if st != abi.StatusOK {
		status(stack, st)
		return
	}
	if buf != nil {
		data = buf.B
	}
	if !in.writeU32(uint32(stack[1]), uint32(len(data))) || !in.writeU32(uint32(stack[2]), 0) {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	status(stack, abi.StatusOK)
}

// hostGetConfiguration is the 0.1.0 proxy_get_configuration(return_ptr,
// return_size) → status, still imported by old SDKs: the plugin
// configuration, in any context.
func hostGetConfiguration(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	status(stack, in.returnBytes(in.p.cfg.Config, uint32(stack[0]), uint32(stack[1])))
}
