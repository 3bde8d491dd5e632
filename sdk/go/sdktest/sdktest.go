// Package sdktest runs a wasmgate plugin in the real host (host/wasm)
// inside `go test`: build the plugin, start it with a configuration, send
// it requests and look at what reached the upstream, what came back, what
// it logged and which metrics it recorded.
//
//	func TestPlugin(t *testing.T) {
//		wasm := sdktest.Build(t, ".")
//		h := sdktest.New(t, wasm, sdktest.Options{Config: `{"header":"x-hello","value":"world"}`})
//		res := h.Do(&sdktest.Request{Path: "/pets"})
//		if res.Err != nil || res.Upstream == nil { ... }
//	}
//
// # Notes
//
// Do drives a request the way Envoy (and the wasmgate gateway) does: the
// request headers with the :method, :path, :authority and :scheme
// pseudo-headers, then the body (when not empty) and trailers (when
// present), the upstream, and the response headers (with :status), body
// and trailers; then the stream is closed (on_done, on_log, on_delete).
// Each phase is delivered in one callback with the whole body. A callback
// that returns PAUSE holds the request until the plugin resumes it
// (proxy_continue_stream) or answers it (proxy_send_local_response),
// within Options.Timeout; PAUSE from a body callback whose endOfStream is
// false (trailers follow) means "keep buffering", as in Envoy, and the
// trailers are delivered. A local response sent during the request phases
// replaces the upstream and, as in Envoy, still goes through the plugin's
// response callbacks.
//
// The harness has its own engine, so shared data, queues and metrics are
// isolated per harness. The plugin runs with one instance (PoolMin =
// PoolMax = 1) unless Options.PluginConfig says otherwise, so requests
// share the plugin's globals; compiled code is cached on disk under
// os.TempDir()/wasmgate-sdktest.
package sdktest

