package lambda

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

// Context describes the invocation (the counterpart of a Lambda context).
type Context struct {
	// FunctionName is the plugin's name in the gateway.
	FunctionName string
	// RequestID is the gateway's request id (also in the event).
	RequestID string
	// Stage and Deployment serve the request.
	Stage, Deployment string
	// PayloadVersion is the event format: V1 or V2.
	PayloadVersion string
}

// Handler is a typed function handler. Return an error for API Gateway's
// 502 {"message":"Internal server error"}.
type Handler func(ctx Context, ev *Event) (*Response, error)

// JSONHandler is a raw handler: it receives the proxy event JSON and
// returns the proxy response JSON.
type JSONHandler func(event []byte) ([]byte, error)

// Start makes the plugin a function integration served by h. Call it from
// an init function of package main (main is never called in a plugin).
func Start(h Handler) {
	if h == nil {
		panic("lambda: Start with a nil handler")
	}
	register(func(ctx Context, ev *Event) (*httpResponse, error) {
		r, err := h(ctx, ev)
		if err != nil {
			return nil, fmt.Errorf("the handler failed: %w", err)
		}
		resp, err := r.toHTTP()
		if err != nil {
			return nil, fmt.Errorf("malformed response: %w", err)
		}
		return resp, nil
	})
}

// StartJSON makes the plugin a function integration served by a raw JSON
// handler: h receives the event exactly as API Gateway sends it to Lambda
// (payload 1.0 or 2.0, see the package documentation) and returns the proxy
// response JSON. Call it from an init function of package main.
func StartJSON(h JSONHandler) {
	if h == nil {
		panic("lambda: StartJSON with a nil handler")
	}
	register(func(ctx Context, ev *Event) (*httpResponse, error) {
		in, err := ev.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("encoding the event: %w", err)
		}
		out, err := h(in)
		if err != nil {
			return nil, fmt.Errorf("the handler failed: %w", err)
		}
		r, err := parseResponse(out, ev.Version)
		if err != nil {
			return nil, fmt.Errorf("malformed response: %w", err)
		}
		resp, err := r.toHTTP()
		if err != nil {
			return nil, fmt.Errorf("malformed response: %w", err)
		}
		return resp, nil
	})
}

// Configure registers a function that receives the configuration fields
// this package does not use, as a JSON object ("{}" when there are none),
// when the plugin starts. Return an error to reject the configuration.
// Without Configure, unknown fields are errors. Call it from init, next to
// Start.
func Configure(fn func(extra []byte) error) { configure = fn }

var (
	invoke    func(ctx Context, ev *Event) (*httpResponse, error)
	configure func(extra []byte) error
)

func register(fn func(ctx Context, ev *Event) (*httpResponse, error)) {
	invoke = fn
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &rootContext{} })
	// The whole request, no response hooks: the function answers.
	sdk.SetHooks(sdk.HookRequestHeaders | sdk.HookRequestBody | sdk.HookRequestTrailers)
}

// config is the plugin configuration.
type config struct {
	options
	stageVars []string
}

