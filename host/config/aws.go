package config

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// awsTypes are the x-amazon-apigateway-integration types wasmgate
// translates.
var awsTypes = []string{"http_proxy", "http", "mock", "aws_proxy"}

// decodeAWS translates an x-amazon-apigateway-integration object:
//
//   - http_proxy → http_proxy (→ http when requestParameters set headers
//     or query parameters, which only the transform plugin can do);
//   - http → http, requestParameters, requestTemplates, responses and
//     passthroughBehavior becoming Transform;
//   - mock → mock, with the status code of the request template and the
//     matching (else default) response's headers and body;
//   - aws_proxy → function, the plugin named after the Lambda function.
//
// Path mappings (integration.request.path.A from method.request.path.B)
// rename {A} to {B} in the URI. Fields wasmgate has no use for
// (cacheKeyParameters, cacheNamespace, connectionId, connectionType,
// contentHandling, credentials, tlsConfig) are accepted and ignored;
// unknown fields are errors. It returns nil when the object has errors
// (reported).
func decodeAWS(probs *problems, v any, at string) *Integration {
	o, ok := asObject(probs, v, at, extAWS,
		"type", "uri", "httpMethod", "timeoutInMillis", "requestParameters", "requestTemplates",
		"responses", "passthroughBehavior", "payloadFormatVersion",
		"cacheKeyParameters", "cacheNamespace", "connectionId", "connectionType", "contentHandling", "credentials", "tlsConfig")
	if !ok {
		return nil
	}
	in := &Integration{Timeout: DefaultTimeout, Loc: at}
	typ, good := o.required("type", "; use one of "+strings.Join(awsTypes, ", "))
	typ = strings.ToLower(typ)
	if good && !slices.Contains(awsTypes, typ) {
		probs.add(o.ptr("type"), "unsupported integration type %q; wasmgate translates %s", typ, strings.Join(awsTypes, ", "))
		return nil
	}
	if ms, ok := o.integer("timeoutInMillis", 50, MaxAWSTimeout.Milliseconds()); ok {
		in.Timeout = time.Duration(ms) * time.Millisecond
	} else if o.has("timeoutInMillis") {
		good = false
	}
	params, ok := o.strMap("requestParameters")
	good = good && (ok || !o.has("requestParameters"))
	templates, ok := o.strMap("requestTemplates")
	good = good && (ok || !o.has("requestTemplates"))

	switch typ {
	case "http_proxy", "http":
		in.Type = typ
		uri, ok := o.required("uri", " for type "+typ)
		req := &RequestTransform{}
		renames := map[string]string{}
		for _, k := range sortedKeys(params) {
			kp := ptr(o.ptr("requestParameters"), k)
			val := params[k]
			switch {
			case strings.HasPrefix(k, "integration.request.header.") && len(k) > len("integration.request.header."):
				req.Headers = put(req.Headers, strings.TrimPrefix(k, "integration.request.header."), val)
				good = checkSources(probs, o.ptr("requestParameters"), map[string]string{k: val}, requestSources) && good
			case strings.HasPrefix(k, "integration.request.querystring.") && len(k) > len("integration.request.querystring."):
				req.Query = put(req.Query, strings.TrimPrefix(k, "integration.request.querystring."), val)
				good = checkSources(probs, o.ptr("requestParameters"), map[string]string{k: val}, requestSources) && good
			case strings.HasPrefix(k, "integration.request.path.") && len(k) > len("integration.request.path."):
				from, isPath := strings.CutPrefix(val, "method.request.path.")
				if !isPath || from == "" {
					probs.add(kp, "a path parameter can only come from method.request.path.NAME, not %q", val)
					good = false
					continue
				}
				renames[strings.TrimPrefix(k, "integration.request.path.")] = from
			default:
				probs.add(kp, "unsupported target %q; use integration.request.header.NAME, integration.request.querystring.NAME or integration.request.path.NAME", k)
				good = false
			}
		}
		if ok {
			uri = renameParams(uri, renames)
			if !checkURI(probs, o.ptr("uri"), uri) {
				good = false
			}
			in.URI = uri
		} else {
			good = false
		}
		if m, ok := o.str("httpMethod"); ok {
			if mm, ok := upstreamMethod(m); ok {
				in.Method = mm
			} else {
				probs.add(o.ptr("httpMethod"), "unknown HTTP method %q; use GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY", m)
				good = false
			}
		} else if o.has("httpMethod") {
			good = false
		}
		t := &TransformSpec{Request: req}
		if typ == "http" {
			req.Templates = templates
			if pb, ok := o.str("passthroughBehavior"); ok {
				req.Passthrough = strings.ToLower(pb)
				if !slices.Contains(passthroughs, req.Passthrough) {
					probs.add(o.ptr("passthroughBehavior"), "must be WHEN_NO_MATCH, WHEN_NO_TEMPLATES or NEVER, not %q", pb)
					good = false
				}
			} else if o.has("passthroughBehavior") {
				good = false
			}
			rs, ok := awsResponses(probs, o)
			good = good && ok
			for _, r := range rs {
				rt := ResponseTransform{Pattern: r.pattern, Status: r.status, Templates: r.templates}
				for _, k := range sortedKeys(r.params) {
					rt.Headers = put(rt.Headers, strings.TrimPrefix(k, "method.response.header."), r.params[k])
				}
				good = checkSources(probs, r.at+"/responseParameters", prefixed(rt.Headers, "method.response.header."), responseSources) && good
				t.Responses = append(t.Responses, rt)
			}
		}
		in.Transform = encodeTransform(t)
		if in.Type == TypeHTTPProxy && in.Transform != nil {
			// Only the transform plugin can set upstream headers and query
			// parameters; an http integration runs it.
			in.Type = TypeHTTP
		}
	case "mock":
		in.Type = TypeMock
		status := 200
		if tk := preferredKey(templates); tk != "" {
			if m := statusRE.FindStringSubmatch(templates[tk]); m != nil {
				status, _ = strconv.Atoi(m[1])
			}
		}
		in.Mock = &MockResponse{StatusCode: status}
		rs, ok := awsResponses(probs, o)
		good = good && ok
		if r := selectResponse(rs, status); r != nil {
			if r.status != 0 {
				in.Mock.StatusCode = r.status
			}
			for _, k := range sortedKeys(r.params) {
				val := r.params[k]
				if len(val) < 2 || val[0] != '\'' || val[len(val)-1] != '\'' {
					probs.add(ptr(r.at+"/responseParameters", k), "a mock response header must be a quoted literal like \"'value'\", not %q", val)
					good = false
					continue
				}
				in.Mock.Headers = put(in.Mock.Headers, strings.TrimPrefix(k, "method.response.header."), val[1:len(val)-1])
			}
			if tk := preferredKey(r.templates); tk != "" {
				in.Mock.Body = r.templates[tk]
			}
		}
	case "aws_proxy":
		in.Type = TypeFunction
		uri, ok := o.required("uri", " for type aws_proxy: the Lambda function ARN")
		if ok {
			name, reason := lambdaName(uri)
			if reason != "" {
				probs.add(o.ptr("uri"), "%s", reason)
				good = false
			} else {
				r, err := ParsePluginRef(name)
				if err != nil {
					probs.add(o.ptr("uri"), "the Lambda function name %q is not a plugin name: %s", name, err)
					good = false
				}
				r.Loc = o.ptr("uri")
				in.Function = &r
			}
		} else {
			good = false
		}
		in.PayloadVersion = "1.0"
		if pv, ok := o.str("payloadFormatVersion"); ok {
			if pv != "1.0" && pv != "2.0" {
				probs.add(o.ptr("payloadFormatVersion"), "must be \"1.0\" or \"2.0\", not %q", pv)
				good = false
			}
			in.PayloadVersion = pv
		} else if o.has("payloadFormatVersion") {
			good = false
		}
	}
	if !good {
		return nil
	}
	return in
}

