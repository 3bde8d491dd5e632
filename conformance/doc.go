// Package conformance is a Proxy-Wasm 0.2.1 ABI conformance suite for
// wasmgate's plugin host, usable against any host through a small adapter.
//
// Run(t, target) drives embedded guest modules through the Target
// interface only: one plugin per test, one Exchange (the HTTP request and
// response a stream sees) per stream. It checks, per host function, the
// happy path, bad arguments, out-of-bounds pointers and lengths, calls made
// from a context where the data does not exist, the callback order of a
// full request, and the host's isolation from abusive guests (infinite
// loops, memory bombs, traps in every callback, giant header maps, 10 MB
// bodies, allocators that return garbage).
//
// # Guests
//
// The guests live in guests/, each source next to its checked-in .wasm,
// with the exact build command at the top of the source; `make guests`
// rebuilds them all and TestGuestsUpToDate fails when they drift.
//
//   - probe.wat is an interpreter: its configuration is a script (see
//     Script) of host calls with chosen arguments, run in chosen
//     callbacks. It reports each status and output through proxy_log,
//     so the suite observes the host only through the ABI.
//   - abuse.wat misbehaves in the way its configuration names.
//   - cguest.c is a realistic plugin in C against wasi-libc, the second
//     guest language, and performs the large-data cases.
//   - trap_initialize.wat, trap_root_create.wat and no_abi_marker.wat
//     must be refused at load.
//
// # Notes
//
// Failures that concern the host's behaviour rather than the suite carry
// the words "host discrepancy" and name the specification or contract
// clause they check.
package conformance