func parseConfig(data []byte) (*config, error) {
	c := &config{options: options{version: V1}}
	fields := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(data)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&fields); err != nil {
			return nil, fmt.Errorf(`configuration is not a JSON object (want {"payload_version":"1.0"}): %w`, err)
		}
		if dec.More() {
			return nil, errors.New("configuration: unexpected data after the JSON object")
		}
	}
	if raw, ok := fields["payload_version"]; ok {
		delete(fields, "payload_version")
		var v string
		if err := json.Unmarshal(raw, &v); err != nil || v != V1 && v != V2 {
			return nil, fmt.Errorf(`configuration: "payload_version" must be "1.0" or "2.0", not %s`, truncate(string(raw), 40))
		}
		c.version = v
	}
	if raw, ok := fields["binary_media_types"]; ok {
		delete(fields, "binary_media_types")
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf(`configuration: "binary_media_types" must be a list of media types: %w`, err)
		}
		for _, t := range list {
			lt := strings.ToLower(strings.TrimSpace(t))
			typ, sub, ok := strings.Cut(lt, "/")
			if !ok || !validHeaderName(typ) || !validHeaderName(sub) || typ == "*" && sub != "*" {
				return nil, fmt.Errorf(`configuration: "binary_media_types": %q is not a media type; use "type/subtype", "type/*" or "*/*"`, t)
			}
			c.binaryTypes = append(c.binaryTypes, lt)
		}
	}
	if raw, ok := fields["stage_variables"]; ok {
		delete(fields, "stage_variables")
		if err := json.Unmarshal(raw, &c.stageVars); err != nil {
			return nil, fmt.Errorf(`configuration: "stage_variables" must be a list of stage variable names: %w`, err)
		}
		for _, n := range c.stageVars {
			if n == "" || strings.ContainsAny(n, ". \t\r\n") {
				return nil, fmt.Errorf(`configuration: "stage_variables": %q is not a stage variable name`, n)
			}
		}
	}
	if configure != nil {
		extra, _ := json.Marshal(fields) // re-encoding decoded raw messages cannot fail
		if err := configure(extra); err != nil {
			return nil, fmt.Errorf("configuration: %w", err)
		}
	} else if len(fields) > 0 {
		return nil, fmt.Errorf(`configuration: unknown field(s) %s; use payload_version, binary_media_types and stage_variables (a function that takes its own settings registers lambda.Configure)`, strings.Join(sortedKeys(fields), ", "))
	}
	return c, nil
}

type rootContext struct {
	sdk.DefaultRootContext
	cfg  *config
	name string
}

func (r *rootContext) OnPluginStart(int) bool {
	data, err := sdk.GetPluginConfiguration()
	if err != nil && !errors.Is(err, sdk.ErrNotFound) {
		sdk.LogErrorf("lambda: cannot read the configuration: %v", err)
		return false
	}
	cfg, err := parseConfig(data)
	if err != nil {
		sdk.LogErrorf("lambda: %v", err)
		return false
	}
	r.cfg = cfg
	r.name, _ = sdk.GetPropertyString("plugin_name")
	return true
}

func (r *rootContext) NewHTTPContext(uint32) sdk.HTTPContext { return &httpContext{root: r} }

// httpContext collects one request and answers it.
type httpContext struct {
	sdk.DefaultHTTPContext
	root *rootContext
	req  request
	done bool
}

func (c *httpContext) OnHTTPRequestHeaders(_ int, endOfStream bool) sdk.Action {
	headers, err := sdk.GetHTTPRequestHeaders()
	if err != nil {
		sdk.LogErrorf("lambda: reading the request headers: %v", err)
		return c.answer(errorResponse())
	}
	var path, authority string
	for _, h := range headers {
		switch h[0] {
		case ":method":
			c.req.method = h[1]
		case ":path":
			path = h[1]
		case ":authority":
			authority = h[1]
		default:
			if !strings.HasPrefix(h[0], ":") {
				c.req.headers = append(c.req.headers, [2]string{strings.ToLower(h[0]), h[1]})
			}
		}
	}
	c.req.urlPath, c.req.rawQuery, _ = strings.Cut(path, "?")
	c.req.host = authority
	if endOfStream {
		return c.run()
	}
	// The body follows; the gateway buffers it for this plugin.
	return sdk.ActionContinue
}

func (c *httpContext) OnHTTPRequestBody(bodySize int, endOfStream bool) sdk.Action {
	if c.done {
		return sdk.ActionPause
	}
	// Read only what was added since the previous callback: the whole
	// body is then at hand in the last callback, body or trailers (hosts
	// may not expose the body in the trailers callback).
	if bodySize > len(c.req.body) {
		more, err := sdk.GetHTTPRequestBody(len(c.req.body), bodySize-len(c.req.body))
		if err != nil {
			sdk.LogErrorf("lambda: reading the request body: %v", err)
			return c.answer(errorResponse())
		}
		c.req.body = append(c.req.body, more...)
	}
	if !endOfStream {
		return sdk.ActionPause // keep buffering
	}
	return c.run()
}

