package config

import (
	"fmt"
	"slices"
	"strings"
)

// Gateway response types (x-amazon-apigateway-gateway-responses keys).
// The gateway generates the ones listed in the README ("Gateway
// responses"); the others are accepted, so that AWS exports import, and
// only matter through DEFAULT_4XX and DEFAULT_5XX.
var GatewayResponseTypes = []string{
	"ACCESS_DENIED", "API_CONFIGURATION_ERROR", "AUTHORIZER_CONFIGURATION_ERROR", "AUTHORIZER_FAILURE",
	"BAD_REQUEST_BODY", "BAD_REQUEST_PARAMETERS", "DEFAULT_4XX", "DEFAULT_5XX", "EXPIRED_TOKEN",
	"INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT", "INVALID_API_KEY", "INVALID_SIGNATURE",
	"MISSING_AUTHENTICATION_TOKEN", "QUOTA_EXCEEDED", "REQUEST_TOO_LARGE", "RESOURCE_NOT_FOUND",
	"THROTTLED", "UNAUTHORIZED", "UNSUPPORTED_MEDIA_TYPE", "WAF_FILTERED",
}

// GatewayResponse is one entry of the root extension
// x-amazon-apigateway-gateway-responses: how the gateway writes the
// responses of one type that it generates itself (not those of plugins
// or backends).
//
//	x-amazon-apigateway-gateway-responses:
//	  DEFAULT_4XX:
//	    responseParameters:
//	      gatewayresponse.header.Access-Control-Allow-Origin: "'*'"
//	    responseTemplates:
//	      application/json: '{"message":$context.error.messageString,"id":"$context.requestId"}'
//	  RESOURCE_NOT_FOUND:
//	    statusCode: "404"
type GatewayResponse struct {
	// Type is the response type, one of GatewayResponseTypes.
	Type string `json:"type"`
	// StatusCode replaces the response's status; 0 keeps it. It is
	// ignored on DEFAULT_4XX and DEFAULT_5XX, which stand in for types of
	// their own status.
	StatusCode int `json:"statusCode,omitempty"`
	// Headers maps a response header name to its source: a 'literal',
	// method.request.header.NAME, method.request.querystring.NAME,
	// method.request.path.NAME, stageVariables.NAME or context.NAME (a
	// template variable without the $).
	Headers map[string]string `json:"headers,omitempty"`
	// Templates maps a content type to a body template (see
	// ParseGatewayTemplate); the application/json one is used when there
	// are several, else the first by name.
	Templates map[string]string `json:"templates,omitempty"`
	// Loc is the JSON pointer of the entry.
	Loc string `json:"loc"`
}

// GatewayTemplateVars are the variables a gateway response template or
// header may use, besides context.authorizer.KEY (a key of the
// authorizer's context).
var GatewayTemplateVars = []string{
	"authorizer.principalId", "domainName", "error.message", "error.messageString", "error.responseType",
	"httpMethod", "identity.sourceIp", "identity.userAgent", "path", "requestId", "resourcePath", "stage",
}

// TemplatePart is a piece of a compiled gateway response template:
// literal Text, or the value of the $context variable Var.
type TemplatePart struct {
	Text string
	Var  string // without "context.", e.g. "error.messageString"
}

