package wasm

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/abi"
)

// The "wasmgate" extension module. Stage variables and route parameters
// read the same data as the wasmgate.stage_variables.* and
// wasmgate.route.params.* properties. The policy primitives are in
// hf_policy.go, API keys in hf_apikeys.go and the response cache in
// hf_cache.go.

func init() {
	register(extFuncs, abi.ExtGetStageVariable, extPropertyGetter(abi.PropStageVariables+"."))
	register(extFuncs, abi.ExtGetRouteParam, extPropertyGetter(abi.PropRouteParams+"."))
}

// extPropertyGetter backs get_stage_variable and get_route_param:
// (name_ptr, name_size, return_value_ptr, return_value_size) → status,
// NOT_FOUND when unset or outside a stream.
func extPropertyGetter(prefix string) api.GoModuleFunc {
	return func(ctx context.Context, _ api.Module, stack []uint64) {
		in := instanceOf(ctx)
		name, ok := in.read(uint32(stack[0]), uint32(stack[1]))
		if !ok {
			status(stack, abi.StatusInvalidMemoryAccess)
			return
		}
		if in.cur == nil {
			status(stack, abi.StatusNotFound)
			return
		}
		v, found := in.cur.host.Property(prefix + string(name))
		if !found {
			status(stack, abi.StatusNotFound)
			return
		}
		status(stack, in.returnBytes(v, uint32(stack[2]), uint32(stack[3])))
	}
}
