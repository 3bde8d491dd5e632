package config

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Extension names.
const (
	extPipeline    = "x-wasmgate-pipeline"
	extIntegration = "x-wasmgate-integration"
	extStages      = "x-wasmgate-stages"
	extAWS         = "x-amazon-apigateway-integration"
	extAnyMethod   = "x-amazon-apigateway-any-method"
	extPrefix      = "x-wasmgate-"
)

var integrationTypes = []string{TypeHTTPProxy, TypeHTTP, TypeMock, TypeFunction, TypeService}

// checkExtensions reports x-wasmgate-* members that do not belong at this
// level (a typo would otherwise be silently ignored).
func checkExtensions(probs *problems, m map[string]any, at string, known ...string) {
	for _, k := range sortedKeys(m) {
		if strings.HasPrefix(k, extPrefix) && !slices.Contains(known, k) {
			probs.add(ptr(at, k), "unknown extension %s here; use %s", k, strings.Join(known, " or "))
		}
	}
}

// decodePipeline decodes an x-wasmgate-pipeline list. It returns nil
// when the list has errors (reported).
func decodePipeline(probs *problems, v any, at string) []PluginRef {
	list, ok := v.([]any)
	if !ok {
		probs.add(at, "x-wasmgate-pipeline must be a list of {plugin, config, on_error}, not %s", kindOf(v))
		return nil
	}
	out := make([]PluginRef, 0, len(list))
	good := true
	for i, e := range list {
		r, ok := decodePluginEntry(probs, e, idx(at, i))
		good = good && ok
		out = append(out, r)
	}
	if !good {
		return nil
	}
	return out
}

func decodePluginEntry(probs *problems, v any, at string) (PluginRef, bool) {
	o, ok := asObject(probs, v, at, "a pipeline entry", "plugin", "config", "on_error")
	if !ok {
		return PluginRef{}, false
	}
	r, ok := pluginRef(o, "plugin", at)
	if s, has := o.str("on_error"); has {
		if s != FailClosed && s != FailOpen {
			probs.add(o.ptr("on_error"), "must be fail_closed or fail_open, not %q", s)
			ok = false
		}
		r.OnError = s
	} else if o.has("on_error") {
		ok = false
	}
	cfg, cok := pluginConfig(o, "config")
	r.Config = cfg
	return r, ok && cok
}

// pluginRef reads a required plugin reference member.
func pluginRef(o object, k, at string) (PluginRef, bool) {
	s, ok := o.required(k, `; `+refExamples)
	if !ok {
		return PluginRef{Config: json.RawMessage("{}"), OnError: FailClosed, Loc: at}, false
	}
	r, err := ParsePluginRef(s)
	r.Loc = at
	if err != nil {
		o.probs.add(o.ptr(k), "%s", err)
		return r, false
	}
	return r, true
}

// pluginConfig reads an optional config object and re-encodes it.
func pluginConfig(o object, k string) (json.RawMessage, bool) {
	v, ok := o.m[k]
	if !ok || v == nil {
		return json.RawMessage("{}"), true
	}
	if _, isMap := v.(map[string]any); !isMap {
		o.probs.add(o.ptr(k), "a plugin config must be an object, not %s", kindOf(v))
		return json.RawMessage("{}"), false
	}
	return json.RawMessage(encodeJSON(v)), true
}

