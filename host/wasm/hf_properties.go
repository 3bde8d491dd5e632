package wasm

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/abi"
)

// Properties.
// Spec: https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#properties
//
// Paths arrive NUL-separated ("request\0path") and are handed to the
// gateway dotted ("request.path"). The plugin's own identity (plugin_name,
// plugin_root_id, plugin_vm_id, wasmgate.plugin.digest) is answered here
// in every context; everything else comes from the stream's StreamHost, so
// the root context sees NOT_FOUND for request properties.

func init() {
	register(hostFuncs, abi.FuncGetProperty, hostGetProperty)
	register(hostFuncs, abi.FuncSetProperty, hostSetProperty)
}

func (in *instance) pluginProperty(path string) ([]byte, bool) {
	switch path {
	case abi.PropPluginName:
		return []byte(in.p.cfg.Name), true
	case abi.PropPluginRootID:
		return []byte(in.p.cfg.RootID), true
	case abi.PropPluginVMID:
		return []byte(in.p.cfg.VMID), true
	case abi.PropPluginDigest:
		return []byte(in.p.m.digest), true
	}
	return nil, false
}

// hostGetProperty is proxy_get_property(path_ptr, path_size,
// return_value_ptr, return_value_size) → status. NOT_FOUND for unknown
// paths.
func hostGetProperty(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	raw, ok := in.read(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	path := abi.DottedPath(raw)
	v, found := in.pluginProperty(path)
	if !found && in.cur != nil {
		v, found = in.cur.host.Property(path)
	}
	if !found {
		status(stack, abi.StatusNotFound)
		return
	}
	status(stack, in.returnBytes(v, uint32(stack[2]), uint32(stack[3])))
}

// hostSetProperty is proxy_set_property(path_ptr, path_size, value_ptr,
// value_size) → status. Only stream contexts can set properties; the
// gateway decides which paths are writable (NOT_FOUND otherwise).
func hostSetProperty(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	raw, ok1 := in.read(uint32(stack[0]), uint32(stack[1]))
	v, ok2 := in.read(uint32(stack[2]), uint32(stack[3]))
	if !ok1 || !ok2 {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	if in.cur == nil {
		status(stack, abi.StatusNotFound)
		return
	}
	status(stack, in.cur.host.SetProperty(abi.DottedPath(raw), append([]byte(nil), v...)))
}
