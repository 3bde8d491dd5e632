package conformance

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/abi"
)

// Target is a Proxy-Wasm host under test.
//
// The suite expects a target configured as follows: every log line reaches
// PluginOptions.Log (log level trace); proxy_http_call knows no upstream;
// plugins may share shared data, queues and metrics (the suite uses unique
// keys and names).
type Target interface {
	// NewPlugin compiles wasm and starts a plugin. Before it returns,
	// PoolMin instances are created and configured: _initialize,
	// proxy_on_context_create for the root context, proxy_on_vm_start with
	// VMConfig and proxy_on_configure with Config. A plugin that fails to
	// start yields an error matching ErrRejected (and, when a guest call
	// failed, a *CallError). The suite closes the plugin.
	NewPlugin(t testing.TB, wasm []byte, opts PluginOptions) (Plugin, error)
}

// PluginOptions configures one plugin. Zero durations and sizes take the
// target's defaults.
type PluginOptions struct {
	Name, RootID, VMID string
	VMConfig, Config   []byte

	PoolMin, PoolMax          int
	CallTimeout, StartTimeout time.Duration
	MemoryLimit               uint64 // bytes of linear memory per instance

	// Log receives every log line of the plugin: proxy_log, and stdout
	// (info) and stderr (error). It may be called from any goroutine.
	Log func(level abi.LogLevel, msg string)
}

// Plugin is a started plugin and its instance pool.
type Plugin interface {
	// NewStream creates an HTTP stream context (proxy_on_context_create)
	// whose host calls read and write x.
	NewStream(x *Exchange) (Stream, error)
	// Stats reports the instance pool.
	Stats() PoolStats
	// Metrics lists the metrics plugins defined (nil if the target does
	// not expose them).
	Metrics() []Metric
	// Close closes the plugin and its instances.
	Close() error
}

// Stream is one HTTP request/response, bound to one instance.
type Stream interface {
	OnRequestHeaders(numHeaders int, endOfStream bool) (abi.Action, error)
	OnRequestBody(bodySize int, endOfStream bool) (abi.Action, error)
	OnRequestTrailers(numTrailers int) (abi.Action, error)
	OnResponseHeaders(numHeaders int, endOfStream bool) (abi.Action, error)
	OnResponseBody(bodySize int, endOfStream bool) (abi.Action, error)
	OnResponseTrailers(numTrailers int) (abi.Action, error)
	// Close ends the stream: proxy_on_done, proxy_on_log, proxy_on_delete.
	Close() error
}

// PoolStats counts a plugin's instances: Live now, Created, Discarded
// (after a failure) and Retired (recycled) since the plugin started.
type PoolStats struct {
	Live, Created, Discarded, Retired int
}

// Metric is a metric as the host exposes it.
type Metric struct {
	Name  string
	Type  abi.MetricType
	Value uint64
}

// Failure kinds. Targets report guest failures as errors matching one of
// these with errors.Is, preferably as a *CallError.
var (
	ErrTrap         = errors.New("guest trapped")
	ErrDeadline     = errors.New("guest call deadline exceeded")
	ErrMemoryLimit  = errors.New("guest memory limit exceeded")
	ErrInstanceLost = errors.New("instance lost")
	ErrRejected     = errors.New("plugin rejected")
	// ErrHostPanic lets an adapter report a panic it recovered from the
	// host (so that one crash does not hide the rest of the suite). The
	// suite fails every test that meets it.
	ErrHostPanic = errors.New("host panicked")
)

// CallError is a failed guest call as a target reports it.
type CallError struct {
	Callback string // export name, e.g. "proxy_on_request_headers"
	Kind     error  // one of the Err* kinds above
	Err      error  // the target's own error
}

func (e *CallError) Error() string {
	return fmt.Sprintf("%s: %v (%v)", e.Callback, e.Kind, e.Err)
}

// Unwrap returns the kind and the target's error.
func (e *CallError) Unwrap() []error { return []error{e.Kind, e.Err} }