// decodeIntegration decodes an x-wasmgate-integration object. It returns
// nil when the object has errors (reported).
func decodeIntegration(probs *problems, v any, at string) *Integration {
	o, ok := asObject(probs, v, at, extIntegration, "type", "uri", "method", "timeout_ms", "mock", "function", "service", "transform")
	if !ok {
		return nil
	}
	in := &Integration{Timeout: DefaultTimeout, Loc: at}
	typ, good := o.required("type", "; use one of "+strings.Join(integrationTypes, ", "))
	if good && !slices.Contains(integrationTypes, typ) {
		probs.add(o.ptr("type"), "unknown integration type %q; use one of %s", typ, strings.Join(integrationTypes, ", "))
		good = false
	}
	in.Type = typ
	if ms, ok := o.integer("timeout_ms", 1, MaxTimeout.Milliseconds()); ok {
		in.Timeout = time.Duration(ms) * time.Millisecond
	} else if o.has("timeout_ms") {
		good = false
	}
	// Members that only some types use.
	only := map[string][]string{
		"uri":       {TypeHTTPProxy, TypeHTTP},
		"method":    {TypeHTTPProxy, TypeHTTP},
		"mock":      {TypeMock},
		"function":  {TypeFunction},
		"service":   {TypeService},
		"transform": {TypeHTTP},
	}
	if slices.Contains(integrationTypes, typ) {
		for _, k := range sortedKeys(only) {
			if o.has(k) && !slices.Contains(only[k], typ) {
				probs.add(o.ptr(k), "%s is not used by type %s (only by %s)", k, typ, strings.Join(only[k], ", "))
				good = false
			}
		}
	}
	switch typ {
	case TypeHTTPProxy, TypeHTTP:
		uri, ok := o.required("uri", " for type "+typ+`, e.g. "https://backend.example.com/pets/{id}"`)
		if ok && checkURI(probs, o.ptr("uri"), uri) {
			in.URI = uri
		} else {
			good = false
		}
		if m, ok := o.str("method"); ok {
			if mm, ok := upstreamMethod(m); ok {
				in.Method = mm
			} else {
				probs.add(o.ptr("method"), "unknown HTTP method %q; use GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY", m)
				good = false
			}
		} else if o.has("method") {
			good = false
		}
		if v, ok := o.m["transform"]; ok && typ == TypeHTTP {
			t, ok := decodeTransform(probs, v, o.ptr("transform"))
			in.Transform = t
			good = good && ok
		}
	case TypeMock:
		in.Mock = &MockResponse{StatusCode: 200}
		if v, ok := o.m["mock"]; ok {
			mo, ok := asObject(probs, v, o.ptr("mock"), "mock", "status", "headers", "body")
			if !ok {
				good = false
				break
			}
			if s, ok := mo.integer("status", 100, 599); ok {
				in.Mock.StatusCode = int(s)
			} else if mo.has("status") {
				good = false
			}
			h, ok := mo.strMap("headers")
			in.Mock.Headers = h
			good = good && (ok || !mo.has("headers"))
			if b, ok := mo.str("body"); ok {
				in.Mock.Body = b
			} else if mo.has("body") {
				good = false
			}
		}
	case TypeFunction:
		v, ok := o.m["function"]
		if !ok {
			probs.add(at, "function is required for type function: {plugin: name@version, config: {...}, payload_version: \"1.0\"}")
			good = false
			break
		}
		fo, ok := asObject(probs, v, o.ptr("function"), "function", "plugin", "config", "payload_version")
		if !ok {
			good = false
			break
		}
		r, ok := pluginRef(fo, "plugin", fo.at)
		good = good && ok
		cfg, ok := pluginConfig(fo, "config")
		good = good && ok
		r.Config = cfg
		in.Function = &r
		in.PayloadVersion = "1.0"
		if pv, ok := fo.str("payload_version"); ok {
			if pv != "1.0" && pv != "2.0" {
				probs.add(fo.ptr("payload_version"), "must be \"1.0\" or \"2.0\", not %q", pv)
				good = false
			}
			in.PayloadVersion = pv
		} else if fo.has("payload_version") {
			good = false
		}
	case TypeService:
		v, ok := o.m["service"]
		if !ok {
			probs.add(at, "service is required for type service: {table: name, action: get|put|delete|scan, key: \"{id}\"}")
			good = false
			break
		}
		so, ok := asObject(probs, v, o.ptr("service"), "service", "table", "action", "key")
		if !ok {
			good = false
			break
		}
		sp := &ServiceSpec{}
		if t, ok := so.required("table", ""); ok {
			if !validName(t) {
				probs.add(so.ptr("table"), "bad table name %q: use letters, digits, '.', '_' and '-'", t)
				good = false
			}
			sp.Table = t
		} else {
			good = false
		}
		if a, ok := so.str("action"); ok {
			if !slices.Contains([]string{"get", "put", "delete", "scan"}, a) {
				probs.add(so.ptr("action"), "must be get, put, delete or scan, not %q", a)
				good = false
			}
			sp.Action = a
		} else if so.has("action") {
			good = false
		}
		if k, ok := so.str("key"); ok {
			if _, err := templateNames(k); err != nil {
				probs.add(so.ptr("key"), "%s", err)
				good = false
			}
			sp.Key = k
		} else if so.has("key") {
			good = false
		}
		in.Service = sp
	}
	if !good {
		return nil
	}
	return in
}

