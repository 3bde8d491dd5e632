// Command mock is the wasmgate plugin behind "mock" integrations: it answers
// every request with a local response built from its configuration (status,
// headers, body), never calling an upstream. The body and header values may
// use placeholders such as ${request.path} or ${route.id}; see README.md.
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o mock.wasm .
package main

import (
	"errors"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

// main is never called: the plugin is a WASI reactor (-buildmode=c-shared).
func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &rootContext{} })
	// The answer depends on the request headers only: bodies stream past
	// (the gateway does not buffer them for this plugin).
	sdk.SetHooks(sdk.HookRequestHeaders)
}

type rootContext struct {
	sdk.DefaultRootContext
	http httpContext // every request's context (see NewHTTPContext)
	cfg  *config
}

// OnPluginStart parses the configuration; a bad one is logged and rejected.
func (r *rootContext) OnPluginStart(int) bool {
	data, err := sdk.GetPluginConfiguration()
	if err != nil && !errors.Is(err, sdk.ErrNotFound) {
		sdk.LogErrorf("mock: cannot read the configuration: %v", err)
		return false
	}
	cfg, err := parseConfig(data)
	if err != nil {
		sdk.LogErrorf("mock: %v", err)
		return false
	}
	r.cfg = cfg
	return true
}

// SharedHTTPContext gives every request the one context (the plugin keeps
// nothing per request): the SDK then keeps no entry per request
// (sdk.HTTPContextSharer).
func (r *rootContext) SharedHTTPContext() sdk.HTTPContext { return r.NewHTTPContext(0) }

// NewHTTPContext returns the root's one context: it keeps nothing per
// request, and an allocation per request costs a Wasm guest more than the
// rest of its callbacks.
func (r *rootContext) NewHTTPContext(uint32) sdk.HTTPContext {
	r.http.cfg = r.cfg
	return &r.http
}

type httpContext struct {
	sdk.DefaultHTTPContext
	cfg *config
}

// OnHTTPRequestHeaders answers the request.
func (c *httpContext) OnHTTPRequestHeaders(int, bool) sdk.Action {
	headers, body := c.cfg.render(hostLookup{})
	if err := sdk.SendHTTPResponse(uint32(c.cfg.status), headers, body, -1); err != nil {
		// Let the gateway report that the integration did not answer.
		sdk.LogErrorf("mock: sending the response: %v", err)
		return sdk.ActionContinue
	}
	return sdk.ActionPause
}

// hostLookup resolves placeholders from the current request.
type hostLookup struct{}

func (hostLookup) lookup(kind placeholderKind, name string) string {
	var (
		v   string
		err error
	)
	switch kind {
	case phRequestPath:
		if v, err = sdk.GetPropertyString("request", "path"); err != nil {
			v, _ = sdk.GetHTTPRequestHeader(":path")
		}
		return v
	case phRequestMethod:
		if v, err = sdk.GetPropertyString("request", "method"); err != nil {
			v, _ = sdk.GetHTTPRequestHeader(":method")
		}
		return v
	case phRequestID:
		v, _ = sdk.GetPropertyString("request", "id")
	case phStage:
		v, _ = sdk.GetPropertyString("wasmgate", "stage")
	case phRoute:
		v, _ = sdk.GetPropertyString("wasmgate", "route", "params", name)
	case phStageVar:
		v, _ = sdk.GetPropertyString("wasmgate", "stage_variables", name)
	case phHeader:
		v, _ = sdk.GetHTTPRequestHeader(name)
	case phQuery:
		q, _ := sdk.GetPropertyString("request", "query")
		v = queryValue(q, name)
	}
	return v
}
