//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package wasm

// Transparent huge pages are Linux's (see memory_unix.go).
const hugePageSize = 0

func adviseHugePages([]byte) {}
