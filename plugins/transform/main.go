// Command transform is the wasmgate plugin behind "http" integrations with
// transformations: it applies an API Gateway-style TransformSpec (the
// configuration schema, identical to host/config.TransformSpec) around the
// upstream call:
//
//   - request header and query string mappings from source expressions
//     (method.request.header.NAME, context.requestId, 'literal', ...);
//   - request body mapping templates, selected by Content-Type, in a subset
//     of API Gateway's Velocity template language ($input.json('$.a'),
//     $input.params('id'), $context.requestId, $util.escapeJavaScript(...));
//   - the passthrough behaviour for bodies without a template (415 for
//     "never");
//   - response mappings selected by a regular expression on the upstream
//     status: status, headers and body templates.
//
// See README.md for the exact language and the JSON Schema.
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o transform.wasm .
package main

import (
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

// main is never called: the plugin is a WASI reactor (-buildmode=c-shared).
func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &rootContext{} })
	// Every phase: templates need the bodies. (Hooks are declared before
	// the configuration is known, so a spec without templates cannot
	// drop the body hooks; see README.md.)
	sdk.SetHooks(sdk.HookAll)
}

type rootContext struct {
	sdk.DefaultRootContext
	spec *spec
}

func (r *rootContext) OnPluginStart(int) bool {
	data, err := sdk.GetPluginConfiguration()
	if err != nil && !errors.Is(err, sdk.ErrNotFound) {
		sdk.LogErrorf("transform: cannot read the configuration: %v", err)
		return false
	}
	s, err := parseSpec(data)
	if err != nil {
		sdk.LogErrorf("transform: %v", err)
		return false
	}
	if s.request == nil && len(s.responses) == 0 {
		sdk.LogWarn("transform: the configuration transforms nothing")
	}
	r.spec = s
	return true
}

func (r *rootContext) NewHTTPContext(uint32) sdk.HTTPContext {
	if r.spec.request == nil && len(r.spec.responses) == 0 {
		return nil
	}
	return &httpContext{spec: r.spec}
}

// httpContext transforms one request and its response.
type httpContext struct {
	sdk.DefaultHTTPContext
	spec *spec

	// The request as received (before this plugin's changes).
	reqHeaders [][2]string
	rawQuery   string
	query      map[string][]string // parsed rawQuery, lazily

	answered   bool // this plugin sent a local response
	inTrailers bool // running a trailers callback

	reqTemplate *vtlTemplate // the request template that applies
	reqPending  bool         // body work left for the end of the request
	reqBody     bodyCopy

	resp         *responseSpec // the response mapping that applies
	respHeaders  [][2]string   // the upstream's response headers
	respTemplate *vtlTemplate
	respPending  bool
	respBody     bodyCopy
}

func (c *httpContext) OnHTTPRequestHeaders(_ int, endOfStream bool) sdk.Action {
	headers, err := sdk.GetHTTPRequestHeaders()
	if err != nil {
		sdk.LogErrorf("transform: reading the request headers: %v", err)
		return c.reply(500, "Internal server error")
	}
	c.reqHeaders = headers
	path := header(headers, ":path")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		c.rawQuery = path[i+1:]
	}
	rs := c.spec.request
	if rs == nil {
		return sdk.ActionContinue
	}
	if len(rs.templates) > 0 || rs.passthrough == never {
		ct := mediaType(header(headers, "content-type"))
		if ct == "" {
			ct = "application/json" // API Gateway's default
		}
		c.reqTemplate = rs.templates[ct]
		if c.reqTemplate == nil && (rs.passthrough == never || rs.passthrough == whenNoTemplates && len(rs.templates) > 0) {
			return c.reply(415, "Unsupported Media Type")
		}
	}
	env := &exchangeEnv{c: c}
	c.mapRequest(env, false)
	if endOfStream {
		// No body: body-sourced mappings find nothing, and the request
		// stays without a body (hosts offer no body to replace), so the
		// template does not apply.
		c.mapRequest(env, true)
		return sdk.ActionContinue
	}
	if c.reqTemplate != nil || rs.bodyMappings {
		c.reqPending = true
		if c.reqTemplate != nil {
			if err := sdk.RemoveHTTPRequestHeader("content-length"); err != nil {
				sdk.LogWarnf("transform: removing content-length: %v", err)
			}
		}
	}
	return sdk.ActionContinue
}

func (c *httpContext) OnHTTPRequestBody(bodySize int, endOfStream bool) sdk.Action {
	if !c.reqPending {
		return sdk.ActionContinue
	}
	if err := c.reqBody.read(sdk.GetHTTPRequestBody, bodySize); err != nil {
		sdk.LogErrorf("transform: reading the request body: %v", err)
		return c.reply(500, "Internal server error")
	}
	if !endOfStream {
		return sdk.ActionPause // keep buffering until the whole body is here
	}
	return c.finishRequest(c.reqBody.b)
}

