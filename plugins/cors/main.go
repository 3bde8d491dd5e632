// Command cors is wasmgate's first-party CORS plugin: it answers browser
// preflight requests (OPTIONS with Origin and
// Access-Control-Request-Method) and adds the CORS headers to responses
// for allowed origins.
//
// Configuration (JSON): see README.md and config.go.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o cors.wasm .
package main

import (
	"errors"
	"strings"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

// main is never called: the plugin is a WASI reactor (-buildmode=c-shared).
func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &root{} })
	// Headers only: bodies stream past this plugin.
	sdk.SetHooks(sdk.HookRequestHeaders | sdk.HookResponseHeaders)
}

type root struct {
	sdk.DefaultRootContext
	p *policy
}

func (r *root) OnPluginStart(int) bool {
	data, err := sdk.GetPluginConfiguration()
	if err != nil && !errors.Is(err, sdk.ErrNotFound) {
		sdk.LogErrorf("cors: cannot read the configuration: %v", err)
		return false
	}
	p, err := parseConfig(data)
	if err != nil {
		sdk.LogErrorf("cors: %v", err)
		return false
	}
	r.p = p
	return true
}

func (r *root) NewHTTPContext(uint32) sdk.HTTPContext { return &stream{p: r.p} }

// stream is one request.
type stream struct {
	sdk.DefaultHTTPContext
	p *policy
	// allowOrigin is the Access-Control-Allow-Origin to add to the
	// response; "" when the request is not an allowed CORS request (or the
	// plugin answered it itself).
	allowOrigin string
}

func (s *stream) OnHTTPRequestHeaders(int, bool) sdk.Action {
	origin, err := sdk.GetHTTPRequestHeader("origin")
	if err != nil || origin == "" {
		return sdk.ActionContinue // not a CORS request
	}
	method, _ := sdk.GetHTTPRequestHeader(":method")
	reqMethod, _ := sdk.GetHTTPRequestHeader("access-control-request-method")
	if method != "OPTIONS" || reqMethod == "" {
		// An actual request: decorate the response if the origin is allowed.
		s.allowOrigin = s.p.allowOriginFor(origin)
		return sdk.ActionContinue
	}
	reqHeaders, _ := sdk.GetHTTPRequestHeader("access-control-request-headers")
	status, headers, body := s.p.preflight(origin, reqMethod, reqHeaders)
	if err := sdk.SendHTTPResponse(status, headers, body, -1); err != nil {
		sdk.LogErrorf("cors: answering the preflight: %v", err)
		return sdk.ActionContinue
	}
	return sdk.ActionPause
}

func (s *stream) OnHTTPResponseHeaders(int, bool) sdk.Action {
	if s.allowOrigin == "" {
		return sdk.ActionContinue
	}
	if err := sdk.ReplaceHTTPResponseHeader("access-control-allow-origin", s.allowOrigin); err != nil {
		sdk.LogWarnf("cors: setting access-control-allow-origin: %v", err)
		return sdk.ActionContinue
	}
	if s.allowOrigin != "*" {
		// The answer depends on the Origin: caches must key on it.
		if vary, _ := sdk.GetHTTPResponseHeaders(); !varies(vary, "origin") {
			if err := sdk.AddHTTPResponseHeader("vary", "Origin"); err != nil {
				sdk.LogWarnf("cors: adding vary: %v", err)
			}
		}
	}
	if s.p.credentials {
		if err := sdk.ReplaceHTTPResponseHeader("access-control-allow-credentials", "true"); err != nil {
			sdk.LogWarnf("cors: setting access-control-allow-credentials: %v", err)
		}
	}
	if s.p.expose != "" {
		if err := sdk.ReplaceHTTPResponseHeader("access-control-expose-headers", s.p.expose); err != nil {
			sdk.LogWarnf("cors: setting access-control-expose-headers: %v", err)
		}
	}
	return sdk.ActionContinue
}

// varies reports whether the Vary headers among pairs already name field
// (or are "*").
func varies(pairs [][2]string, field string) bool {
	for _, p := range pairs {
		if p[0] != "vary" {
			continue
		}
		for _, v := range strings.Split(p[1], ",") {
			v = strings.TrimSpace(v)
			if v == "*" || strings.EqualFold(v, field) {
				return true
			}
		}
	}
	return false
}
