package wasm

// heapMemory is a linear memory on the Go heap, grown like a slice: the
// fallback when address space cannot be reserved (see memory_unix.go).
type heapMemory struct {
	buf []byte
	max uint64
}

func (m *heapMemory) Reallocate(size uint64) []byte {
	switch {
	case size > m.max:
		return nil
	case size <= uint64(cap(m.buf)):
		m.buf = m.buf[:size]
	default:
		m.buf = append(m.buf[:cap(m.buf)], make([]byte, size-uint64(cap(m.buf)))...)
	}
	return m.buf
}

func (m *heapMemory) Free() { m.buf = nil }