// awsResponse is one entry of an AWS integration's responses.
type awsResponse struct {
	at        string
	pattern   string
	status    int
	params    map[string]string
	templates map[string]string
}

func awsResponses(probs *problems, o object) ([]awsResponse, bool) {
	v, ok := o.m["responses"]
	if !ok || v == nil {
		return nil, true
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		probs.add(o.ptr("responses"), "must be an object of response mappings keyed by status pattern, not %s", kindOf(v))
		return nil, false
	}
	good := true
	var out []awsResponse
	for _, pat := range sortedKeys(m) {
		at := ptr(o.ptr("responses"), pat)
		ro, ok := asObject(probs, m[pat], at, "an integration response", "statusCode", "responseParameters", "responseTemplates", "contentHandling")
		if !ok {
			good = false
			continue
		}
		if !checkPattern(probs, at, pat) {
			good = false
		}
		r := awsResponse{at: at, pattern: pat}
		if _, ok := ro.m["statusCode"]; ok {
			s, ok := ro.statusCode("statusCode")
			good = good && ok
			r.status = s
		}
		var ok1, ok2 bool
		r.params, ok1 = ro.strMap("responseParameters")
		r.templates, ok2 = ro.strMap("responseTemplates")
		good = good && (ok1 || !ro.has("responseParameters")) && (ok2 || !ro.has("responseTemplates"))
		for _, k := range sortedKeys(r.params) {
			if name, ok := strings.CutPrefix(k, "method.response.header."); !ok || name == "" {
				probs.add(ptr(at+"/responseParameters", k), "unsupported target %q; use method.response.header.NAME", k)
				good = false
				delete(r.params, k)
			}
		}
		out = append(out, r)
	}
	return out, good
}

