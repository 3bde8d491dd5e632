package wasm

import (
	"context"
	"sync"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/abi"
)

// Shared queues, named per VM id. proxy_on_queue_ready goes to the root
// context of one live instance that registered the queue (round robin).
// Spec: https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#shared-queues

func init() {
	register(hostFuncs, abi.FuncRegisterSharedQueue, hostRegisterSharedQueue)
	register(hostFuncs, abi.FuncResolveSharedQueue, hostResolveSharedQueue)
	register(hostFuncs, abi.FuncEnqueueSharedQueue, hostEnqueueSharedQueue)
	register(hostFuncs, abi.FuncDequeueSharedQueue, hostDequeueSharedQueue)
}

type sharedQueue struct {
	items [][]byte
	subs  []*instance
	rr    int
}

type queueRegistry struct {
	mu     sync.Mutex
	byName map[string]uint32
	queues map[uint32]*sharedQueue
	next   uint32
	limit  int
}

func (r *queueRegistry) init(limit int) {
	r.byName = map[string]uint32{}
	r.queues = map[uint32]*sharedQueue{}
	r.limit = limit
}

func (r *queueRegistry) register(name string, in *instance) uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.byName[name]
	if !ok {
		r.next++
		id = r.next
		r.byName[name] = id
		r.queues[id] = &sharedQueue{}
	}
	q := r.queues[id]
	for _, s := range q.subs {
		if s == in {
			return id
		}
	}
	q.subs = append(q.subs, in)
	return id
}

func (r *queueRegistry) resolve(name string) (uint32, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.byName[name]
	return id, ok
}

// enqueue adds an item and returns the instance to notify, if any.
func (r *queueRegistry) enqueue(id uint32, item []byte) (*instance, abi.Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.queues[id]
	if !ok {
		return nil, abi.StatusNotFound
	}
	if len(q.items) >= r.limit {
		return nil, abi.StatusInternalFailure
	}
	q.items = append(q.items, append([]byte(nil), item...))
	// Drop subscribers whose instance is gone; pick the next live one.
	live := q.subs[:0]
	for _, s := range q.subs {
		if !s.gone.Load() {
			live = append(live, s)
		}
	}
	q.subs = live
	if len(live) == 0 {
		return nil, abi.StatusOK
	}
	q.rr++
	return live[q.rr%len(live)], abi.StatusOK
}

func (r *queueRegistry) dequeue(id uint32) ([]byte, abi.Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.queues[id]
	if !ok {
		return nil, abi.StatusNotFound
	}
	if len(q.items) == 0 {
		return nil, abi.StatusEmpty
	}
	item := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	return item, abi.StatusOK
}

// hostRegisterSharedQueue is proxy_register_shared_queue(name_ptr,
// name_size, return_id_ptr) → status. Registering an existing name opens
// it and subscribes this instance's root context to on_queue_ready.
func hostRegisterSharedQueue(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	name, ok := in.read(uint32(stack[0]), uint32(stack[1]))
	if !ok || !in.validOut(uint32(stack[2]), 4) {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	id := in.p.e.queues.register(sharedKey(in.p.cfg.VMID, name), in)
	in.writeU32(uint32(stack[2]), id)
	status(stack, abi.StatusOK)
}

// hostResolveSharedQueue is proxy_resolve_shared_queue(vm_id_ptr,
// vm_id_size, name_ptr, name_size, return_id_ptr) → status. An empty vm_id
// means the plugin's own. NOT_FOUND when no such queue was registered.
func hostResolveSharedQueue(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	vm, ok1 := in.read(uint32(stack[0]), uint32(stack[1]))
	name, ok2 := in.read(uint32(stack[2]), uint32(stack[3]))
	if !ok1 || !ok2 || !in.validOut(uint32(stack[4]), 4) {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	vmID := string(vm)
	if vmID == "" {
		vmID = in.p.cfg.VMID
	}
	id, found := in.p.e.queues.resolve(sharedKey(vmID, name))
	if !found {
		status(stack, abi.StatusNotFound)
		return
	}
	in.writeU32(uint32(stack[4]), id)
	status(stack, abi.StatusOK)
}

// hostEnqueueSharedQueue is proxy_enqueue_shared_queue(queue_id, value_ptr,
// value_size) → status. NOT_FOUND for an unknown queue, INTERNAL_FAILURE
// when the queue is full (EngineConfig.QueueLimit).
func hostEnqueueSharedQueue(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	v, ok := in.read(uint32(stack[1]), uint32(stack[2]))
	if !ok {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	id := uint32(stack[0])
	sub, st := in.p.e.queues.enqueue(id, v)
	if sub != nil {
		go sub.rootCall(cbQueueReady, phRoot, rootContextID, uint64(id))
	}
	status(stack, st)
}

// hostDequeueSharedQueue is proxy_dequeue_shared_queue(queue_id,
// return_value_ptr, return_value_size) → status. EMPTY when there is
// nothing queued, NOT_FOUND for an unknown queue.
func hostDequeueSharedQueue(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	if !in.validOut(uint32(stack[1]), 4) || !in.validOut(uint32(stack[2]), 4) {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	item, st := in.p.e.queues.dequeue(uint32(stack[0]))
	if st != abi.StatusOK {
		status(stack, st)
		return
	}
	status(stack, in.returnBytes(item, uint32(stack[1]), uint32(stack[2])))
}
