package sdk

import "github.com/wasmgate/wasmgate/abi"

// Action is what an HTTP callback tells the host to do with the stream.
type Action = abi.Action

// Actions returned by HTTP callbacks.
const (
	// ActionContinue lets the request or response go on to the next
	// plugin or the upstream.
	ActionContinue Action = abi.ActionContinue
	// ActionPause holds the request or response until the plugin calls
	// ResumeHTTPRequest / ResumeHTTPResponse or answers it with
	// SendHTTPResponse. Return it after SendHTTPResponse too.
	ActionPause Action = abi.ActionPause
)

// RootContext is the plugin-wide context: one per plugin instance. It is
// created when the instance starts, receives the VM and plugin
// configuration, timer ticks and queue notifications, and creates the
// HTTPContext of each request.
type RootContext interface {
	// OnVMStart is called once when the instance starts; vmConfigSize is
	// the size of the VM configuration (GetVMConfiguration). Return false
	// to reject the instance.
	OnVMStart(vmConfigSize int) bool
	// OnPluginStart is called with the size of the plugin configuration
	// (GetPluginConfiguration, JSON in wasmgate). Return false to reject
	// the configuration; log why first (LogError) so the operator sees the
	// reason in the deploy error.
	OnPluginStart(configSize int) bool
	// OnTick is called every period set with SetTickPeriod.
	OnTick()
	// OnQueueReady is called when an item was enqueued on a shared queue
	// this instance registered.
	OnQueueReady(queueID uint32)
	// OnPluginDone is called when the host stops the plugin. Return true.
	OnPluginDone() bool
	// NewHTTPContext creates the context of one request. Returning nil
	// lets every request through untouched. A plugin that keeps nothing
	// per request may return the same context for every request: an
	// allocation in a Wasm guest costs about as much as the rest of a
	// request's callbacks (the SDK template does this).
	NewHTTPContext(contextID uint32) HTTPContext
}

// HTTPContextSharer may be implemented by a RootContext whose requests
// keep no state of their own between callbacks (a header rule, a check
// that answers or lets through). SharedHTTPContext is called once, after
// OnPluginStart returns true, and every request's callbacks then run on
// the context it returns: NewHTTPContext is not called, and the SDK keeps
// no per-request entry (in a Wasm guest that bookkeeping costs several
// hundred instructions per request). A nil context keeps the usual
// NewHTTPContext per request. It applies while the instance has one root
// context, the case of every wasmgate plugin. After a panic in one
// request's callback, that request's later callbacks are not run (except
// OnHTTPStreamDone), as with contexts of their own.
type HTTPContextSharer interface {
	SharedHTTPContext() HTTPContext
}

// HTTPContext handles one HTTP request/response. Header callbacks receive
// the number of headers; body callbacks the size of the body buffered so
// far; endOfStream is true when no more data follows.
type HTTPContext interface {
	OnHTTPRequestHeaders(numHeaders int, endOfStream bool) Action
	OnHTTPRequestBody(bodySize int, endOfStream bool) Action
	OnHTTPRequestTrailers(numTrailers int) Action
	OnHTTPResponseHeaders(numHeaders int, endOfStream bool) Action
	OnHTTPResponseBody(bodySize int, endOfStream bool) Action
	OnHTTPResponseTrailers(numTrailers int) Action
	// OnHTTPStreamDone is called once when the stream ends (from
	// proxy_on_log): request and response headers are still readable.
	OnHTTPStreamDone()
}

// DefaultRootContext implements RootContext with no-op callbacks that
// accept everything. Embed it and override what you need.
type DefaultRootContext struct{}

var _ RootContext = DefaultRootContext{}

// OnVMStart implements RootContext; it returns true.
func (DefaultRootContext) OnVMStart(int) bool { return true }

// OnPluginStart implements RootContext; it returns true.
func (DefaultRootContext) OnPluginStart(int) bool { return true }

// OnTick implements RootContext.
func (DefaultRootContext) OnTick() {}

// OnQueueReady implements RootContext.
func (DefaultRootContext) OnQueueReady(uint32) {}

// OnPluginDone implements RootContext; it returns true.
func (DefaultRootContext) OnPluginDone() bool { return true }

// NewHTTPContext implements RootContext; it returns nil (no HTTP
// processing).
func (DefaultRootContext) NewHTTPContext(uint32) HTTPContext { return nil }

// DefaultHTTPContext implements HTTPContext with callbacks that continue.
// Embed it and override what you need.
type DefaultHTTPContext struct{}

var _ HTTPContext = DefaultHTTPContext{}

// OnHTTPRequestHeaders implements HTTPContext.
func (DefaultHTTPContext) OnHTTPRequestHeaders(int, bool) Action { return ActionContinue }

// OnHTTPRequestBody implements HTTPContext.
func (DefaultHTTPContext) OnHTTPRequestBody(int, bool) Action { return ActionContinue }

// OnHTTPRequestTrailers implements HTTPContext.
func (DefaultHTTPContext) OnHTTPRequestTrailers(int) Action { return ActionContinue }

// OnHTTPResponseHeaders implements HTTPContext.
func (DefaultHTTPContext) OnHTTPResponseHeaders(int, bool) Action { return ActionContinue }

// OnHTTPResponseBody implements HTTPContext.
func (DefaultHTTPContext) OnHTTPResponseBody(int, bool) Action { return ActionContinue }

// OnHTTPResponseTrailers implements HTTPContext.
func (DefaultHTTPContext) OnHTTPResponseTrailers(int) Action { return ActionContinue }

// OnHTTPStreamDone implements HTTPContext.
func (DefaultHTTPContext) OnHTTPStreamDone() {}

// SetNewRootContext registers the factory of the plugin's root context.
// Call it from an init function of package main: under -buildmode=c-shared
// the host runs package initializers (the _initialize export) but never
// main.main. The factory is called once per instance with the root
// context id the host chose.
func SetNewRootContext(f func(contextID uint32) RootContext) {
	state.newRoot = f
}

// Hooks is a set of HTTP callbacks a plugin handles (see SetHooks).
type Hooks uint32

// The HTTP callbacks a plugin can declare.
const (
	HookRequestHeaders   = Hooks(abi.HookRequestHeaders)
	HookRequestBody      = Hooks(abi.HookRequestBody)
	HookRequestTrailers  = Hooks(abi.HookRequestTrailers)
	HookResponseHeaders  = Hooks(abi.HookResponseHeaders)
	HookResponseBody     = Hooks(abi.HookResponseBody)
	HookResponseTrailers = Hooks(abi.HookResponseTrailers)
	// HookStreamDone is OnHTTPStreamDone, called once a request is over.
	HookStreamDone = Hooks(abi.HookStreamDone)
	HookAll        = Hooks(abi.HookAll)
)

var declaredHooks = HookAll

// SetHooks declares which HTTP callbacks the plugin's HTTP contexts
// actually implement; call it from init next to SetNewRootContext. The SDK
// exports every callback, so without it the host must assume all of them
// matter: it then buffers request and response bodies for the plugin and
// calls it in every phase. A plugin that only looks at headers declares
//
//	sdk.SetHooks(sdk.HookRequestHeaders | sdk.HookResponseHeaders)
//
// and its requests stream. Callbacks not declared are never called.
//
// The host reads the declaration after OnPluginStart, so a plugin may also
// call SetHooks there to declare what its configuration needs (e.g. the
// body hooks only when configured to inspect bodies).
func SetHooks(h Hooks) { declaredHooks = h & HookAll }
