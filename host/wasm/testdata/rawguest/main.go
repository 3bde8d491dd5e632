// Command rawguest is a standard-Go Proxy-Wasm plugin written against the
// raw ABI (no SDK), used by the host's own tests and benchmarks. Its
// behaviour is chosen per request by headers:
//
//	x-deny: 1   → 403 local response
//	x-loop: 1   → loops forever in on_request_headers
//	x-spin-ms: N → busy for N milliseconds in on_request_headers
//	x-panic: 1  → Go panic (the runtime aborts: a trap)
//	x-bomb: 1   → allocates until the memory limit
//	otherwise   → adds "x-added: <config>" to the request and
//	              "x-plugin: rawguest" to the response
//
// Its configuration is a header value; the configuration "reject" makes
// proxy_on_configure return false, and "roundtrip" makes every request
// read all request headers and write them back (a benchmark).
//
// Built by the tests through internal/wasmbuild:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o rawguest.wasm .
package main

import (
	"strconv"
	"time"
	"unsafe"
)

func main() {}

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg unsafe.Pointer, size uint32) uint32

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(t, start, max uint32, retPtr unsafe.Pointer, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(t uint32, k unsafe.Pointer, kl uint32, retPtr unsafe.Pointer, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_add_header_map_value
func proxyAddHeaderMapValue(t uint32, k unsafe.Pointer, kl uint32, v unsafe.Pointer, vl uint32) uint32

//go:wasmimport env proxy_get_header_map_pairs
func proxyGetHeaderMapPairs(t uint32, retPtr unsafe.Pointer, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_set_header_map_pairs
func proxySetHeaderMapPairs(t uint32, p unsafe.Pointer, n uint32) uint32

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(code uint32, d unsafe.Pointer, dl uint32, b unsafe.Pointer, bl uint32, h unsafe.Pointer, hl uint32, grpc int32) uint32

var pinned [][]byte

//go:wasmexport proxy_on_memory_allocate
func onMemoryAllocate(size uint32) uint32 {
	b := make([]byte, size)
	pinned = append(pinned, b)
	return uint32(uintptr(unsafe.Pointer(&b[0])))
}

//go:wasmexport proxy_abi_version_0_2_1
func abiVersion() {}

var config string

func str(s string) (unsafe.Pointer, uint32) {
	if len(s) == 0 {
		return nil, 0
	}
	return unsafe.Pointer(unsafe.StringData(s)), uint32(len(s))
}

func logInfo(s string) {
	p, n := str(s)
	proxyLog(2, p, n)
}

func result(ptr, size uint32) []byte {
	pinned = pinned[:0]
	if ptr == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(uintptr(ptr))), size)
}

func header(mapType uint32, name string) (string, bool) {
	var ptr, size uint32
	k, kl := str(name)
	if proxyGetHeaderMapValue(mapType, k, kl, unsafe.Pointer(&ptr), unsafe.Pointer(&size)) != 0 {
		return "", false
	}
	return string(result(ptr, size)), true
}

func addHeader(mapType uint32, name, value string) {
	k, kl := str(name)
	v, vl := str(value)
	proxyAddHeaderMapValue(mapType, k, kl, v, vl)
}

//go:wasmexport proxy_on_context_create
func onContextCreate(id, parent uint32) {}

//go:wasmexport proxy_on_vm_start
func onVMStart(id, size uint32) uint32 { return 1 }

//go:wasmexport proxy_on_configure
func onConfigure(id, size uint32) uint32 {
	var ptr, n uint32
	if size > 0 {
		if proxyGetBufferBytes(7, 0, size, unsafe.Pointer(&ptr), unsafe.Pointer(&n)) != 0 {
			return 0
		}
		config = string(result(ptr, n))
	}
	if config == "reject" {
		logInfo("rawguest: configuration rejected on purpose")
		return 0
	}
	return 1
}

var sink [][]byte

//go:wasmexport proxy_on_request_headers
func onRequestHeaders(id, n, eos uint32) uint32 {
	if config == "roundtrip" {
		// Read the whole map and write it back: the header-map benchmark.
		var ptr, size uint32
		if proxyGetHeaderMapPairs(0, unsafe.Pointer(&ptr), unsafe.Pointer(&size)) != 0 {
			return 0
		}
		b := result(ptr, size)
		proxySetHeaderMapPairs(0, unsafe.Pointer(&b[0]), size)
		return 0
	}
	if _, ok := header(0, "x-deny"); ok {
		body := "denied by rawguest"
		b, bl := str(body)
		d, dl := str("rawguest_deny")
		proxySendLocalResponse(403, d, dl, b, bl, nil, 0, -1)
		return 1
	}
	if v, ok := header(0, "x-spin-ms"); ok {
		n, _ := strconv.Atoi(v)
		for t0 := time.Now(); time.Since(t0) < time.Duration(n)*time.Millisecond; {
		}
	}
	if _, ok := header(0, "x-loop"); ok {
		for i := 0; ; i++ {
			if i < 0 {
				return 0
			}
		}
	}
	if _, ok := header(0, "x-panic"); ok {
		panic("rawguest: panic requested")
	}
	if _, ok := header(0, "x-bomb"); ok {
		for {
			sink = append(sink, make([]byte, 1<<20))
		}
	}
	addHeader(0, "x-added", config)
	return 0
}

//go:wasmexport proxy_on_response_headers
func onResponseHeaders(id, n, eos uint32) uint32 {
	addHeader(2, "x-plugin", "rawguest")
	return 0
}

//go:wasmexport proxy_on_done
func onDone(id uint32) uint32 { return 1 }

//go:wasmexport proxy_on_log
func onLog(id uint32) {}

//go:wasmexport proxy_on_delete
func onDelete(id uint32) {}
