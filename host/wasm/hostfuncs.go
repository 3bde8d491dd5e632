package wasm

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/abi"
)

// hostFuncs maps every host function this package implements to its Go
// implementation. Functions of abi.HostFunctions and abi.ExtFunctions that
// are missing here are still exported and return UNIMPLEMENTED, so a plugin
// importing them links.
var hostFuncs = map[string]api.GoModuleFunc{}

// extFuncs is hostFuncs for the "wasmgate" extension module.
var extFuncs = map[string]api.GoModuleFunc{}

func register(table map[string]api.GoModuleFunc, name string, fn api.GoModuleFunc) {
	if _, dup := table[name]; dup {
		panic("wasm: host function registered twice: " + name)
	}
	table[name] = fn
}

// unimplemented backs every host function not built yet.
func unimplemented(_ context.Context, _ api.Module, stack []uint64) {
	stack[0] = uint64(abi.StatusUnimplemented)
}

func valueTypes(v []abi.ValType) []api.ValueType {
	out := make([]api.ValueType, len(v))
	for i, t := range v {
		out[i] = api.ValueType(t)
	}
	return out
}

func registerHostModules(ctx context.Context, rt wazero.Runtime) error {
	for _, m := range []struct {
		name  string
		sigs  map[string]abi.Signature
		impls map[string]api.GoModuleFunc
	}{
		{abi.ImportModule, abi.HostFunctions, hostFuncs},
		{abi.ExtModule, abi.ExtFunctions, extFuncs},
	} {
		b := rt.NewHostModuleBuilder(m.name)
		for name, sig := range m.sigs {
			fn := m.impls[name]
			if fn == nil {
				fn = unimplemented
			}
			b.NewFunctionBuilder().
				WithGoModuleFunction(fn, valueTypes(sig.Params), valueTypes(sig.Results)).
				WithName(name).
				Export(name)
		}
		if _, err := b.Instantiate(ctx); err != nil {
			return fmt.Errorf("wasm: host module %s: %w", m.name, err)
		}
	}
	return nil
}

type instanceKey struct{}

// callContext is the context of every call into an instance (and of the
// stores its host functions use): like context.Background, it is never
// done, and it holds the instance. A type of its own rather than a
// context.WithValue chain: wazero looks a key up in the context of every
// call and host functions look up the instance, and each walked the chain
// to its end, 2,000 instructions per request through 4 plugins.
type callContext struct{ in *instance }

func (*callContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*callContext) Done() <-chan struct{}       { return nil }
func (*callContext) Err() error                  { return nil }

func (c *callContext) Value(key any) any {
	if _, ok := key.(instanceKey); ok {
		return c.in
	}
	return nil
}

// instanceOf returns the instance a host function was called from. Every
// guest call is made with the instance's own context.
func instanceOf(ctx context.Context) *instance {
	if c, ok := ctx.(*callContext); ok {
		return c.in
	}
	return ctx.Value(instanceKey{}).(*instance)
}

func status(stack []uint64, s abi.Status) { stack[0] = uint64(s) }

// read returns a view of guest memory [ptr, ptr+size). The view aliases the
// guest's memory and is valid only until the guest runs again.
func (in *instance) read(ptr, size uint32) ([]byte, bool) {
	if size == 0 {
		return nil, ptr <= in.memory.Size()
	}
	return in.memory.Read(ptr, size)
}

// readString is read as a string view; it must not outlive the host call.
func (in *instance) readString(ptr, size uint32) (string, bool) {
	b, ok := in.read(ptr, size)
	if !ok {
		return "", false
	}
	return bytesToString(b), true
}

func (in *instance) writeU32(ptr, v uint32) bool { return in.memory.WriteUint32Le(ptr, v) }

func (in *instance) writeU64(ptr uint32, v uint64) bool { return in.memory.WriteUint64Le(ptr, v) }

// validOut reports whether n bytes at ptr can be written.
func (in *instance) validOut(ptr, n uint32) bool {
	end := uint64(ptr) + uint64(n)
	return end <= uint64(in.memory.Size())
}

// allocate asks the guest for size bytes through proxy_on_memory_allocate
// (or malloc). A trap inside the allocator propagates as a trap of the
// current guest call.
func (in *instance) allocate(size uint32) (uint32, abi.Status) {
	in.allocStack[0] = uint64(size)
	if err := in.fnAlloc.CallWithStack(in.ctx, in.allocStack[:]); err != nil {
		panic(err) // unwinds to the outer guest call, which reports the trap
	}
	ptr := uint32(in.allocStack[0])
	if ptr == 0 {
		return 0, abi.StatusInternalFailure
	}
	if !in.validOut(ptr, size) {
		return 0, abi.StatusInvalidMemoryAccess
	}
	return ptr, abi.StatusOK
}

// returnBytes copies data into guest memory allocated by the guest and
// writes its address and size to *retPtr and *retSize:
//
//	retPtr  → [u32 data address]
//	retSize → [u32 data size]
//	address → [data ...]
//
// An empty value still gets a (1-byte) allocation so SDKs that treat a NULL
// address as "absent" see an empty value.
func (in *instance) returnBytes(data []byte, retPtr, retSize uint32) abi.Status {
	return in.returnFill(len(data), retPtr, retSize, func(dst []byte) { copy(dst, data) })
}

// returnFill is returnBytes for data produced straight into guest memory.
func (in *instance) returnFill(size int, retPtr, retSize uint32, fill func(dst []byte)) abi.Status {
	if size < 0 || uint64(size) > math.MaxUint32 {
		return abi.StatusInternalFailure
	}
	if !in.validOut(retPtr, 4) || !in.validOut(retSize, 4) {
		return abi.StatusInvalidMemoryAccess
	}
	n := uint32(size)
	allocSize := n
	if allocSize == 0 {
		allocSize = 1
	}
	ptr, st := in.allocate(allocSize)
	if st != abi.StatusOK {
		return st
	}
	if n > 0 {
		dst, ok := in.memory.Read(ptr, n)
		if !ok {
			return abi.StatusInvalidMemoryAccess
		}
		fill(dst)
	}
	if !in.writeU32(retPtr, ptr) || !in.writeU32(retSize, n) {
		return abi.StatusInvalidMemoryAccess
	}
	return abi.StatusOK
}
