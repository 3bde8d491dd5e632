//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package wasm

import (
	"os"
	"sync"
	"syscall"
	"unsafe"

	"github.com/tetratelabs/wazero/experimental"
)

// Linear memories live outside the Go heap, in address space reserved up
// to the memory limit when an instance starts and made accessible page
// by page as the guest grows it.
//
// Why not wazero's default (a Go []byte grown with append): a pool of
// standard-Go plugins holds tens of instances of several MiB each. On the
// Go heap they are live data, so the collector lets the host's heap grow
// to twice their size between cycles, and the gateway's per-request
// garbage then streams through hundreds of MiB of fresh, page-faulting,
// cache-cold memory instead of a few hot MiB. With the 4-plugin bench
// pipeline (32 instances) this doubled the gateway's CPU per request.
// Growing also copied the whole memory each time; a reservation never
// moves.
//
// Untouched reserved pages cost neither memory nor commit charge
// (PROT_NONE); the kernel zero-fills committed pages on first touch.
// When the reservation fails (a tight address-space ulimit), the memory
// falls back to the Go heap.
//
// On Linux the reservation starts on a 2 MiB boundary and asks for
// transparent huge pages (madvise, for systems whose THP mode is
// "madvise", the usual default): a Go guest's hot data (its runtime's
// globals, stacks and heap) then sits in a few huge pages instead of
// hundreds of 4 KiB ones, and a request through several plugins misses
// the TLB less, which costs twice as much in a virtual machine. The cost
// is memory: a huge page is backed whole once touched, up to 2 MiB more
// per instance in the worst case. THP mode "never" turns this off.
var memoryAllocator experimental.MemoryAllocator = experimental.MemoryAllocatorFunc(newReservedMemory)

var osPageSize = uint64(os.Getpagesize())

// reservedMemory is one guest's linear memory.
type reservedMemory struct {
	mu        sync.Mutex
	whole     []byte // the mapping, with its alignment slack
	res       []byte // the whole reservation
	committed uint64 // bytes made readable and writable, from the start
}

func newReservedMemory(capBytes, maxBytes uint64) experimental.LinearMemory {
	size := roundUp(maxBytes, osPageSize)
	if size == 0 || size > 1<<34 {
		return &heapMemory{buf: make([]byte, 0, capBytes), max: maxBytes}
	}
	align := uint64(hugePageSize)
	whole, err := syscall.Mmap(-1, 0, int(size+align), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return &heapMemory{buf: make([]byte, 0, capBytes), max: maxBytes}
	}
	off := uint64(0)
	if align > 0 {
		off = (align - uint64(uintptr(unsafe.Pointer(&whole[0])))%align) % align
	}
	res := whole[off : off+size : off+size]
	adviseHugePages(res)
	return &reservedMemory{whole: whole, res: res}
}

// Reallocate makes the first size bytes accessible and returns them. It
// returns nil (the guest's memory.grow fails) past the reservation or
// when the kernel refuses the pages.
func (m *reservedMemory) Reallocate(size uint64) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.res == nil || size > uint64(len(m.res)) {
		return nil
	}
	if size > m.committed {
		end := roundUp(size, osPageSize)
		if err := syscall.Mprotect(m.res[m.committed:end], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
			return nil
		}
		m.committed = end
	}
	return m.res[:size:size]
}

// Free returns the reservation to the kernel. The module is closed: no
// guest or host call reads this memory any more.
func (m *reservedMemory) Free() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.res != nil {
		_ = syscall.Munmap(m.whole) // only fails for a bad range, which this is not
		m.whole, m.res, m.committed = nil, nil, 0
	}
}

func roundUp(n, to uint64) uint64 { return (n + to - 1) / to * to }
