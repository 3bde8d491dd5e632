// Package wasm is wasmgate's plugin host: a wazero engine that runs
// Proxy-Wasm 0.2.1 plugins (and the gateway's "wasmgate" extension calls)
// in bounded, pre-warmed instance pools.
//
// The life cycle is Engine → Module (compiled once per sha256 digest, with
// an optional on-disk compilation cache) → Plugin (a module with its
// configuration and its instance pool) → Stream (one HTTP request/response
// bound to one instance for its whole life). Each has a Close method; a
// parent closes its children.
//
// The gateway talks to a stream through the StreamHost interface, one
// method per host duty (headers, bodies, properties, local responses,
// continue/close), so this package knows nothing of net/http.
//
// # Isolation
//
// Every guest call runs under a deadline: the host instruments each module
// at compile time with an interrupt check at every loop header and sets the
// flag from a watchdog goroutine when a call overruns, so a plugin that
// loops forever traps instead of holding a CPU. Memory is capped per
// plugin; linear memories live in reserved address space outside the Go
// heap (memory_unix.go). A trap, an
// overrun deadline or a memory limit hit poisons the instance: the current
// call fails with a *CallError, the instance is discarded and the pool
// refills in the background. Streams that were bound to the discarded
// instance fail their next callback with ErrInstanceLost.
//
// # Errors
//
// Guest failures are reported as *CallError values that name the plugin,
// its digest and the callback, and wrap one of ErrDeadline, ErrTrap,
// ErrMemoryLimit, ErrInstanceLost or ErrPluginRejected.
package wasm
