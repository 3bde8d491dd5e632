package wasm

import "syscall"

// hugePageSize is the alignment of linear memory reservations: the size
// of a transparent huge page (see memory_unix.go).
const hugePageSize = 2 << 20

// adviseHugePages asks for transparent huge pages in b. Refusal (THP
// disabled, an old kernel) only costs TLB misses.
func adviseHugePages(b []byte) { _ = syscall.Madvise(b, syscall.MADV_HUGEPAGE) }
