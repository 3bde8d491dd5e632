//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package wasm

import "github.com/tetratelabs/wazero/experimental"

// memoryAllocator is wazero's default (the Go heap) where address space
// reservations are not implemented; see memory_unix.go.
var memoryAllocator experimental.MemoryAllocator