func (c *httpContext) OnHTTPRequestTrailers(int) sdk.Action { return c.run() }

// run completes the request from the properties, invokes the handler and
// answers.
func (c *httpContext) run() sdk.Action {
	if c.done {
		return sdk.ActionPause
	}
	r := &c.req
	prop := func(path ...string) string { v, _ := sdk.GetPropertyString(path...); return v }
	if v := prop("request", "method"); v != "" {
		r.method = v
	}
	if v, err := sdk.GetPropertyString("request", "url_path"); err == nil {
		r.urlPath = v
	}
	if v, err := sdk.GetPropertyString("request", "query"); err == nil {
		r.rawQuery = v
	}
	if v := prop("request", "host"); v != "" {
		r.host = v
	}
	r.protocol = prop("request", "protocol")
	r.requestID = prop("request", "id")
	r.stage = prop("wasmgate", "stage")
	r.deployment = prop("wasmgate", "deployment")
	r.template = prop("wasmgate", "route", "template")
	r.sourceAddr = prop("source", "address")
	r.timeNanos, _ = sdk.GetPropertyInt64("request", "time")
	r.params = c.pathParams()
	r.stageVars = c.stageVars()

	ev := buildEvent(r, &c.root.cfg.options)
	ctx := Context{
		FunctionName:   c.root.name,
		RequestID:      r.requestID,
		Stage:          r.stage,
		Deployment:     r.deployment,
		PayloadVersion: ev.Version,
	}
	return c.answer(call(ctx, ev))
}

// call invokes the handler, turning errors and panics into API Gateway's
// 502.
func call(ctx Context, ev *Event) (resp *httpResponse) {
	defer func() {
		if p := recover(); p != nil {
			sdk.LogErrorf("lambda: the handler panicked: %v\n%s", p, debug.Stack())
			resp = errorResponse()
		}
	}()
	resp, err := invoke(ctx, ev)
	if err != nil {
		sdk.LogErrorf("lambda: request %s: %v", ctx.RequestID, err)
		return errorResponse()
	}
	return resp
}

func (c *httpContext) answer(r *httpResponse) sdk.Action {
	c.done = true
	if err := sdk.SendHTTPResponse(uint32(r.status), r.headers, r.body, -1); err != nil {
		sdk.LogErrorf("lambda: sending the response: %v", err)
		return sdk.ActionContinue
	}
	return sdk.ActionPause
}

// pathParams reads the route's path parameters: the map property
// wasmgate.route.params when the host offers it, else each parameter named
// in the route template.
func (c *httpContext) pathParams() map[string]string {
	if pairs, err := sdk.GetPropertyMap("wasmgate", "route", "params"); err == nil && len(pairs) > 0 {
		return pairsToMap(pairs)
	}
	names := templateParams(c.req.template)
	if len(names) == 0 {
		return nil
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		if v, err := sdk.GetPropertyString("wasmgate", "route", "params", n); err == nil {
			m[n] = v
		}
	}
	return m
}

// stageVars reads the stage variables: those named in the configuration
// when it names some (an allowlist: keep secrets out of the event), else
// all of them, from the wasmgate.stage_variables map property (as API
// Gateway puts every stage variable in the event).
func (c *httpContext) stageVars() map[string]string {
	names := c.root.cfg.stageVars
	if len(names) == 0 {
		if pairs, err := sdk.GetPropertyMap("wasmgate", "stage_variables"); err == nil && len(pairs) > 0 {
			return pairsToMap(pairs)
		}
		return nil
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		if v, err := sdk.GetPropertyString("wasmgate", "stage_variables", n); err == nil {
			m[n] = v
		}
	}
	return m
}

func pairsToMap(pairs [][2]string) map[string]string {
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		m[p[0]] = p[1]
	}
	return m
}