// upstreamMethod normalizes an integration method; ANY means the
// request's and becomes "".
func upstreamMethod(m string) (string, bool) {
	u := strings.ToUpper(m)
	switch u {
	case "ANY":
		return "", true
	case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS":
		return u, true
	}
	return "", false
}

// checkURI validates a backend URI template: balanced {param} and
// ${stageVariables.name} references, and an absolute http(s) URL once
// they are filled in (unless it starts with a stage variable).
func checkURI(probs *problems, at, uri string) bool {
	if _, err := templateNames(uri); err != nil {
		probs.add(at, "%s", err)
		return false
	}
	filled := stageVarRE.ReplaceAllString(uri, "x")
	filled = paramRE.ReplaceAllString(filled, "x")
	if strings.HasPrefix(uri, "${") {
		return true
	}
	if strings.HasPrefix(uri, UpstreamScheme+"://") {
		return checkUpstreamURI(probs, at, uri)
	}
	u, err := url.Parse(filled)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "h2c") || u.Host == "" {
		probs.add(at, "%q is not an absolute http, https or h2c (cleartext HTTP/2, for gRPC) URL, nor upstream://NAME/path", uri)
		return false
	}
	return true
}

var (
	stageVarRE = regexp.MustCompile(`\$\{stageVariables\.[A-Za-z0-9_]+\}`)
	paramRE    = regexp.MustCompile(`\{[^{}]*\}`)
)

// templateNames returns the {param} names used by a template (a backend
// URI or a service key), "+" suffixes removed, and checks its
// ${stageVariables.name} references.
func templateNames(s string) ([]string, error) {
	var names []string
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '$':
			if i+1 < len(s) && s[i+1] == '{' {
				end := strings.IndexByte(s[i:], '}')
				if end < 0 {
					return nil, fmt.Errorf("unterminated %q; write ${stageVariables.NAME}", truncate(s[i:], 30))
				}
				ref := s[i : i+end+1]
				name, ok := strings.CutPrefix(ref[2:len(ref)-1], "stageVariables.")
				if !ok || !validIdent(name) {
					return nil, fmt.Errorf("malformed stage variable reference %q; write ${stageVariables.NAME} with a name of letters, digits and '_'", ref)
				}
				i += end
			}
		case '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unterminated parameter %q; write {name}", truncate(s[i:], 30))
			}
			name := strings.TrimSuffix(s[i+1:i+end], "+")
			if name == "" || strings.ContainsAny(name, "{$/") {
				return nil, fmt.Errorf("bad parameter %q; write {name}", s[i:i+end+1])
			}
			names = append(names, name)
			i += end
		case '}':
			return nil, fmt.Errorf("unmatched '}' in %q", s)
		}
	}
	return names, nil
}

