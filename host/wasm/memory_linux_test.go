package wasm

import (
	"testing"
	"unsafe"
)

// TestReservationOnHugePageBoundary: a linear memory starts on a 2 MiB
// boundary, so its first, hottest, bytes can be one transparent huge page.
func TestReservationOnHugePageBoundary(t *testing.T) {
	for i := 0; i < 4; i++ { // four reservations, not one lucky address
		m, ok := memoryAllocator.Allocate(64<<10, 64<<20).(*reservedMemory)
		if !ok {
			t.Skip("no address space reservation here (tight ulimit -v)")
		}
		b := m.Reallocate(64 << 10)
		if addr := uintptr(unsafe.Pointer(&b[0])); addr%hugePageSize != 0 {
			t.Errorf("memory starts at %#x, not on a %d-byte boundary", addr, hugePageSize)
		}
		b[len(b)-1] = 1
		defer m.Free()
	}
}
