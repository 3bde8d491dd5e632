package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/wasmgate/wasmgate/host/config"
)

// Gateway response types the gateway generates (see
// config.GatewayResponseTypes for every type a document may customize).
const (
	respDefault4XX          = "DEFAULT_4XX"
	respDefault5XX          = "DEFAULT_5XX"
	respResourceNotFound    = "RESOURCE_NOT_FOUND"
	respUnauthorized        = "UNAUTHORIZED"
	respAccessDenied        = "ACCESS_DENIED"
	respAuthorizerFailure   = "AUTHORIZER_FAILURE"
	respAuthorizerConfig    = "AUTHORIZER_CONFIGURATION_ERROR"
	respRequestTooLarge     = "REQUEST_TOO_LARGE"
	respThrottled           = "THROTTLED"
	respIntegrationFailure  = "INTEGRATION_FAILURE"
	respIntegrationTimeout  = "INTEGRATION_TIMEOUT"
	respAPIConfigurationErr = "API_CONFIGURATION_ERROR"
)

// responseTypeOf is the response type of a gateway error by its status,
// for the call sites that do not name one: 405 and plugin failures (500)
// have no type of their own and take DEFAULT_4XX or DEFAULT_5XX.
func responseTypeOf(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return respUnauthorized
	case http.StatusForbidden:
		return respAccessDenied
	case http.StatusNotFound:
		return respResourceNotFound
	case http.StatusRequestEntityTooLarge:
		return respRequestTooLarge
	case http.StatusTooManyRequests:
		return respThrottled
	case http.StatusBadGateway:
		return respIntegrationFailure
	case http.StatusGatewayTimeout:
		return respIntegrationTimeout
	}
	return ""
}

// gatewayResponses are a snapshot's compiled
// x-amazon-apigateway-gateway-responses.
type gatewayResponses struct {
	byType map[string]*compiledResponse
}

// compiledResponse is one customized response type.
type compiledResponse struct {
	typ         string
	status      int // 0: keep the response's
	headers     []responseHeader
	contentType string // "" without a template: the default JSON body
	tmpl        []config.TemplatePart
}

type responseHeader struct {
	name string
	lit  string // a 'literal', unquoted
	src  string // or a source: method.request.header.X, context.X, ...
}

// compileResponses compiles a document's gateway responses once per
// snapshot; nil when the document customizes none.
func compileResponses(api *config.API) (*gatewayResponses, error) {
	if len(api.GatewayResponses) == 0 {
		return nil, nil
	}
	out := &gatewayResponses{byType: map[string]*compiledResponse{}}
	for typ, gr := range api.GatewayResponses {
		c := &compiledResponse{typ: typ, status: gr.StatusCode}
		if typ == respDefault4XX || typ == respDefault5XX {
			c.status = 0 // they stand in for types with a status of their own
		}
		for name, v := range gr.Headers {
			h := responseHeader{name: http.CanonicalHeaderKey(name)}
			if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
				h.lit = v[1 : len(v)-1]
			} else {
				h.src = v
			}
			c.headers = append(c.headers, h)
		}
		sort.Slice(c.headers, func(i, j int) bool { return c.headers[i].name < c.headers[j].name })
		if len(gr.Templates) > 0 {
			ct := "application/json"
			if _, ok := gr.Templates[ct]; !ok {
				keys := make([]string, 0, len(gr.Templates))
				for k := range gr.Templates {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				ct = keys[0]
			}
			parts, err := config.ParseGatewayTemplate(gr.Templates[ct])
			if err != nil {
				return nil, fmt.Errorf("gateway response %s (%s): %w", typ, gr.Loc, err)
			}
			c.contentType, c.tmpl = ct, parts
		}
		out.byType[typ] = c
	}
	return out, nil
}

// find picks the customization of a response: its own type's, else
// DEFAULT_4XX or DEFAULT_5XX by status; nil for the built-in response.
func (g *gatewayResponses) find(typ string, status int) *compiledResponse {
	if g == nil {
		return nil
	}
	if c, ok := g.byType[typ]; ok && typ != "" {
		return c
	}
	switch {
	case status >= 400 && status < 500:
		return g.byType[respDefault4XX]
	case status >= 500:
		return g.byType[respDefault5XX]
	}
	return nil
}

