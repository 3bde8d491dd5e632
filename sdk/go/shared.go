package sdk

import (
	"runtime"

	"github.com/wasmgate/wasmgate/abi"
)

// Shared data is a key-value store shared by every instance of every plugin
// with the same VM id; shared queues carry items between them. Plugin
// globals are per instance (wasmgate runs a pool of instances per plugin),
// so state that must be seen by all requests belongs here.

// GetSharedData returns the value of key and its CAS token, or
// ErrNotFound.
func GetSharedData(key string) (value []byte, cas uint32, err error) {
	st := proxyGetSharedData(key, &retPtr, &retSize, &retExtra)
	runtime.KeepAlive(key)
	if err := statusErr(abi.FuncGetSharedData, st); err != nil {
		return nil, 0, err
	}
	cas = retExtra
	value, err = takeResult(retPtr, retSize)
	if err != nil {
		return nil, 0, err
	}
	return value, cas, nil
}

// SetSharedData stores value under key. With cas 0 it always writes;
// otherwise the write happens only if the key still has that CAS token
// (from GetSharedData), else ErrCASMismatch: read again and retry.
//
// There is no "create if absent": GetSharedData of a missing key returns
// ErrNotFound and cas 0, and two writers that both saw it missing both
// succeed. Create keys that are updated concurrently in OnPluginStart
// (instances start one at a time).
func SetSharedData(key string, value []byte, cas uint32) error {
	p, n := bytesPtr(value)
	st := proxySetSharedData(key, p, n, cas)
	runtime.KeepAlive(value)
	return statusErr(abi.FuncSetSharedData, st)
}

// RegisterSharedQueue creates (or opens) the queue name of this VM id and
// subscribes this instance's root context to OnQueueReady for it.
func RegisterSharedQueue(name string) (queueID uint32, err error) {
	st := proxyRegisterSharedQueue(name, &retExtra)
	if err := statusErr(abi.FuncRegisterSharedQueue, st); err != nil {
		return 0, err
	}
	return retExtra, nil
}

// ResolveSharedQueue returns the id of a queue registered by a plugin of
// vmID ("" for this plugin's VM id), or ErrNotFound.
func ResolveSharedQueue(vmID, name string) (queueID uint32, err error) {
	st := proxyResolveSharedQueue(vmID, name, &retExtra)
	if err := statusErr(abi.FuncResolveSharedQueue, st); err != nil {
		return 0, err
	}
	return retExtra, nil
}

// EnqueueSharedQueue appends an item to a queue.
func EnqueueSharedQueue(queueID uint32, data []byte) error {
	p, n := bytesPtr(data)
	st := proxyEnqueueSharedQueue(queueID, p, n)
	runtime.KeepAlive(data)
	return statusErr(abi.FuncEnqueueSharedQueue, st)
}

// DequeueSharedQueue removes and returns the oldest item of a queue, or
// ErrEmpty.
func DequeueSharedQueue(queueID uint32) ([]byte, error) {
	st := proxyDequeueSharedQueue(queueID, &retPtr, &retSize)
	if err := statusErr(abi.FuncDequeueSharedQueue, st); err != nil {
		return nil, err
	}
	return takeResult(retPtr, retSize)
}
