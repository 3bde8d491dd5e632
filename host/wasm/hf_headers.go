package wasm

import (
	"context"
	"encoding/binary"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/abi"
)

// HTTP fields: header and trailer maps.
// Spec: https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#http-fields
//
// Availability follows the spec: request headers/trailers are readable
// from on_request_headers on (including on_log) and writable during the
// request phases; response headers/trailers likewise from
// on_response_headers; http-call response maps only inside
// on_http_call_response. A map that is not available in the current
// context (for example request headers on the root context) gives
// BAD_ARGUMENT, like an unknown map type.

func init() {
	register(hostFuncs, abi.FuncGetHeaderMapSize, hostGetHeaderMapSize)
	register(hostFuncs, abi.FuncGetHeaderMapPairs, hostGetHeaderMapPairs)
	register(hostFuncs, abi.FuncSetHeaderMapPairs, hostSetHeaderMapPairs)
	register(hostFuncs, abi.FuncGetHeaderMapValue, hostGetHeaderMapValue)
	register(hostFuncs, abi.FuncAddHeaderMapValue, hostAddHeaderMapValue)
	register(hostFuncs, abi.FuncReplaceHeaderMapValue, hostReplaceHeaderMapValue)
	register(hostFuncs, abi.FuncRemoveHeaderMapValue, hostRemoveHeaderMapValue)
}

var emptyFields = &Fields{}

// headerMap resolves a map type in the effective context. A map the
// gateway does not have (no trailers) reads as empty.
func (in *instance) headerMap(t abi.MapType, write bool) (HeaderMap, abi.Status) {
	switch t {
	case abi.MapHTTPCallResponseHeaders, abi.MapHTTPCallResponseTrailers:
		if in.phase != phHTTPCallResponse || write {
			return nil, abi.StatusBadArgument
		}
		if in.callResp == nil {
			return emptyFields, abi.StatusOK
		}
		if t == abi.MapHTTPCallResponseHeaders {
			return &Fields{Pairs: in.callResp.Headers}, abi.StatusOK
		}
		return &Fields{Pairs: in.callResp.Trailers}, abi.StatusOK
	case abi.MapHTTPRequestHeaders, abi.MapHTTPRequestTrailers, abi.MapHTTPResponseHeaders, abi.MapHTTPResponseTrailers:
	default:
		return nil, abi.StatusBadArgument // unknown, or gRPC metadata (no gRPC calls)
	}
	s := in.cur
	if s == nil {
		return nil, abi.StatusBadArgument
	}
	ph := s.phase
	var readable, writable bool
	if t == abi.MapHTTPRequestHeaders || t == abi.MapHTTPRequestTrailers {
		readable = ph >= phRequestHeaders
		writable = ph >= phRequestHeaders && ph <= phRequestTrailers
	} else {
		readable = ph >= phResponseHeaders
		writable = ph >= phResponseHeaders && ph <= phResponseTrailers
	}
	if !readable || (write && !writable) {
		return nil, abi.StatusBadArgument
	}
	m := s.host.Headers(t)
	if m == nil {
		if write {
			return nil, abi.StatusBadArgument
		}
		return emptyFields, abi.StatusOK
	}
	return m, abi.StatusOK
}

func mapSize(m HeaderMap) (n, size int) {
	m.Range(func(k, v string) bool {
		n++
		size += 8 + len(k) + len(v) + 2
		return true
	})
	if n == 0 {
		return 0, 0
	}
	return n, size + 4
}

// encodeMapInto writes the serialization of m into dst, which has exactly
// the size computed by mapSize.
func encodeMapInto(dst []byte, m HeaderMap, n int) {
	binary.LittleEndian.PutUint32(dst, uint32(n))
	sizes := 4
	data := 4 + 8*n
	m.Range(func(k, v string) bool {
		binary.LittleEndian.PutUint32(dst[sizes:], uint32(len(k)))
		binary.LittleEndian.PutUint32(dst[sizes+4:], uint32(len(v)))
		sizes += 8
		data += copy(dst[data:], k)
		dst[data] = 0
		data++
		data += copy(dst[data:], v)
		dst[data] = 0
		data++
		return true
	})
}