// writeGatewayError writes a response the gateway generates, with the
// response type its status implies.
func (g *Gateway) writeGatewayError(w http.ResponseWriter, rc *reqCtx, status int, msg string) {
	g.writeGatewayResponse(w, rc, responseTypeOf(status), status, msg)
}

// writeGatewayResponse writes a response the gateway generates: the
// built-in JSON body with the message and request id (writeError), as
// the API's x-amazon-apigateway-gateway-responses customize it for typ.
// Responses that plugins or backends send are never customized.
func (g *Gateway) writeGatewayResponse(w http.ResponseWriter, rc *reqCtx, typ string, status int, msg string) {
	if rc.obs.errMsg == "" {
		rc.obs.errMsg = msg // for the access log
	}
	var c *compiledResponse
	if rc.snap != nil {
		c = rc.snap.responses.find(typ, status)
	}
	if c == nil {
		writeError(w, status, rc.id, msg)
		return
	}
	if typ == "" {
		typ = c.typ
	}
	if c.status != 0 {
		status = c.status
	}
	v := &responseVars{rc: rc, typ: typ, msg: msg}
	h := w.Header()
	for _, rh := range c.headers {
		val := rh.lit
		if rh.src != "" {
			val = v.source(rh.src)
		}
		if val != "" && !strings.ContainsAny(val, "\r\n\x00") {
			h.Set(rh.name, val)
		}
	}
	var body []byte
	if c.tmpl != nil {
		var b strings.Builder
		for _, p := range c.tmpl {
			if p.Var == "" {
				b.WriteString(p.Text)
			} else {
				b.WriteString(v.context(p.Var))
			}
		}
		body = []byte(b.String())
		h.Set("Content-Type", c.contentType)
	} else {
		body, _ = json.Marshal(gatewayError{Message: msg, RequestID: rc.id})
		body = append(body, '\n')
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Request-Id", rc.id)
	h.Set("X-Wasmgate-Error", http.StatusText(status))
	w.WriteHeader(status)
	w.Write(body)
}

// responseVars resolves the $context variables and header sources of a
// gateway response.
type responseVars struct {
	rc  *reqCtx
	typ string
	msg string
}

func (v *responseVars) source(src string) string {
	r := v.rc.r
	switch {
	case strings.HasPrefix(src, "method.request.header."):
		return r.Header.Get(src[len("method.request.header."):])
	case strings.HasPrefix(src, "method.request.querystring."):
		return r.URL.Query().Get(src[len("method.request.querystring."):])
	case strings.HasPrefix(src, "method.request.path."):
		if v.rc.route == nil {
			return ""
		}
		return v.rc.param(src[len("method.request.path."):])
	case strings.HasPrefix(src, "stageVariables."):
		if v.rc.stage == nil {
			return ""
		}
		return v.rc.stage.vars[src[len("stageVariables."):]]
	case strings.HasPrefix(src, "context."):
		return v.context(src[len("context."):])
	}
	return ""
}

func (v *responseVars) context(name string) string {
	rc, r := v.rc, v.rc.r
	switch name {
	case "requestId":
		return rc.id
	case "error.message":
		return v.msg
	case "error.messageString":
		b, _ := json.Marshal(v.msg)
		return string(b)
	case "error.responseType":
		return v.typ
	case "stage":
		if rc.stage != nil {
			return rc.stage.name
		}
	case "httpMethod":
		return r.Method
	case "resourcePath":
		if rc.route != nil {
			return rc.route.Template
		}
	case "path":
		return r.URL.Path
	case "domainName":
		return hostOnly(r.Host)
	case "identity.sourceIp":
		return sourceIP(r.RemoteAddr)
	case "identity.userAgent":
		return r.UserAgent()
	case "authorizer.principalId":
		if rc.auth != nil {
			return rc.auth.principal
		}
	default:
		if key, ok := strings.CutPrefix(name, "authorizer."); ok && rc.auth != nil {
			return rc.auth.value(key)
		}
	}
	return ""
}