// ParseGatewayTemplate compiles a gateway response template: text with
// $context.NAME variables (also written ${context.NAME}, $!context.NAME
// or $!{context.NAME}); NAME is one of GatewayTemplateVars or
// authorizer.KEY. Other VTL ($input, $util, directives) is not supported
// in gateway responses: there is no request body to map.
func ParseGatewayTemplate(s string) ([]TemplatePart, error) {
	var out []TemplatePart
	var lit strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' {
			lit.WriteByte(c)
			i++
			continue
		}
		j := i + 1
		if j < len(s) && s[j] == '!' {
			j++
		}
		braced := j < len(s) && s[j] == '{'
		if braced {
			j++
		}
		if j >= len(s) || !identStart(s[j]) {
			lit.WriteString(s[i:j])
			i = j
			continue
		}
		// A dotted name: segments of letters, digits and '_'.
		k := j
		for k < len(s) {
			e := k
			for e < len(s) && identChar(s[e]) {
				e++
			}
			if e == k {
				break
			}
			k = e
			if k+1 < len(s) && s[k] == '.' && identStart(s[k+1]) {
				k++
				continue
			}
			break
		}
		name := s[j:k]
		if braced {
			if k >= len(s) || s[k] != '}' {
				return nil, fmt.Errorf("unterminated ${%s; write ${context.NAME}", name)
			}
			k++
		}
		v, ok := strings.CutPrefix(name, "context.")
		if !ok {
			return nil, fmt.Errorf("$%s is not supported in a gateway response; use $context.NAME with NAME one of %s or authorizer.KEY", name, strings.Join(GatewayTemplateVars, ", "))
		}
		if !gatewayVar(v) {
			return nil, fmt.Errorf("$context.%s is not supported in a gateway response; use one of %s or authorizer.KEY", v, strings.Join(GatewayTemplateVars, ", "))
		}
		if lit.Len() > 0 {
			out = append(out, TemplatePart{Text: lit.String()})
			lit.Reset()
		}
		out = append(out, TemplatePart{Var: v})
		i = k
	}
	if lit.Len() > 0 {
		out = append(out, TemplatePart{Text: lit.String()})
	}
	return out, nil
}

func gatewayVar(v string) bool {
	if slices.Contains(GatewayTemplateVars, v) {
		return true
	}
	key, ok := strings.CutPrefix(v, "authorizer.")
	return ok && key != ""
}

func identStart(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }
func identChar(c byte) bool  { return identStart(c) || '0' <= c && c <= '9' }

// gatewayHeaderSources are the prefixes of a gateway response header's
// source.
var gatewayHeaderSources = []string{
	"method.request.header.", "method.request.querystring.", "method.request.path.", "stageVariables.", "context.",
}

// decodeGatewayResponses decodes x-amazon-apigateway-gateway-responses.
func decodeGatewayResponses(probs *problems, v any, at string) map[string]*GatewayResponse {
	m, ok := v.(map[string]any)
	if !ok {
		probs.add(at, "%s must be an object keyed by response type (DEFAULT_4XX, UNAUTHORIZED, ...), not %s", extGatewayResponses, kindOf(v))
		return nil
	}
	out := map[string]*GatewayResponse{}
	for _, typ := range sortedKeys(m) {
		rat := ptr(at, typ)
		if !slices.Contains(GatewayResponseTypes, typ) {
			probs.add(rat, "unknown gateway response type %q; use one of %s", typ, strings.Join(GatewayResponseTypes, ", "))
			continue
		}
		o, ok := asObject(probs, m[typ], rat, "a gateway response", "statusCode", "responseParameters", "responseTemplates", "defaultResponse")
		if !ok {
			continue
		}
		good := true
		r := &GatewayResponse{Type: typ, Loc: rat}
		if _, ok := o.m["statusCode"]; ok {
			s, ok := o.statusCode("statusCode")
			good = good && ok
			r.StatusCode = s
		}
		params, ok := o.strMap("responseParameters")
		good = good && (ok || !o.has("responseParameters"))
		for _, k := range sortedKeys(params) {
			kp := ptr(o.ptr("responseParameters"), k)
			name, ok := strings.CutPrefix(k, "gatewayresponse.header.")
			if !ok || name == "" {
				probs.add(kp, "unsupported target %q; use gatewayresponse.header.NAME", k)
				good = false
				continue
			}
			if !validGatewaySource(params[k]) {
				probs.add(kp, "unsupported source %q; use a quoted 'literal', %sNAME", params[k], strings.Join(gatewayHeaderSources, "NAME, "))
				good = false
				continue
			}
			r.Headers = put(r.Headers, name, params[k])
		}
		templates, ok := o.strMap("responseTemplates")
		good = good && (ok || !o.has("responseTemplates"))
		for _, ct := range sortedKeys(templates) {
			if _, err := ParseGatewayTemplate(templates[ct]); err != nil {
				probs.add(ptr(o.ptr("responseTemplates"), ct), "%s", err)
				good = false
			}
		}
		if len(templates) > 0 {
			r.Templates = templates
		}
		if good {
			out[typ] = r
		}
	}
	return out
}

func validGatewaySource(s string) bool {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return true
	}
	for _, p := range gatewayHeaderSources {
		if rest, ok := strings.CutPrefix(s, p); ok && rest != "" {
			return p != "context." || gatewayVar(rest)
		}
	}
	return false
}