func (c *httpContext) OnHTTPRequestTrailers(int) sdk.Action {
	if !c.reqPending {
		return sdk.ActionContinue
	}
	c.inTrailers = true
	defer func() { c.inTrailers = false }()
	return c.finishRequest(c.reqBody.b)
}

// finishRequest applies what needs the body: body-sourced mappings and the
// template.
func (c *httpContext) finishRequest(body []byte) sdk.Action {
	c.reqPending = false
	env := &exchangeEnv{c: c, body: body}
	c.mapRequest(env, true)
	if c.reqTemplate == nil {
		return sdk.ActionContinue
	}
	out, err := c.reqTemplate.render(env)
	if err != nil {
		var bj *errBadJSON
		if errors.As(err, &bj) {
			return c.reply(400, "Could not parse request body into json: "+bj.err.Error())
		}
		sdk.LogErrorf("transform: request template: %v", err)
		return c.reply(500, "Internal server error")
	}
	if err := sdk.ReplaceHTTPRequestBody([]byte(out)); err != nil {
		sdk.LogErrorf("transform: replacing the request body: %v%s", err, trailersHint(c.inTrailers))
		return c.reply(500, "Internal server error")
	}
	return sdk.ActionContinue
}

// mapRequest applies the request header and query mappings that read the
// body (bodyPhase) or those that do not.
func (c *httpContext) mapRequest(env *exchangeEnv, bodyPhase bool) {
	rs := c.spec.request
	for _, m := range rs.headers {
		if m.src.needsBody() != bodyPhase {
			continue
		}
		vs := m.src.eval(env)
		if len(vs) == 0 {
			continue
		}
		v := strings.Join(vs, ",")
		if strings.ContainsAny(v, "\r\n\x00") {
			sdk.LogWarnf("transform: not setting request header %s: the value contains CR, LF or NUL", m.target)
			continue
		}
		if err := sdk.ReplaceHTTPRequestHeader(m.target, v); err != nil {
			sdk.LogWarnf("transform: setting request header %s: %v", m.target, err)
		}
	}
	var set []mapping
	var values [][]string
	for _, m := range rs.query {
		if m.src.needsBody() != bodyPhase {
			continue
		}
		if vs := m.src.eval(env); len(vs) > 0 {
			set = append(set, m)
			values = append(values, vs)
		}
	}
	if len(set) == 0 {
		return
	}
	path, err := sdk.GetHTTPRequestHeader(":path")
	if err != nil {
		sdk.LogWarnf("transform: reading :path: %v", err)
		return
	}
	p, q, _ := strings.Cut(path, "?")
	replaced := map[string]bool{}
	for _, m := range set {
		replaced[m.target] = true
	}
	var b strings.Builder
	for _, kv := range strings.Split(q, "&") {
		if kv == "" {
			continue
		}
		k, _, _ := strings.Cut(kv, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if replaced[k] {
			continue
		}
		addQuery(&b, kv)
	}
	for i, m := range set {
		for _, v := range values[i] {
			addQuery(&b, url.QueryEscape(m.target)+"="+url.QueryEscape(v))
		}
	}
	if b.Len() > 0 {
		p += "?" + b.String()
	}
	if err := sdk.ReplaceHTTPRequestHeader(":path", p); err != nil {
		sdk.LogWarnf("transform: setting the query string: %v", err)
	}
}

func addQuery(b *strings.Builder, kv string) {
	if b.Len() > 0 {
		b.WriteByte('&')
	}
	b.WriteString(kv)
}

func (c *httpContext) OnHTTPResponseHeaders(_ int, endOfStream bool) sdk.Action {
	if c.answered || len(c.spec.responses) == 0 {
		return sdk.ActionContinue
	}
	status, err := sdk.GetHTTPResponseHeader(":status")
	if err != nil {
		sdk.LogWarnf("transform: reading :status: %v", err)
		return sdk.ActionContinue
	}
	r := c.spec.selectResponse(status)
	if r == nil {
		return sdk.ActionContinue
	}
	c.resp = r
	if len(r.headers) > 0 {
		if c.respHeaders, err = sdk.GetHTTPResponseHeaders(); err != nil {
			sdk.LogWarnf("transform: reading the response headers: %v", err)
		}
	}
	if r.status != 0 {
		if err := sdk.ReplaceHTTPResponseHeader(":status", strconv.Itoa(r.status)); err != nil {
			sdk.LogWarnf("transform: setting the status: %v", err)
		}
	}
	env := &exchangeEnv{c: c, response: true}
	c.mapResponse(env, false)
	if endOfStream {
		// No body: body-sourced mappings find nothing and there is no
		// body to replace with a template.
		c.mapResponse(env, true)
		return sdk.ActionContinue
	}
	ct, t := r.selectTemplate(header(c.reqHeaders, "accept"))
	c.respTemplate = t
	if t != nil {
		if err := sdk.ReplaceHTTPResponseHeader("content-type", ct); err != nil {
			sdk.LogWarnf("transform: setting content-type: %v", err)
		}
		if err := sdk.RemoveHTTPResponseHeader("content-length"); err != nil {
			sdk.LogWarnf("transform: removing content-length: %v", err)
		}
	}
	c.respPending = t != nil || r.bodyMappings
	return sdk.ActionContinue
}

func (c *httpContext) OnHTTPResponseBody(bodySize int, endOfStream bool) sdk.Action {
	if !c.respPending {
		return sdk.ActionContinue
	}
	if err := c.respBody.read(sdk.GetHTTPResponseBody, bodySize); err != nil {
		sdk.LogErrorf("transform: reading the response body: %v", err)
		return c.reply(500, "Internal server error")
	}
	if !endOfStream {
		return sdk.ActionPause // keep buffering
	}
	return c.finishResponse(c.respBody.b)
}

func (c *httpContext) OnHTTPResponseTrailers(int) sdk.Action {
	if !c.respPending {
		return sdk.ActionContinue
	}
	c.inTrailers = true
	defer func() { c.inTrailers = false }()
	return c.finishResponse(c.respBody.b)
}

// bodyCopy accumulates a body as the host buffers it: each body callback
// reads only the bytes added since the previous one, so the whole body is
// at hand in the last callback, be it a body or a trailers callback.
type bodyCopy struct{ b []byte }

func (bc *bodyCopy) read(get func(start, maxSize int) ([]byte, error), size int) error {
	if size <= len(bc.b) {
		return nil
	}
	more, err := get(len(bc.b), size-len(bc.b))
	if err != nil {
		return err
	}
	bc.b = append(bc.b, more...)
	return nil
}

func (c *httpContext) finishResponse(body []byte) sdk.Action {
	c.respPending = false
	env := &exchangeEnv{c: c, body: body, response: true}
	c.mapResponse(env, true)
	if c.respTemplate == nil {
		return sdk.ActionContinue
	}
	out, err := c.respTemplate.render(env)
	if err != nil {
		// API Gateway: "Execution failed due to configuration error:
		// Unable to transform response", answered with a 500.
		sdk.LogErrorf("transform: unable to transform the response: %v", err)
		return c.reply(500, "Internal server error")
	}
	if err := sdk.ReplaceHTTPResponseBody([]byte(out)); err != nil {
		sdk.LogErrorf("transform: replacing the response body: %v%s", err, trailersHint(c.inTrailers))
		return c.reply(500, "Internal server error")
	}
	return sdk.ActionContinue
}

// mapResponse applies the response header mappings that read the body
// (bodyPhase) or those that do not.
func (c *httpContext) mapResponse(env *exchangeEnv, bodyPhase bool) {
	for _, m := range c.resp.headers {
		if m.src.needsBody() != bodyPhase {
			continue
		}
		vs := m.src.eval(env)
		if len(vs) == 0 {
			continue
		}
		v := strings.Join(vs, ",")
		if strings.ContainsAny(v, "\r\n\x00") {
			sdk.LogWarnf("transform: not setting response header %s: the value contains CR, LF or NUL", m.target)
			continue
		}
		if err := sdk.ReplaceHTTPResponseHeader(m.target, v); err != nil {
			sdk.LogWarnf("transform: setting response header %s: %v", m.target, err)
		}
	}
}

// trailersHint explains a body that cannot be replaced from a trailers
// callback.
func trailersHint(inTrailers bool) string {
	if inTrailers {
		return " (the message has trailers and this host lets plugins replace a body only in a body callback, not in the trailers callback that ends such a message)"
	}
	return ""
}

// reply answers the request with a JSON gateway response.
func (c *httpContext) reply(status uint32, message string) sdk.Action {
	c.answered = true
	c.reqPending, c.respPending = false, false
	body, _ := json.Marshal(map[string]string{"message": message})
	if err := sdk.SendHTTPResponse(status, [][2]string{{"content-type", "application/json"}}, body, -1); err != nil {
		sdk.LogErrorf("transform: answering %d: %v", status, err)
		return sdk.ActionContinue
	}
	return sdk.ActionPause
}

// header returns the last value of a header among pairs.
func header(pairs [][2]string, name string) string {
	v := ""
	for _, p := range pairs {
		if p[0] == name {
			v = p[1]
		}
	}
	return v
}

// exchangeEnv is what sources and templates read: the request as
// received, and for response mappings the upstream response.
type exchangeEnv struct {
	c        *httpContext
	body     []byte
	response bool // headers and body are the upstream response's

	parsed    any
	parseErr  error
	parseDone bool
}

func (e *exchangeEnv) headerValues(name string) []string {
	pairs := e.c.reqHeaders
	if e.response {
		pairs = e.c.respHeaders
	}
	var vs []string
	for _, p := range pairs {
		if p[0] == name {
			vs = append(vs, p[1])
		}
	}
	return vs
}

func (e *exchangeEnv) queryValues(name string) []string {
	if e.c.query == nil {
		e.c.query = parseQuery(e.c.rawQuery)
	}
	return e.c.query[name]
}

func (e *exchangeEnv) pathParam(name string) (string, bool) {
	v, err := sdk.GetPropertyString("wasmgate", "route", "params", name)
	return v, err == nil
}

func (e *exchangeEnv) bodyText() string { return string(e.body) }

func (e *exchangeEnv) bodyJSON() (any, error) {
	if !e.parseDone {
		e.parsed, e.parseErr = parseJSONBody(e.body)
		e.parseDone = true
	}
	return e.parsed, e.parseErr
}

// param is $input.params(name): a path parameter, else the query string,
// else a request header (the last value when repeated).
func (e *exchangeEnv) param(name string) string {
	if v, ok := e.pathParam(name); ok {
		return v
	}
	if vs := e.queryValues(name); len(vs) > 0 {
		return vs[len(vs)-1]
	}
	return header(e.c.reqHeaders, strings.ToLower(name))
}

func (e *exchangeEnv) stageVar(name string) (string, bool) {
	v, err := sdk.GetPropertyString("wasmgate", "stage_variables", name)
	return v, err == nil
}

func (e *exchangeEnv) stageVariable(name string) string {
	v, _ := e.stageVar(name)
	return v
}

func (e *exchangeEnv) contextVar(name string) string {
	prop := func(path ...string) string { v, _ := sdk.GetPropertyString(path...); return v }
	switch name {
	case "requestId", "extendedRequestId":
		return prop("request", "id")
	case "httpMethod":
		if m := prop("request", "method"); m != "" {
			return m
		}
		return header(e.c.reqHeaders, ":method")
	case "resourcePath":
		return prop("wasmgate", "route", "template")
	case "path":
		if p, err := sdk.GetPropertyString("request", "url_path"); err == nil {
			return p
		}
		p, _, _ := strings.Cut(header(e.c.reqHeaders, ":path"), "?")
		return p
	case "stage":
		return prop("wasmgate", "stage")
	case "deploymentId":
		return prop("wasmgate", "deployment")
	case "domainName", "domainPrefix":
		host := prop("request", "host")
		if host == "" {
			host = header(e.c.reqHeaders, ":authority")
		}
		host = hostOnly(host)
		if name == "domainPrefix" {
			host, _, _ = strings.Cut(host, ".")
		}
		return host
	case "protocol":
		return prop("request", "protocol")
	case "requestTime", "requestTimeEpoch":
		ns, err := sdk.GetPropertyInt64("request", "time")
		if err != nil {
			return ""
		}
		t := time.Unix(0, ns).UTC()
		if name == "requestTimeEpoch" {
			return strconv.FormatInt(t.UnixMilli(), 10)
		}
		return t.Format("02/Jan/2006:15:04:05 -0700")
	case "identity.sourceIp":
		return sourceIP(prop("source", "address"))
	case "identity.userAgent":
		return header(e.c.reqHeaders, "user-agent")
	case "authorizer.principalId":
		return prop("wasmgate", "authorizer", "principal_id")
	}
	if key, ok := strings.CutPrefix(name, "authorizer."); ok {
		return prop("wasmgate", "authorizer", key)
	}
	return ""
}

// parseQuery decodes a raw query string, keeping the order of values.
func parseQuery(raw string) map[string][]string {
	out := map[string][]string{}
	for _, kv := range strings.Split(raw, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		out[k] = append(out[k], v)
	}
	return out
}

func hostOnly(host string) string {
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end > 0 {
			return host[:end+1]
		}
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.Count(host, ":") == 1 {
		return host[:i]
	}
	return host
}

func sourceIP(addr string) string {
	if strings.HasPrefix(addr, "[") {
		if end := strings.IndexByte(addr, ']'); end > 0 {
			return addr[1:end]
		}
	}
	if strings.Count(addr, ":") == 1 {
		return addr[:strings.IndexByte(addr, ':')]
	}
	return addr
}