import (
	"context"
	"errors"
	"fmt"
	"github.com/wasmgate/wasmgate/internal/wasmbuild"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/host/pipeline"
	"github.com/wasmgate/wasmgate/host/policy"
	"github.com/wasmgate/wasmgate/host/policy/cache"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// Options configures a Harness.
type Options struct {
	// Config is the plugin configuration (proxy_on_configure), JSON in
	// wasmgate.
	Config string
	// VMConfig is the VM configuration (proxy_on_vm_start).
	VMConfig string
	// Upstream answers the requests the plugin lets through. The default
	// answers 200 with body "ok".
	Upstream func(req *Request) *Response
	// HTTPCaller performs the plugin's HTTP callouts (DispatchHTTPCall).
	// Nil makes every callout fail with BAD_ARGUMENT.
	HTTPCaller wasm.HTTPCaller
	// Properties are extra property values by dotted path, e.g.
	// "wasmgate.stage": "prod", "wasmgate.stage_variables.backend": "b1"
	// (also read by GetStageVariable), "wasmgate.route.params.id": "42"
	// (GetRouteParam). They override the request.* values the harness
	// derives from each request.
	Properties map[string]string
	// PluginConfig overrides the host's plugin settings: its non-zero
	// fields win (Config and VMConfig above are used when its own are
	// nil; Name defaults to "sdktest").
	PluginConfig wasm.PluginConfig
	// Timeout bounds how long Do waits for a paused request or response
	// (default 5s).
	Timeout time.Duration
	// LogLevel is the host's log level (default trace: everything).
	LogLevel abi.LogLevel
	// Policies backs the plugin's token buckets and quotas
	// (sdk.TakeTokens, sdk.UseQuota). The default is the gateway's own
	// in-memory store on the real clock, one per Harness; pass
	// &gateway.Policies{...} over policy.NewLocal(clock) to control time.
	Policies wasm.PolicyHost
	// Cache is the response cache behind sdk.CacheLookup, CacheStore and
	// CacheInvalidate. The default is a 16 MiB cache per Harness on the
	// real clock; pass cache.New(cache.Options{Clock: ...}) to control
	// time, or share one between harnesses.
	Cache *cache.Cache
	// NoCache answers the cache calls UNIMPLEMENTED, as on a stage whose
	// cache is off.
	NoCache bool
	// APIKeys backs the plugin's sdk.VerifyAPIKey calls, for the stage in
	// Properties["wasmgate.stage"]: typically a host/apikeys.Store opened
	// in t.TempDir() with the keys and plans of the test. Nil answers
	// them UNIMPLEMENTED, as a gateway without a key store does.
	APIKeys pipeline.APIKeys
}

// Request is a request sent to the plugin. Empty Method, Path and
// Authority default to GET, / and example.com. Header names are
// lower-cased, as HTTP/2 and the host do.
type Request struct {
	Method, Path, Authority string
	Headers                 [][2]string
	Body                    []byte
	Trailers                [][2]string
}

// Response is an HTTP response: the upstream's answer, or what the client
// got. Headers do not include the :status pseudo-header.
type Response struct {
	Status   int
	Headers  [][2]string
	Body     []byte
	Trailers [][2]string
}

// Header returns the first value of a header (case-insensitive), or "".
func (r *Response) Header(name string) string {
	v, _ := wasm.NewFields(r.Headers).Get(name)
	return v
}

// Header returns the first value of a request header (case-insensitive),
// or "".
func (r *Request) Header(name string) string {
	v, _ := wasm.NewFields(r.Headers).Get(name)
	return v
}

// Result is the outcome of Do.
type Result struct {
	// Response is what the client receives.
	Response
	// Local is true when the plugin answered with SendHTTPResponse
	// (proxy_send_local_response).
	Local bool
	// LocalDetails is the details string of the local response.
	LocalDetails string
	// Upstream is the request as it reached the upstream, nil when the
	// plugin answered it or it failed first.
	Upstream *Request
	// Err is set when a guest call failed (a *wasm.CallError: trap,
	// deadline, ...) or a paused stream was neither resumed nor answered
	// in time.
	Err error
}

// Harness runs one plugin.
type Harness struct {
	t      testing.TB
	opts   Options
	engine *wasm.Engine
	plugin *wasm.Plugin

	mu   sync.Mutex
	logs []string
}

// New starts the plugin with opts and fails the test, with the host's
// error and the plugin's log, when it is rejected. Everything is closed
// by t.Cleanup.
func New(t testing.TB, wasmBytes []byte, opts Options) *Harness {
	t.Helper()
	h, err := NewE(t, wasmBytes, opts)
	if err != nil {
		t.Fatalf("sdktest: starting the plugin: %v", err)
	}
	return h
}

// NewE is New returning the error (typically one wrapping
// wasm.ErrPluginRejected) instead of failing the test, for tests of bad
// configurations.
func NewE(t testing.TB, wasmBytes []byte, opts Options) (*Harness, error) {
	t.Helper()
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Policies == nil {
		l := policy.NewLocal(policy.SystemClock{})
		opts.Policies = &gateway.Policies{Limiter: l, Quotas: l}
	}
	if opts.Cache == nil && !opts.NoCache {
		c, err := cache.New(cache.Options{MaxBytes: 16 << 20})
		if err != nil {
			return nil, err
		}
		t.Cleanup(c.Close)
		opts.Cache = c
	}
	h := &Harness{t: t, opts: opts}
	ctx := context.Background()
	e, err := wasm.NewEngine(ctx, wasm.EngineConfig{
		CacheDir:   filepath.Join(wasmbuild.CacheDir(), "compiled"),
		Log:        h.log,
		HTTPCaller: opts.HTTPCaller,
		LogLevel:   opts.LogLevel,
	})
	if err != nil {
		return nil, err
	}
	m, err := e.Compile(ctx, wasmBytes)
	if err != nil {
		_ = e.Close(ctx) // keep the original error
		return nil, err
	}
	p, err := e.NewPlugin(ctx, m, h.pluginConfig())
	if err != nil {
		_ = e.Close(ctx) // keep the original error
		return nil, err
	}
	h.engine, h.plugin = e, p
	t.Cleanup(func() {
		if err := e.Close(context.Background()); err != nil {
			t.Errorf("sdktest: closing the engine: %v", err)
		}
	})
	return h, nil
}

func (h *Harness) pluginConfig() wasm.PluginConfig {
	c := h.opts.PluginConfig
	if c.Name == "" {
		c.Name = "sdktest"
	}
	if c.Config == nil && h.opts.Config != "" {
		c.Config = []byte(h.opts.Config)
	}
	if c.VMConfig == nil && h.opts.VMConfig != "" {
		c.VMConfig = []byte(h.opts.VMConfig)
	}
	if c.PoolMin <= 0 {
		c.PoolMin = 1
	}
	if c.PoolMax <= 0 {
		c.PoolMax = c.PoolMin
	}
	return c
}

func (h *Harness) log(_ *wasm.PluginInfo, level abi.LogLevel, msg string) {
	h.mu.Lock()
	h.logs = append(h.logs, level.String()+": "+msg)
	h.mu.Unlock()
}

// Logs returns the plugin's log lines so far, as "level: message".
func (h *Harness) Logs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.logs...)
}

// Metric returns the value of a metric the plugin defined: the value of a
// counter or gauge, the number of samples of a histogram.
func (h *Harness) Metric(name string) (uint64, bool) {
	for _, m := range h.engine.Metrics() {
		if m.Name != name {
			continue
		}
		if m.Type == abi.MetricHistogram {
			return m.Count, true
		}
		return uint64(m.Value), true
	}
	return 0, false
}

// Engine returns the harness's engine.
func (h *Harness) Engine() *wasm.Engine { return h.engine }

// Plugin returns the running plugin.
func (h *Harness) Plugin() *wasm.Plugin { return h.plugin }

// Do sends one request through the plugin (see the package notes for the
// sequence). It is safe to call from several goroutines.
func (h *Harness) Do(req *Request) *Result {
	s := newStream(h, req)
	return s.run()
}

// ErrTimeout is wrapped by Result.Err when the plugin paused the request
// or response and neither resumed nor answered it within Options.Timeout.
var ErrTimeout = errors.New("sdktest: timed out")

func timeoutError(phase string, d time.Duration) error {
	return fmt.Errorf("%w: the plugin paused %s and neither resumed it nor answered within %v", ErrTimeout, phase, d)
}

var errReset = errors.New("sdktest: the plugin reset the stream (proxy_close_stream)")
