// Package sdk is the Go SDK for wasmgate plugins: Proxy-Wasm 0.2.1 plugins
// written in standard Go (not TinyGo) and built as WASI reactors:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
//
// Import it as
//
//	import sdk "github.com/wasmgate/wasmgate/sdk/go"
//
// A plugin registers a root context factory from an init function; main is
// empty and is never called (a c-shared module runs package initializers
// from its _initialize export, not main):
//
//	func main() {}
//
//	func init() {
//		sdk.SetNewRootContext(func(id uint32) sdk.RootContext { return &root{} })
//	}
//
// The root context (one per plugin instance) reads the configuration in
// OnPluginStart and creates one HTTPContext per request in NewHTTPContext,
// or, for a plugin that keeps nothing per request, gives one context for
// all of them (HTTPContextSharer, the cheaper path).
// Embed DefaultRootContext and DefaultHTTPContext to implement only the
// callbacks you need. Host calls (headers, bodies, properties, shared data,
// queues, metrics, HTTP callouts, logging) are package functions that act
// on the context of the callback being run.
//
// # Notes
//
//   - Host calls are valid only while a callback runs, from the goroutine
//     running it. Goroutines a plugin starts run only while the host is
//     executing the plugin (during callbacks and the wasmgate_yield export the
//     host calls now and then); never block a callback waiting for one.
//   - A panic in an HTTP callback is recovered: it is logged at critical
//     level with its stack, the request is answered with a 500 JSON response
//     and the instance keeps serving other requests. A panic in a root
//     callback is logged and the callback reports failure. Fatal runtime
//     errors (out of memory, concurrent map writes) and panics in goroutines
//     the plugin starts are not recoverable: the host discards the instance.
//   - Every callback runs under the host's deadline (100ms by default in
//     wasmgate); a plugin that overruns fails its request and loses its
//     instance.
//   - Memory the host writes into (proxy_on_memory_allocate) is pinned
//     until the host call that asked for it returns; values returned by host
//     calls are ordinary Go memory owned by the caller.
//
// # Errors
//
// Host calls return the Proxy-Wasm status as an error: compare with
// errors.Is against ErrNotFound, ErrBadArgument, ErrEmpty, ErrCASMismatch,
// ErrUnimplemented and the others. Expected outcomes (NOT_FOUND, EMPTY,
// CAS_MISMATCH) are returned bare and cost no allocation; other failures
// are a *HostCallError naming the host function.
//
// Outside a wasip1 build (for example `go vet ./...` or unit tests of plugin
// logic on linux/amd64) the package compiles, and every host call returns an
// error wrapping ErrUnimplemented that says the code is not running inside a
// Proxy-Wasm host.
//
// Specification: https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1
package sdk