// decodeStages decodes x-wasmgate-stages.
func decodeStages(probs *problems, v any, at string) []Stage {
	list, ok := v.([]any)
	if !ok {
		probs.add(at, "x-wasmgate-stages must be a list of {name, hosts, variables}, not %s", kindOf(v))
		return nil
	}
	out := []Stage{}
	names := map[string]string{}
	hosts := map[string]string{}
	for i, e := range list {
		p := idx(at, i)
		o, ok := asObject(probs, e, p, "a stage", "name", "hosts", "variables")
		if !ok {
			continue
		}
		st := Stage{Hosts: []string{}, Variables: map[string]string{}}
		if n, ok := o.required("name", ""); ok {
			if !validStage(n) {
				probs.add(o.ptr("name"), "bad stage name %q: use letters, digits, '-' and '_'", n)
			} else if first, dup := names[n]; dup {
				probs.add(o.ptr("name"), "stage %q is already declared at %s", n, first)
			} else {
				names[n] = p
			}
			st.Name = n
		}
		if hs, ok := o.strList("hosts"); ok {
			for j, h := range hs {
				hp := idx(o.ptr("hosts"), j)
				lh := strings.ToLower(h)
				if h == "" || strings.ContainsAny(h, ":/ ") {
					probs.add(hp, "bad host %q: write a host name without scheme, port or path", h)
				} else if first, dup := hosts[lh]; dup {
					probs.add(hp, "host %q already selects the stage at %s", h, first)
				} else {
					hosts[lh] = p
				}
				st.Hosts = append(st.Hosts, lh)
			}
		}
		if vv, ok := o.m["variables"]; ok && vv != nil {
			vm, isMap := vv.(map[string]any)
			if !isMap {
				probs.add(o.ptr("variables"), "must be an object of stage variables, not %s", kindOf(vv))
			}
			for _, k := range sortedKeys(vm) {
				kp := ptr(o.ptr("variables"), k)
				if !validIdent(k) {
					probs.add(kp, "bad stage variable name %q: use letters, digits and '_'", k)
				}
				switch x := vm[k].(type) {
				case string:
					st.Variables[k] = x
				case int64, float64, bool:
					st.Variables[k] = strings.TrimSpace(jsonText(x))
				default:
					probs.add(kp, "a stage variable must be a string, not %s", kindOf(x))
				}
			}
		}
		out = append(out, st)
	}
	return out
}

func jsonText(v any) string { return string(encodeJSON(v)) }

func validStage(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '-' && c != '_' {
			return false
		}
	}
	return s != "" && len(s) <= 128
}

// decodeTransform strictly decodes a transform object given directly in
// x-wasmgate-integration and re-encodes it canonically.
func decodeTransform(probs *problems, v any, at string) (json.RawMessage, bool) {
	o, ok := asObject(probs, v, at, "transform", "request", "responses")
	if !ok {
		return nil, false
	}
	var t TransformSpec
	good := true
	if rv, ok := o.m["request"]; ok {
		ro, ok := asObject(probs, rv, o.ptr("request"), "request", "headers", "query", "templates", "passthrough")
		if ok {
			rt := &RequestTransform{}
			var ok1, ok2, ok3 bool
			rt.Headers, ok1 = ro.strMap("headers")
			rt.Query, ok2 = ro.strMap("query")
			rt.Templates, ok3 = ro.strMap("templates")
			good = good && (ok1 || !ro.has("headers")) && (ok2 || !ro.has("query")) && (ok3 || !ro.has("templates"))
			good = checkSources(probs, ro.ptr("headers"), rt.Headers, requestSources) && good
			good = checkSources(probs, ro.ptr("query"), rt.Query, requestSources) && good
			if p, ok := ro.str("passthrough"); ok {
				if !slices.Contains(passthroughs, p) {
					probs.add(ro.ptr("passthrough"), "must be when_no_match, when_no_templates or never, not %q", p)
					good = false
				}
				rt.Passthrough = p
			} else if ro.has("passthrough") {
				good = false
			}
			t.Request = rt
		} else {
			good = false
		}
	}
	if rv, ok := o.m["responses"]; ok {
		list, isList := rv.([]any)
		if !isList {
			probs.add(o.ptr("responses"), "must be a list of {pattern, status, headers, templates}, not %s", kindOf(rv))
			good = false
		}
		for i, e := range list {
			ro, ok := asObject(probs, e, idx(o.ptr("responses"), i), "a response transform", "pattern", "status", "headers", "templates")
			if !ok {
				good = false
				continue
			}
			var rt ResponseTransform
			if p, ok := ro.required("pattern", `; use a regular expression on the status code or "default"`); ok {
				if !checkPattern(probs, ro.ptr("pattern"), p) {
					good = false
				}
				rt.Pattern = p
			} else {
				good = false
			}
			if s, ok := ro.integer("status", 100, 599); ok {
				rt.Status = int(s)
			} else if ro.has("status") {
				good = false
			}
			var ok1, ok2 bool
			rt.Headers, ok1 = ro.strMap("headers")
			rt.Templates, ok2 = ro.strMap("templates")
			good = good && (ok1 || !ro.has("headers")) && (ok2 || !ro.has("templates"))
			good = checkSources(probs, ro.ptr("headers"), rt.Headers, responseSources) && good
			t.Responses = append(t.Responses, rt)
		}
	}
	if !good {
		return nil, false
	}
	return encodeTransform(&t), true
}

