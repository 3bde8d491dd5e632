// Package abi is the plugin ABI as data: the Proxy-Wasm 0.2.1 function
// names, status codes and enums, the header-map and property-path
// encodings, and the names of the gateway's own "wasmgate" import module.
//
// The host (host/wasm) and the Go SDK (sdk/go) both import this package, so
// every name and number is written exactly once. It depends on the standard
// library only and is safe to import from a plugin compiled with
// GOOS=wasip1 GOARCH=wasm.
//
// Specification: https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1
package abi