// hostGetHeaderMapSize is proxy_get_header_map_size(map_type,
// return_size_ptr) → status, writing the serialized size of the map.
func hostGetHeaderMapSize(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	m, st := in.headerMap(abi.MapType(uint32(stack[0])), false)
	if st != abi.StatusOK {
		status(stack, st)
		return
	}
	_, size := mapSize(m)
	if !in.writeU32(uint32(stack[1]), uint32(size)) {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	status(stack, abi.StatusOK)
}

// hostGetHeaderMapPairs is proxy_get_header_map_pairs(map_type,
// return_data_ptr, return_size_ptr) → status. The map is serialized
// straight into guest memory allocated by the guest:
//
//	data → [u32 n][u32 klen, u32 vlen]×n[key\0 value\0]×n
func hostGetHeaderMapPairs(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	m, st := in.headerMap(abi.MapType(uint32(stack[0])), false)
	if st != abi.StatusOK {
		status(stack, st)
		return
	}
	n, size := mapSize(m)
	status(stack, in.returnFill(size, uint32(stack[1]), uint32(stack[2]), func(dst []byte) {
		encodeMapInto(dst, m, n)
	}))
}

// hostSetHeaderMapPairs is proxy_set_header_map_pairs(map_type, data_ptr,
// data_size) → status, replacing the whole map. BAD_ARGUMENT when the
// serialization is malformed.
func hostSetHeaderMapPairs(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	m, st := in.headerMap(abi.MapType(uint32(stack[0])), true)
	if st != abi.StatusOK {
		status(stack, st)
		return
	}
	b, ok := in.read(uint32(stack[1]), uint32(stack[2]))
	if !ok {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	pairs, err := abi.DecodeMap(b)
	if err != nil {
		status(stack, abi.StatusBadArgument)
		return
	}
	m.Reset(pairs)
	status(stack, abi.StatusOK)
}

// hostGetHeaderMapValue is proxy_get_header_map_value(map_type, key_ptr,
// key_size, return_value_ptr, return_value_size) → status. NOT_FOUND when
// the key is absent; with several values, the first.
func hostGetHeaderMapValue(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	m, st := in.headerMap(abi.MapType(uint32(stack[0])), false)
	if st != abi.StatusOK {
		status(stack, st)
		return
	}
	key, ok := in.readString(uint32(stack[1]), uint32(stack[2]))
	if !ok {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	v, found := m.Get(key)
	if !found {
		status(stack, abi.StatusNotFound)
		return
	}
	status(stack, in.returnFill(len(v), uint32(stack[3]), uint32(stack[4]), func(dst []byte) { copy(dst, v) }))
}

// readKV reads the key and value arguments of add/replace as copies,
// the key in lower case (the way Fields keeps names, so its comparisons
// match at the first test and Add has nothing to convert). A Fields map
// keeps the copies in its own buffer (Fields.intern).
func (in *instance) readKV(m HeaderMap, stack []uint64) (key, value string, st abi.Status) {
	k, ok1 := in.read(uint32(stack[1]), uint32(stack[2]))
	v, ok2 := in.read(uint32(stack[3]), uint32(stack[4]))
	if !ok1 || !ok2 {
		return "", "", abi.StatusInvalidMemoryAccess
	}
	f, ok := m.(*Fields)
	if !ok {
		f = &Fields{}
	}
	key, value = f.intern(k, v)
	return key, value, abi.StatusOK
}

// hostAddHeaderMapValue is proxy_add_header_map_value(map_type, key_ptr,
// key_size, value_ptr, value_size) → status, appending a pair.
func hostAddHeaderMapValue(ctx context.Context, _ api.Module, stack []uint64) {
	writeKV(instanceOf(ctx), stack, HeaderMap.Add)
}

// hostReplaceHeaderMapValue is proxy_replace_header_map_value(map_type,
// key_ptr, key_size, value_ptr, value_size) → status, setting the key to
// one value (adding it when absent).
func hostReplaceHeaderMapValue(ctx context.Context, _ api.Module, stack []uint64) {
	writeKV(instanceOf(ctx), stack, HeaderMap.Set)
}

// writeKV backs add and replace: it resolves the map for writing, reads
// the key and value (copied), and applies op.
func writeKV(in *instance, stack []uint64, op func(HeaderMap, string, string)) {
	m, st := in.headerMap(abi.MapType(uint32(stack[0])), true)
	if st == abi.StatusOK {
		var k, v string
		if k, v, st = in.readKV(m, stack); st == abi.StatusOK {
			op(m, k, v)
		}
	}
	status(stack, st)
}

// hostRemoveHeaderMapValue is proxy_remove_header_map_value(map_type,
// key_ptr, key_size) → status; OK also when the key was absent.
func hostRemoveHeaderMapValue(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	m, st := in.headerMap(abi.MapType(uint32(stack[0])), true)
	if st != abi.StatusOK {
		status(stack, st)
		return
	}
	key, ok := in.readString(uint32(stack[1]), uint32(stack[2]))
	if !ok {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	m.Del(key)
	status(stack, abi.StatusOK)
}