var passthroughs = []string{"when_no_match", "when_no_templates", "never"}

// encodeTransform encodes a transform canonically (responses sorted,
// "default" last, a passthrough without effect dropped); nil when it does
// nothing.
func encodeTransform(t *TransformSpec) json.RawMessage {
	if r := t.Request; r != nil && len(r.Templates) == 0 && r.Passthrough != "never" {
		// Without templates every body passes through anyway.
		r.Passthrough = ""
	}
	if t.Request != nil && len(t.Request.Headers) == 0 && len(t.Request.Query) == 0 && len(t.Request.Templates) == 0 && t.Request.Passthrough == "" {
		t.Request = nil
	}
	if t.Request == nil && len(t.Responses) == 0 {
		return nil
	}
	slices.SortStableFunc(t.Responses, func(a, b ResponseTransform) int {
		switch {
		case a.Pattern == b.Pattern:
			return 0
		case a.Pattern == "default":
			return 1
		case b.Pattern == "default":
			return -1
		}
		return strings.Compare(a.Pattern, b.Pattern)
	})
	b, _ := json.Marshal(t)
	return b
}

func checkPattern(probs *problems, at, p string) bool {
	if p == "default" {
		return true
	}
	if _, err := regexp.Compile(p); err != nil {
		probs.add(at, "bad pattern %q: %s", p, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		return false
	}
	return true
}

// sources are the expressions a transform mapping may read (see
// TransformSpec): a whole body, or a prefix followed by a name.
type sources struct {
	body     string
	prefixes []string
}

var (
	requestSources = sources{"method.request.body", []string{
		"method.request.header.", "method.request.querystring.", "method.request.path.",
		"method.request.multivalueheader.", "method.request.multivaluequerystring.",
		"method.request.body.", "context.", "stageVariables.",
	}}
	responseSources = sources{"integration.response.body", []string{
		"integration.response.header.", "integration.response.multivalueheader.",
		"integration.response.body.", "context.", "stageVariables.",
	}}
)

// checkSources validates the source expressions of a header or query
// mapping.
func checkSources(probs *problems, at string, m map[string]string, src sources) bool {
	good := true
	for _, k := range sortedKeys(m) {
		if !src.valid(m[k]) {
			probs.add(ptr(at, k), "unsupported source %q; use %s or a quoted 'literal'", m[k], src.examples())
			good = false
		}
	}
	return good
}

func (src sources) valid(s string) bool {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' || s == src.body {
		return true
	}
	for _, p := range src.prefixes {
		if rest, ok := strings.CutPrefix(s, p); ok && rest != "" {
			return true
		}
	}
	return false
}

func (src sources) examples() string {
	out := []string{src.body}
	for _, p := range src.prefixes {
		if p != src.body+"." {
			out = append(out, p+"NAME")
		}
	}
	return strings.Join(out, ", ")
}
