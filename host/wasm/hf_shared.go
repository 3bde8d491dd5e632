package wasm

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/abi"
)

// Shared key-value store, shared by every instance of every plugin with the
// same VM id (PluginConfig.VMID) in the engine.
// Spec: https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#shared-key-value-store

func init() {
	register(hostFuncs, abi.FuncGetSharedData, hostGetSharedData)
	register(hostFuncs, abi.FuncSetSharedData, hostSetSharedData)
}

type sharedEntry struct {
	value []byte
	cas   uint32
}

type sharedData struct {
	mu    sync.RWMutex
	m     map[string]*sharedEntry
	size  int
	limit int
	cas   uint32
}

func (d *sharedData) init(limit int) {
	d.m = map[string]*sharedEntry{}
	d.limit = limit
}

func sharedKey(vmID string, key []byte) string {
	return vmID + "\x00" + string(key)
}

// get returns a copy-free view of the value; callers copy it out.
func (d *sharedData) get(key string) ([]byte, uint32, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	e, ok := d.m[key]
	if !ok {
		return nil, 0, false
	}
	return e.value, e.cas, true
}

// set stores value when cas is 0 or matches the entry's current cas.
func (d *sharedData) set(key string, value []byte, cas uint32) abi.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[key]
	if ok && cas != 0 && cas != e.cas {
		return abi.StatusCASMismatch
	}
	if !ok && cas != 0 {
		return abi.StatusCASMismatch
	}
	delta := len(value)
	if ok {
		delta -= len(e.value)
	} else {
		delta += len(key)
	}
	if d.size+delta > d.limit {
		return abi.StatusInternalFailure
	}
	d.size += delta
	d.cas++
	if d.cas == 0 {
		d.cas = 1
	}
	if !ok {
		e = &sharedEntry{}
		d.m[key] = e
	}
	e.value = append([]byte(nil), value...)
	e.cas = d.cas
	return abi.StatusOK
}

// hostGetSharedData is proxy_get_shared_data(key_ptr, key_size,
// return_value_ptr, return_value_size, return_cas_ptr) → status. NOT_FOUND
// for a missing key.
//
//	return_cas_ptr → [u32 cas]  (pass it to proxy_set_shared_data)
func hostGetSharedData(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	key, ok := in.read(uint32(stack[0]), uint32(stack[1]))
	if !ok || !in.validOut(uint32(stack[4]), 4) {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	var v []byte
	var cas uint32
	var found bool
	if ext := in.p.e.cfg.SharedStore; ext != nil {
		var err error
		if v, cas, found, err = ext.GetShared(in.ctx, sharedKey(in.p.cfg.VMID, key)); err != nil {
			in.sharedStoreFailed("get", err)
			status(stack, abi.StatusInternalFailure)
			return
		}
	} else {
		v, cas, found = in.p.e.shared.get(sharedKey(in.p.cfg.VMID, key))
	}
	if !found {
		status(stack, abi.StatusNotFound)
		return
	}
	if st := in.returnBytes(v, uint32(stack[2]), uint32(stack[3])); st != abi.StatusOK {
		status(stack, st)
		return
	}
	in.writeU32(uint32(stack[4]), cas)
	status(stack, abi.StatusOK)
}

// hostSetSharedData is proxy_set_shared_data(key_ptr, key_size, value_ptr,
// value_size, cas) → status. A non-zero cas must match the value returned
// by the last get (CAS_MISMATCH otherwise). INTERNAL_FAILURE when the
// engine's shared data limit would be exceeded.
func hostSetSharedData(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	key, ok1 := in.read(uint32(stack[0]), uint32(stack[1]))
	v, ok2 := in.read(uint32(stack[2]), uint32(stack[3]))
	if !ok1 || !ok2 {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	k, cas := sharedKey(in.p.cfg.VMID, key), uint32(stack[4])
	ext := in.p.e.cfg.SharedStore
	if ext == nil {
		status(stack, in.p.e.shared.set(k, v, cas))
		return
	}
	matched, err := ext.SetShared(in.ctx, k, v, cas)
	switch {
	case err != nil:
		in.sharedStoreFailed("set", err)
		status(stack, abi.StatusInternalFailure)
	case !matched:
		status(stack, abi.StatusCASMismatch)
	default:
		status(stack, abi.StatusOK)
	}
}

// sharedStoreFailed logs an external shared-data store failure at most
// once per 10 s per engine (the plugin sees INTERNAL_FAILURE each time).
func (in *instance) sharedStoreFailed(op string, err error) {
	e := in.p.e
	now := time.Now().UnixNano()
	last := e.sharedErrAt.Load()
	if now-last < int64(10*time.Second) || !e.sharedErrAt.CompareAndSwap(last, now) {
		return
	}
	in.log(abi.LogWarn, fmt.Sprintf("shared data %s failed (%v): the plugin gets INTERNAL_FAILURE until the store answers", op, err))
}
