package sdk

import (
	"unsafe"

	"github.com/wasmgate/wasmgate/abi"
)

// Memory the host writes into.
//
// The host returns variable-size data (header values, bodies, properties)
// by calling proxy_on_memory_allocate from inside the host call, copying
// the data there and writing its address and size into two return slots.
// Go's garbage collector does not move objects but would free one nothing
// references, so every allocation is kept in pins until the wrapper that
// made the host call takes it (takeResult). The buffer then belongs to the
// caller: it is fresh Go memory, returned without a further copy.
// Allocations a failed host call left behind are dropped when the
// top-level callback returns.
//
// The return slots are package variables, not locals: a local's address
// could move when the goroutine stack grows during the re-entrant
// allocation, and the host writes the slots after allocating.

var (
	pins [][]byte

	// Return slots for the host (u32 pointer, u32 size, u32 extra).
	retPtr, retSize, retExtra uint32
	retU64, retU64b           uint64

	// scratch buffers reused to serialize header maps and property paths
	// passed to the host. The host reads them before returning.
	mapScratch      []byte
	trailersScratch []byte
	pathScratch     []byte
)

// maxScratch bounds what a scratch buffer keeps between calls.
const maxScratch = 64 << 10

// allocate backs proxy_on_memory_allocate.
func allocate(size uint32) uint32 {
	n := int(size)
	if n == 0 {
		n = 1 // a distinct, non-zero address
	}
	b := make([]byte, n)
	pins = append(pins, b)
	return addressOf(b)
}

func addressOf(b []byte) uint32 {
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

// takeResult returns the pinned allocation at ptr, cut to size, and unpins
// it. A zero size returns an empty (nil) slice.
func takeResult(ptr, size uint32) ([]byte, error) {
	for i := len(pins) - 1; i >= 0; i-- {
		b := pins[i]
		if addressOf(b) != ptr {
			continue
		}
		last := len(pins) - 1
		pins[i] = pins[last]
		pins[last] = nil
		pins = pins[:last]
		if int(size) > len(b) {
			return nil, errForeignMemory
		}
		if size == 0 {
			return nil, nil
		}
		return b[:size:size], nil
	}
	if size == 0 {
		return nil, nil
	}
	return nil, errForeignMemory
}

// releasePins drops every allocation still pinned. Called when a top-level
// callback returns.
func releasePins() {
	if len(pins) == 0 {
		return
	}
	clear(pins)
	pins = pins[:0]
}

// bytesPtr returns the address and length of b for a host call.
func bytesPtr(b []byte) (unsafe.Pointer, uint32) {
	return unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b))
}

// encodeMap serializes pairs into *scratch for a host call.
func encodeMap(scratch *[]byte, pairs [][2]string) []byte {
	*scratch = abi.AppendMap((*scratch)[:0], pairs)
	return *scratch
}

// trimScratch drops a scratch buffer that grew past maxScratch.
func trimScratch(scratch *[]byte) {
	if cap(*scratch) > maxScratch {
		*scratch = nil
	}
}

// encodePath joins property path segments with NUL bytes into pathScratch.
func encodePath(path []string) []byte {
	b := pathScratch[:0]
	for i, s := range path {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, s...)
	}
	pathScratch = b
	return b
}

// bytesToString returns a string sharing b, which must never be written
// again (buffers from takeResult qualify).
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// decodePairs parses a serialized map returned by the host. The strings
// share buf, which the caller owns and never writes again, so the only
// allocation is the slice of pairs.
func decodePairs(fn string, buf []byte) ([][2]string, error) {
	if len(buf) < 4 {
		return nil, nil
	}
	n := int(uint32(buf[0]) | uint32(buf[1])<<8 | uint32(buf[2])<<16 | uint32(buf[3])<<24)
	if n <= 0 || n > len(buf)/8 {
		n = 0
	}
	pairs := make([][2]string, 0, n)
	err := abi.RangeMap(buf, func(k, v []byte) {
		pairs = append(pairs, [2]string{bytesToString(k), bytesToString(v)})
	})
	if err != nil {
		return nil, &HostCallError{Func: fn, Status: abi.StatusSerializationFailure}
	}
	return pairs, nil
}
