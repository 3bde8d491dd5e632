package config

import (
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Custom authorizer types, as found in Authorizer.Type.
const (
	AuthorizerToken   = "token"
	AuthorizerRequest = "request"
)

// Authorizer result caching, in seconds.
const (
	DefaultAuthorizerTTL = 300
	MaxAuthorizerTTL     = 3600
)

// Identity source locations, as found in IdentitySource.In.
const (
	IdentityHeader        = "header"
	IdentityQuery         = "query"
	IdentityStageVariable = "stageVariable"
	IdentityContext       = "context"
)

// Extension names of security schemes and the gateway responses.
const (
	extAuthType         = "x-amazon-apigateway-authtype"
	extAuthorizer       = "x-amazon-apigateway-authorizer"
	extPlugin           = "x-wasmgate-plugin"
	extGatewayResponses = "x-amazon-apigateway-gateway-responses"
)

// Authorizer is a custom authorizer, API Gateway's Lambda authorizer with
// a Wasm plugin in the Lambda's place. It is declared as a security
// scheme (components.securitySchemes in OpenAPI 3, securityDefinitions in
// Swagger 2.0):
//
//	myAuth:
//	  type: apiKey
//	  name: Authorization
//	  in: header
//	  x-amazon-apigateway-authtype: custom
//	  x-amazon-apigateway-authorizer:
//	    type: token                    # or request
//	    identitySource: method.request.header.Authorization
//	    authorizerResultTtlInSeconds: 300
//	    identityValidationExpression: "^Bearer [-0-9a-zA-Z._]+$"
//	  x-wasmgate-plugin: {plugin: token-authorizer@1.0.0, config: {...}}
//
// and used by the operations whose security requirement names it
// (security: [{myAuth: []}], on the operation or the document root).
type Authorizer struct {
	// Name is the security scheme's name.
	Name string `json:"name"`
	// Type is AuthorizerToken or AuthorizerRequest.
	Type string `json:"type"`
	// IdentitySources are what identifies the caller: one header for a
	// token authorizer (Authorization by default); headers, query
	// parameters, stage variables and context variables for a request
	// authorizer. A request missing one is refused with 401 without
	// calling the authorizer; their values key the result cache.
	IdentitySources []IdentitySource `json:"identitySources"`
	// TTL is authorizerResultTtlInSeconds: how long a decision is cached
	// for the same identity values (DefaultAuthorizerTTL when absent, 0:
	// never cached, at most MaxAuthorizerTTL).
	TTL int `json:"ttlSeconds"`
	// ValidationExpression is identityValidationExpression (token
	// authorizers): a regular expression the whole token must match, else
	// 401 without calling the authorizer. "" for none.
	ValidationExpression string `json:"validationExpression,omitempty"`
	// Plugin is the authorizer plugin (x-wasmgate-plugin): it receives
	// the authorizer event and answers with the authorizer response.
	Plugin PluginRef `json:"plugin"`
	// Loc is the JSON pointer of the security scheme.
	Loc string `json:"loc"`
}

// IdentitySource is one entry of an authorizer's identitySource.
type IdentitySource struct {
	// Source is the expression as written, e.g.
	// "method.request.header.Authorization".
	Source string `json:"source"`
	// In is IdentityHeader, IdentityQuery, IdentityStageVariable or
	// IdentityContext.
	In string `json:"in"`
	// Name is the header, query parameter, stage variable or context
	// variable name.
	Name string `json:"name"`
}

// identityContextVars are the context variables an identity source may
// name.
var identityContextVars = []string{
	"domainName", "httpMethod", "identity.sourceIp", "identity.userAgent", "path",
	"protocol", "resourcePath", "stage",
}

// authorizerFields are the members of x-amazon-apigateway-authorizer:
// authorizerUri and authorizerCredentials are accepted (imported AWS
// documents have them) but a Wasm plugin replaces the Lambda function.
var authorizerFields = []string{
	"type", "identitySource", "authorizerResultTtlInSeconds", "identityValidationExpression",
	"authorizerUri", "authorizerCredentials",
}

// securitySchemes reads the custom authorizers among the document's
// security schemes; other schemes are left to kin-openapi (and to the
// plugins that implement them, such as api-key).
func (p *parser) securitySchemes(format string) map[string]*Authorizer {
	at := "/components/securitySchemes"
	schemes, _ := lookupPointer(p.doc, at)
	if format == FormatSwagger2 {
		at = "/securityDefinitions"
		schemes = p.doc["securityDefinitions"]
	}
	m, _ := schemes.(map[string]any)
	out := map[string]*Authorizer{}
	for _, name := range sortedKeys(m) {
		sm, ok := m[name].(map[string]any)
		if !ok {
			continue // kin-openapi reports it
		}
		sat := ptr(at, name)
		checkExtensions(&p.probs, sm, sat, extPlugin)
		_, hasAuth := sm[extAuthorizer]
		_, hasType := sm[extAuthType]
		_, hasPlugin := sm[extPlugin]
		if !hasAuth && !hasType && !hasPlugin {
			continue
		}
		if a := p.authorizer(name, sm, sat); a != nil {
			out[name] = a
		}
	}
	return out
}

// authorizer decodes one custom authorizer security scheme; nil when it
// has errors (reported).
func (p *parser) authorizer(name string, sm map[string]any, at string) *Authorizer {
	probs := &p.probs
	good := true
	if t, ok := sm[extAuthType]; ok {
		if s, _ := t.(string); !strings.EqualFold(s, "custom") {
			probs.add(ptr(at, extAuthType), "unsupported authtype %s; wasmgate runs custom authorizers only (\"custom\")", kindOf(t))
			good = false
		}
	}
	if t, _ := sm["type"].(string); t != "apiKey" {
		probs.add(ptr(at, "type"), "a custom authorizer is declared as a security scheme of type apiKey (with name and in), not %s", kindOf(sm["type"]))
		good = false
	}
	av, ok := sm[extAuthorizer]
	if !ok {
		probs.add(at, "%s is required for a custom authorizer: {type: token|request, identitySource: ..., authorizerResultTtlInSeconds: 300}", extAuthorizer)
		return nil
	}
	o, ok := asObject(probs, av, ptr(at, extAuthorizer), extAuthorizer, authorizerFields...)
	if !ok {
		return nil
	}
	a := &Authorizer{Name: name, TTL: DefaultAuthorizerTTL, Loc: at}
	typ, ok := o.required("type", "; use token or request")
	a.Type = strings.ToLower(typ)
	if ok && a.Type != AuthorizerToken && a.Type != AuthorizerRequest {
		probs.add(o.ptr("type"), "unsupported authorizer type %q; use token or request (a cognito_user_pools authorizer has no Wasm counterpart)", typ)
		good = false
	}
	good = good && ok
	if ttl, ok := o.integer("authorizerResultTtlInSeconds", 0, MaxAuthorizerTTL); ok {
		a.TTL = int(ttl)
	} else if o.has("authorizerResultTtlInSeconds") {
		good = false
	}

	src, hasSrc := o.str("identitySource")
	if !hasSrc && o.has("identitySource") {
		good = false
	}
	switch a.Type {
	case AuthorizerToken:
		if !hasSrc {
			src = "method.request.header.Authorization"
		}
		s, ok := parseIdentitySource(strings.TrimSpace(src))
		if !ok || s.In != IdentityHeader || strings.Contains(src, ",") {
			probs.add(o.ptr("identitySource"), "a token authorizer reads one header: write method.request.header.NAME, not %q", src)
			good = false
		} else {
			a.IdentitySources = []IdentitySource{s}
		}
		if e, ok := o.str("identityValidationExpression"); ok {
			if _, err := regexp.Compile(e); err != nil {
				probs.add(o.ptr("identityValidationExpression"), "bad regular expression %q: %s", e, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
				good = false
			}
			a.ValidationExpression = e
		} else if o.has("identityValidationExpression") {
			good = false
		}
	case AuthorizerRequest:
		if o.has("identityValidationExpression") {
			probs.add(o.ptr("identityValidationExpression"), "identityValidationExpression is for token authorizers only")
			good = false
		}
		if hasSrc {
			for _, part := range strings.Split(src, ",") {
				s, ok := parseIdentitySource(strings.TrimSpace(part))
				if !ok {
					probs.add(o.ptr("identitySource"), "unsupported identity source %q; use method.request.header.NAME, method.request.querystring.NAME, stageVariables.NAME or context.NAME (%s), separated by commas", strings.TrimSpace(part), strings.Join(identityContextVars, ", "))
					good = false
					continue
				}
				a.IdentitySources = append(a.IdentitySources, s)
			}
		} else if a.TTL > 0 {
			probs.add(o.at, "identitySource is required for a request authorizer whose results are cached (they are cached by its values); list them, or set authorizerResultTtlInSeconds: 0")
			good = false
		}
	}
	if a.IdentitySources == nil {
		a.IdentitySources = []IdentitySource{}
	}

	pv, hasPlugin := sm[extPlugin]
	switch {
	case !hasPlugin && o.has("authorizerUri"):
		probs.add(ptr(at, extAuthorizer, "authorizerUri"), "authorizerUri names a Lambda function, which wasmgate does not call; add %s: {plugin: NAME@version, config: {...}} to the security scheme to run a Wasm authorizer in its place", extPlugin)
		good = false
	case !hasPlugin:
		probs.add(at, "%s is required for a custom authorizer: {plugin: NAME@version, config: {...}}, the Wasm plugin that decides", extPlugin)
		good = false
	default:
		po, ok := asObject(probs, pv, ptr(at, extPlugin), extPlugin, "plugin", "config")
		if !ok {
			good = false
			break
		}
		r, ok := pluginRef(po, "plugin", po.at)
		cfg, cok := pluginConfig(po, "config")
		r.Config = cfg
		a.Plugin = r
		good = good && ok && cok
	}
	if !good {
		return nil
	}
	return a
}

// parseIdentitySource reads one identity source expression.
func parseIdentitySource(s string) (IdentitySource, bool) {
	prefixes := []struct{ prefix, in string }{
		{"method.request.header.", IdentityHeader},
		{"method.request.querystring.", IdentityQuery},
		{"stageVariables.", IdentityStageVariable},
		{"context.", IdentityContext},
	}
	for _, pf := range prefixes {
		name, ok := strings.CutPrefix(s, pf.prefix)
		if !ok || name == "" || strings.ContainsAny(name, " \t,") {
			continue
		}
		if pf.in == IdentityContext && !slices.Contains(identityContextVars, name) {
			return IdentitySource{}, false
		}
		return IdentitySource{Source: s, In: pf.in, Name: name}, true
	}
	return IdentitySource{}, false
}

// operationAuthorizer finds the custom authorizer of an operation: the
// one its security requirement (its own security, else the document's)
// names. An operation runs at most one, on every request, so a
// requirement that names two, or names one in some alternatives only, is
// an error.
func (p *parser) operationAuthorizer(om map[string]any, at string) string {
	schemes := p.auth.schemes
	sec, ok := om["security"]
	secAt := ptr(at, "security")
	if !ok {
		sec, ok = p.doc["security"]
		secAt = "/security"
	}
	if !ok {
		return ""
	}
	list, _ := sec.([]any)
	found := ""
	without := false
	for i, e := range list {
		req, _ := e.(map[string]any)
		here := ""
		for _, name := range sortedKeys(req) {
			if schemes[name] == nil {
				continue // not a custom authorizer (kin-openapi reports undeclared ones)
			}
			if here != "" || found != "" && found != name {
				p.probs.add(ptr(idx(secAt, i), name), "an operation runs one custom authorizer; this requirement names %q and %q", cmpOr(here, found), name)
				continue
			}
			here = name
		}
		if here == "" {
			without = true
		} else {
			found = here
		}
	}
	if found != "" && without {
		p.probs.add(secAt, "custom authorizer %q applies to every request of the operation: it cannot be one alternative among others; list it in every alternative (or in one)", found)
	}
	return found
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// authState is what the parser knows of the document's security schemes.
type authState struct {
	schemes map[string]*Authorizer // custom authorizers by name
}

// readSecurity reads the custom authorizers, checks the root security
// requirement, and decodes the gateway responses.
func (p *parser) readSecurity(api *API) {
	p.auth.schemes = p.securitySchemes(api.Format)
	if v, ok := p.doc[extGatewayResponses]; ok {
		api.GatewayResponses = decodeGatewayResponses(&p.probs, v, "/"+extGatewayResponses)
	}
}

// usedAuthorizers sets api.Authorizers to those the operations use.
func (p *parser) usedAuthorizers(api *API) {
	used := map[string]bool{}
	for _, op := range api.Operations {
		if op.Authorizer != "" {
			used[op.Authorizer] = true
		}
	}
	for _, name := range sortedKeys(used) {
		api.Authorizers = append(api.Authorizers, p.auth.schemes[name])
	}
}

// exportAuthorizers writes each authorizer's plugin reference (pinned by
// the caller, as Export's operations are) into its security scheme.
func exportAuthorizers(root *yaml.Node, a *API, format string) {
	schemes := deref(mappingGet(deref(mappingGet(root, "components")), "securitySchemes"))
	if format == FormatSwagger2 {
		schemes = deref(mappingGet(root, "securityDefinitions"))
	}
	for _, az := range a.Authorizers {
		if sn := deref(mappingGet(schemes, az.Name)); sn != nil && sn.Kind == yaml.MappingNode {
			mappingSet(sn, extPlugin, pluginNode(az.Plugin, ""))
		}
	}
}
