// Command template is a complete wasmgate plugin to copy: it reads a JSON
// configuration, adds a configured header to every request, marks every
// response with x-wasmgate-plugin: template and counts requests.
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o template.wasm .
//
// and see README.md for the configuration and how to test it.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

// main is never called: a plugin built with -buildmode=c-shared is a WASI
// reactor, and the host runs package initializers only. Register the root
// context from init.
func main() {}

func init() {
	sdk.SetNewRootContext(func(contextID uint32) sdk.RootContext { return &rootContext{} })
	// Only headers: the gateway then streams bodies past this plugin.
	sdk.SetHooks(sdk.HookRequestHeaders | sdk.HookResponseHeaders)
}

// config is the plugin configuration (the per-stage JSON the operator sets).
type config struct {
	// Header is the name of the request header to add.
	Header string `json:"header"`
	// Value is its value.
	Value string `json:"value"`
}

// parseConfig decodes and validates the configuration strictly: unknown
// fields are errors, so a typo is caught at deploy time.
func parseConfig(data []byte) (config, error) {
	var c config
	if len(bytes.TrimSpace(data)) == 0 {
		return c, errors.New(`configuration is empty; want {"header":"x-hello","value":"world"}`)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("configuration is not valid JSON for this plugin: %w", err)
	}
	if c.Header == "" {
		return c, errors.New(`configuration: "header" is required`)
	}
	if strings.HasPrefix(c.Header, ":") || !validHeaderName(c.Header) {
		return c, fmt.Errorf("configuration: %q is not a valid header name", c.Header)
	}
	if strings.ContainsAny(c.Value, "\r\n\x00") {
		return c, errors.New(`configuration: "value" must not contain CR, LF or NUL`)
	}
	c.Header = strings.ToLower(c.Header)
	return c, nil
}

func validHeaderName(s string) bool {
	for _, r := range s {
		if r > 127 || !strings.ContainsRune("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", r) {
			return false
		}
	}
	return s != ""
}

// rootContext is created once per plugin instance.
type rootContext struct {
	sdk.DefaultRootContext
	cfg      config
	requests sdk.Counter
	counting bool
	http     httpContext // every request's context (see SharedHTTPContext)
}

// OnPluginStart reads and validates the configuration. Returning false
// rejects it: the deployment fails with the logged reason and the active
// deployment keeps serving.
func (r *rootContext) OnPluginStart(configSize int) bool {
	data, err := sdk.GetPluginConfiguration()
	if err != nil && !errors.Is(err, sdk.ErrNotFound) {
		sdk.LogErrorf("template: cannot read the configuration: %v", err)
		return false
	}
	cfg, err := parseConfig(data)
	if err != nil {
		sdk.LogErrorf("template: %v", err)
		return false
	}
	r.cfg = cfg
	if r.requests, err = sdk.DefineCounterMetric("template_requests_total"); err != nil {
		// Not fatal: the plugin still does its job without the metric.
		sdk.LogWarnf("template: request counter disabled: %v", err)
	} else {
		r.counting = true
	}
	sdk.LogInfof("template: adding %s: %s to requests", cfg.Header, cfg.Value)
	return true
}

// SharedHTTPContext gives every request the same context
// (sdk.HTTPContextSharer): this plugin keeps no state per request, so the
// SDK creates no context and keeps no entry per request, which in a Wasm
// guest costs more than the rest of the callbacks. A plugin that
// remembers something between its callbacks leaves this out and returns
// a new context from NewHTTPContext (&httpContext{root: r, ...}).
func (r *rootContext) SharedHTTPContext() sdk.HTTPContext { return r.httpContext() }

// NewHTTPContext is the same shared context, for a host that runs several
// root contexts in one instance (where the SDK does not share).
func (r *rootContext) NewHTTPContext(contextID uint32) sdk.HTTPContext { return r.httpContext() }

func (r *rootContext) httpContext() *httpContext {
	if r.http.root == nil {
		r.http.root = r
	}
	return &r.http
}

// httpContext handles requests; it has no per-request fields.
type httpContext struct {
	sdk.DefaultHTTPContext
	root *rootContext
}

func (c *httpContext) OnHTTPRequestHeaders(numHeaders int, endOfStream bool) sdk.Action {
	if c.root.counting {
		if err := c.root.requests.Increment(1); err != nil {
			sdk.LogDebugf("template: counting the request: %v", err)
		}
	}
	if err := sdk.ReplaceHTTPRequestHeader(c.root.cfg.Header, c.root.cfg.Value); err != nil {
		sdk.LogErrorf("template: setting %s: %v", c.root.cfg.Header, err)
		if err := sdk.SendHTTPResponse(500,
			[][2]string{{"content-type", "application/json"}},
			[]byte(`{"message":"internal error"}`), -1); err != nil {
			sdk.LogErrorf("template: answering the request: %v", err)
		}
		return sdk.ActionPause
	}
	return sdk.ActionContinue
}

func (c *httpContext) OnHTTPResponseHeaders(numHeaders int, endOfStream bool) sdk.Action {
	if err := sdk.ReplaceHTTPResponseHeader("x-wasmgate-plugin", "template"); err != nil {
		sdk.LogWarnf("template: marking the response: %v", err)
	}
	return sdk.ActionContinue
}
