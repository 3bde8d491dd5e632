// Command minimal is the smallest standard-Go Proxy-Wasm plugin: every
// callback returns at once. The host benchmarks measure call overhead with
// it.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o minimal.wasm .
package main

import "unsafe"

func main() {}

var pinned [][]byte

//go:wasmexport proxy_on_memory_allocate
func onMemoryAllocate(size uint32) uint32 {
	b := make([]byte, size)
	pinned = append(pinned[:0], b)
	return uint32(uintptr(unsafe.Pointer(&b[0])))
}

//go:wasmexport proxy_abi_version_0_2_1
func abiVersion() {}

//go:wasmexport proxy_on_context_create
func onContextCreate(id, parent uint32) {}

//go:wasmexport proxy_on_request_headers
func onRequestHeaders(id, n, eos uint32) uint32 { return 0 }

//go:wasmexport proxy_on_done
func onDone(id uint32) uint32 { return 1 }