// selectResponse picks the response whose pattern matches status, else
// the default one.
func selectResponse(rs []awsResponse, status int) *awsResponse {
	code := strconv.Itoa(status)
	var def *awsResponse
	for i := range rs {
		r := &rs[i]
		if r.pattern == "default" {
			def = r
			continue
		}
		if re, err := regexp.Compile("^(?:" + r.pattern + ")$"); err == nil && re.MatchString(code) {
			return r
		}
	}
	return def
}

var (
	statusRE = regexp.MustCompile(`"?statusCode"?\s*:\s*"?(\d{3})`)
	lambdaRE = regexp.MustCompile(`:function:([^/:]+)(?::[^/:]+)?(?:/invocations)?$`)
)

// lambdaName extracts the function name from an aws_proxy URI, e.g.
// "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:GetPets/invocations".
func lambdaName(uri string) (name, reason string) {
	m := lambdaRE.FindStringSubmatch(uri)
	if m == nil {
		return "", "cannot find the Lambda function name in " + strconv.Quote(uri) + "; expected an ARN ending in :function:NAME/invocations"
	}
	if strings.Contains(m[1], "$") {
		return "", "the Lambda function name must be literal: a stage variable cannot select the Wasm function that replaces it"
	}
	return m[1], ""
}

// renameParams renames {a} to {b} in a URI template.
func renameParams(uri string, renames map[string]string) string {
	for _, a := range sortedKeys(renames) {
		b := renames[a]
		if a == b {
			continue
		}
		uri = strings.ReplaceAll(uri, "{"+a+"}", "{"+b+"}")
		uri = strings.ReplaceAll(uri, "{"+a+"+}", "{"+b+"+}")
	}
	return uri
}

// preferredKey picks application/json, else the first content type.
func preferredKey(m map[string]string) string {
	if _, ok := m["application/json"]; ok {
		return "application/json"
	}
	if keys := sortedKeys(m); len(keys) > 0 {
		return keys[0]
	}
	return ""
}

func put(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

func prefixed(m map[string]string, prefix string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[prefix+k] = v
	}
	return out
}
