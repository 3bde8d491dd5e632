package wasm

import (
	"bytes"
	"testing"

	"github.com/tetratelabs/wazero/experimental"
)

// TestLinearMemory checks both linear memory kinds the same way: growth
// keeps the contents and zero-fills the new part, the maximum is a hard
// limit, and Free may be called twice.
func TestLinearMemory(t *testing.T) {
	const page = 64 << 10
	kinds := map[string]func(cap, max uint64) experimental.LinearMemory{
		"heap": func(c, m uint64) experimental.LinearMemory { return &heapMemory{buf: make([]byte, 0, c), max: m} },
	}
	if memoryAllocator != nil {
		kinds["reserved"] = memoryAllocator.Allocate
	}
	for name, alloc := range kinds {
		t.Run(name, func(t *testing.T) {
			m := alloc(page, 4*page)
			b := m.Reallocate(page)
			if len(b) != page {
				t.Fatalf("len %d, want %d", len(b), page)
			}
			copy(b[page-5:], "hello")
			b = m.Reallocate(3 * page)
			if len(b) != 3*page || string(b[page-5:page]) != "hello" {
				t.Fatalf("after growing: len %d, contents %q", len(b), b[page-5:page])
			}
			if !bytes.Equal(b[page:], make([]byte, 2*page)) {
				t.Fatal("grown memory is not zero")
			}
			b[3*page-1] = 1 // the last byte is writable
			if got := m.Reallocate(4*page + 1); got != nil {
				t.Fatalf("growing past the maximum returned %d bytes", len(got))
			}
			if b := m.Reallocate(4 * page); len(b) != 4*page || b[3*page-1] != 1 {
				t.Fatal("growing to the maximum failed or lost data")
			}
			m.Free()
			m.Free()
		})
	}
}
