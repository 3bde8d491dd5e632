package lambda

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Payload format versions.
const (
	V1 = "1.0"
	V2 = "2.0"
)

// Event is a request as an API Gateway Lambda proxy event. One type serves
// both payload versions; MarshalJSON writes the JSON of Version, and the
// fields hold what that JSON holds:
//
//   - Headers and QueryStringParameters have one value per name: the last
//     one with payload 1.0, all of them joined with "," with 2.0 (which
//     also leaves the cookie header out of Headers: see Cookies).
//   - MultiValueHeaders and MultiValueQueryStringParameters have every
//     value (they are in the 1.0 JSON only).
//   - Cookies are the request's cookies, "name=value" each (in the 2.0
//     JSON only).
//
// Header names are lower case (the gateway's HTTP/2 form).
type Event struct {
	// Version is V1 or V2.
	Version string
	// Resource is the route template, e.g. "/pets/{id}" (1.0 resource).
	Resource string
	// RouteKey is "METHOD /template", e.g. "GET /pets/{id}" (2.0 routeKey).
	RouteKey string
	// HTTPMethod is the request method.
	HTTPMethod string
	// Path is the request path without the stage prefix (1.0 path).
	Path string
	// RawPath is the request path as received, stage prefix included (2.0
	// rawPath and requestContext.path).
	RawPath string
	// RawQueryString is the query string as received, without "?".
	RawQueryString string

	Headers                         map[string]string
	MultiValueHeaders               map[string][]string
	QueryStringParameters           map[string]string
	MultiValueQueryStringParameters map[string][]string
	Cookies                         []string
	// PathParameters are the route's path parameters ({proxy+} as "proxy").
	PathParameters map[string]string
	// StageVariables are the stage's variables.
	StageVariables map[string]string

	RequestContext RequestContext

	// Body is the request body, base64-encoded when IsBase64Encoded.
	Body            string
	IsBase64Encoded bool
}

// RequestContext is the event's requestContext.
type RequestContext struct {
	RequestID    string
	Stage        string
	DeploymentID string
	// ResourcePath is the route template.
	ResourcePath string
	HTTPMethod   string
	// Path is the request path as received (stage prefix included).
	Path         string
	Protocol     string
	SourceIP     string
	UserAgent    string
	DomainName   string
	DomainPrefix string
	// RequestTime is the request's arrival in the CLF format API Gateway
	// uses, "02/Jan/2006:15:04:05 -0700".
	RequestTime string
	// RequestTimeEpoch is the arrival in milliseconds since the epoch.
	RequestTimeEpoch int64
}

// BodyBytes returns the body, decoding base64.
func (e *Event) BodyBytes() ([]byte, error) {
	if !e.IsBase64Encoded {
		return []byte(e.Body), nil
	}
	return base64.StdEncoding.DecodeString(e.Body)
}

// MarshalJSON writes the event as API Gateway sends it to Lambda, in the
// format of e.Version.
func (e *Event) MarshalJSON() ([]byte, error) {
	if e.Version == V2 {
		return json.Marshal(e.v2())
	}
	return json.Marshal(e.v1())
}

// The JSON shapes, field for field as API Gateway documents them.

type eventV1 struct {
	Resource                        string              `json:"resource"`
	Path                            string              `json:"path"`
	HTTPMethod                      string              `json:"httpMethod"`
	Headers                         map[string]string   `json:"headers"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
	PathParameters                  map[string]string   `json:"pathParameters"`
	StageVariables                  map[string]string   `json:"stageVariables"`
	RequestContext                  requestContextV1    `json:"requestContext"`
	Body                            *string             `json:"body"`
	IsBase64Encoded                 bool                `json:"isBase64Encoded"`
}

type requestContextV1 struct {
	ResourcePath     string     `json:"resourcePath"`
	HTTPMethod       string     `json:"httpMethod"`
	Path             string     `json:"path"`
	Protocol         string     `json:"protocol"`
	RequestID        string     `json:"requestId"`
	Stage            string     `json:"stage"`
	DeploymentID     string     `json:"deploymentId,omitempty"`
	DomainName       string     `json:"domainName"`
	DomainPrefix     string     `json:"domainPrefix"`
	RequestTime      string     `json:"requestTime"`
	RequestTimeEpoch int64      `json:"requestTimeEpoch"`
	Identity         identityV1 `json:"identity"`
}

type identityV1 struct {
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

type eventV2 struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	PathParameters        map[string]string `json:"pathParameters,omitempty"`
	StageVariables        map[string]string `json:"stageVariables,omitempty"`
	RequestContext        requestContextV2  `json:"requestContext"`
	Body                  string            `json:"body,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
}

type requestContextV2 struct {
	RouteKey     string `json:"routeKey"`
	Stage        string `json:"stage"`
	DeploymentID string `json:"deploymentId,omitempty"`
	RequestID    string `json:"requestId"`
	DomainName   string `json:"domainName"`
	DomainPrefix string `json:"domainPrefix"`
	HTTP         httpV2 `json:"http"`
	Time         string `json:"time"`
	TimeEpoch    int64  `json:"timeEpoch"`
}

type httpV2 struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

func nilIfEmpty[M ~map[string]V, V any](m M) M {
	if len(m) == 0 {
		return nil
	}
	return m
}

func (e *Event) v1() *eventV1 {
	rc := &e.RequestContext
	out := &eventV1{
		Resource:                        e.Resource,
		Path:                            e.Path,
		HTTPMethod:                      e.HTTPMethod,
		Headers:                         nilIfEmpty(e.Headers),
		MultiValueHeaders:               nilIfEmpty(e.MultiValueHeaders),
		QueryStringParameters:           nilIfEmpty(e.QueryStringParameters),
		MultiValueQueryStringParameters: nilIfEmpty(e.MultiValueQueryStringParameters),
		PathParameters:                  nilIfEmpty(e.PathParameters),
		StageVariables:                  nilIfEmpty(e.StageVariables),
		RequestContext: requestContextV1{
			ResourcePath: rc.ResourcePath, HTTPMethod: rc.HTTPMethod, Path: rc.Path,
			Protocol: rc.Protocol, RequestID: rc.RequestID, Stage: rc.Stage, DeploymentID: rc.DeploymentID,
			DomainName: rc.DomainName, DomainPrefix: rc.DomainPrefix,
			RequestTime: rc.RequestTime, RequestTimeEpoch: rc.RequestTimeEpoch,
			Identity: identityV1{SourceIP: rc.SourceIP, UserAgent: rc.UserAgent},
		},
		IsBase64Encoded: e.IsBase64Encoded,
	}
	if e.Body != "" {
		b := e.Body
		out.Body = &b
	}
	return out
}

func (e *Event) v2() *eventV2 {
	rc := &e.RequestContext
	h := e.Headers
	if h == nil {
		h = map[string]string{}
	}
	return &eventV2{
		Version:               V2,
		RouteKey:              e.RouteKey,
		RawPath:               e.RawPath,
		RawQueryString:        e.RawQueryString,
		Cookies:               e.Cookies,
		Headers:               h,
		QueryStringParameters: nilIfEmpty(e.QueryStringParameters),
		PathParameters:        nilIfEmpty(e.PathParameters),
		StageVariables:        nilIfEmpty(e.StageVariables),
		RequestContext: requestContextV2{
			RouteKey: e.RouteKey, Stage: rc.Stage, DeploymentID: rc.DeploymentID, RequestID: rc.RequestID,
			DomainName: rc.DomainName, DomainPrefix: rc.DomainPrefix,
			HTTP: httpV2{Method: rc.HTTPMethod, Path: rc.Path, Protocol: rc.Protocol, SourceIP: rc.SourceIP, UserAgent: rc.UserAgent},
			Time: rc.RequestTime, TimeEpoch: rc.RequestTimeEpoch,
		},
		Body:            e.Body,
		IsBase64Encoded: e.IsBase64Encoded,
	}
}

// request is what the plugin collected about a request; buildEvent turns
// it into an Event. Keeping the two apart lets the event logic be tested
// without a host.
type request struct {
	method     string
	urlPath    string // path without the query, as received
	rawQuery   string
	host       string
	protocol   string
	headers    [][2]string // without pseudo-headers, lower-case names
	body       []byte
	requestID  string
	stage      string
	deployment string
	template   string // route template, "" when unknown
	sourceAddr string // "ip:port" or "ip"
	timeNanos  int64
	params     map[string]string
	stageVars  map[string]string
}

// options are the event-shaping settings from the configuration.
type options struct {
	version     string
	binaryTypes []string // lower case
}

const clfTime = "02/Jan/2006:15:04:05 -0700"

// buildEvent makes the proxy event of r.
func buildEvent(r *request, o *options) *Event {
	version := o.version
	if version == "" {
		version = V1
	}
	e := &Event{
		Version:        version,
		HTTPMethod:     r.method,
		RawPath:        r.urlPath,
		Path:           stripStage(r.urlPath, r.stage, r.template),
		RawQueryString: r.rawQuery,
		PathParameters: r.params,
		StageVariables: r.stageVars,
	}
	e.Resource = r.template
	if e.Resource == "" {
		e.Resource = e.Path
	}
	if r.template != "" {
		e.RouteKey = r.method + " " + r.template
	} else {
		e.RouteKey = "$default"
	}

	var contentType, userAgent string
	for _, h := range r.headers {
		name, value := h[0], h[1]
		if e.MultiValueHeaders == nil {
			e.MultiValueHeaders = map[string][]string{}
		}
		e.MultiValueHeaders[name] = append(e.MultiValueHeaders[name], value)
		switch name {
		case "content-type":
			contentType = value
		case "user-agent":
			userAgent = value
		case "cookie":
			for _, c := range strings.Split(value, ";") {
				if c = strings.TrimSpace(c); c != "" {
					e.Cookies = append(e.Cookies, c)
				}
			}
		}
	}
	if len(e.MultiValueHeaders) > 0 {
		e.Headers = make(map[string]string, len(e.MultiValueHeaders))
		for name, values := range e.MultiValueHeaders {
			switch {
			case version == V1:
				e.Headers[name] = values[len(values)-1]
			case name != "cookie":
				e.Headers[name] = strings.Join(values, ",")
			}
		}
	}

	e.MultiValueQueryStringParameters = parseQuery(r.rawQuery)
	if len(e.MultiValueQueryStringParameters) > 0 {
		e.QueryStringParameters = make(map[string]string, len(e.MultiValueQueryStringParameters))
		for name, values := range e.MultiValueQueryStringParameters {
			if version == V1 {
				e.QueryStringParameters[name] = values[len(values)-1]
			} else {
				e.QueryStringParameters[name] = strings.Join(values, ",")
			}
		}
	}

	if len(r.body) > 0 {
		if isBinary(r.body, contentType, o.binaryTypes) {
			e.Body = base64.StdEncoding.EncodeToString(r.body)
			e.IsBase64Encoded = true
		} else {
			e.Body = string(r.body)
		}
	}

	t := time.Unix(0, r.timeNanos).UTC()
	if r.timeNanos == 0 {
		t = time.Now().UTC()
	}
	protocol := r.protocol
	if protocol == "" {
		protocol = "HTTP/1.1"
	}
	e.RequestContext = RequestContext{
		RequestID:        r.requestID,
		Stage:            r.stage,
		DeploymentID:     r.deployment,
		ResourcePath:     e.Resource,
		HTTPMethod:       r.method,
		Path:             r.urlPath,
		Protocol:         protocol,
		SourceIP:         sourceIP(r.sourceAddr),
		UserAgent:        userAgent,
		DomainName:       hostOnly(r.host),
		DomainPrefix:     domainPrefix(hostOnly(r.host)),
		RequestTime:      t.Format(clfTime),
		RequestTimeEpoch: t.UnixMilli(),
	}
	return e
}

// stripStage removes a "/stage" prefix that selected the stage, unless the
// route template itself starts with that segment.
func stripStage(path, stage, template string) string {
	if stage == "" {
		return path
	}
	prefix := "/" + stage
	if template == prefix || strings.HasPrefix(template, prefix+"/") {
		return path
	}
	switch {
	case path == prefix:
		return "/"
	case strings.HasPrefix(path, prefix+"/"):
		return path[len(prefix):]
	}
	return path
}

// parseQuery decodes a raw query into its parameters, keeping the order of
// values. A malformed escape keeps the raw text.
func parseQuery(raw string) map[string][]string {
	var out map[string][]string
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
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
		if out == nil {
			out = map[string][]string{}
		}
		out[k] = append(out[k], v)
	}
	return out
}

// isBinary reports whether a body is passed base64-encoded: it is not
// UTF-8, or its content type is one of the binary media types.
func isBinary(body []byte, contentType string, binaryTypes []string) bool {
	if !utf8.Valid(body) {
		return true
	}
	if len(binaryTypes) == 0 {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	for _, b := range binaryTypes {
		if mediaTypeMatches(b, mt) {
			return true
		}
	}
	return false
}

// mediaTypeMatches matches "type/subtype", "type/*" or "*/*" against a
// lower-case media type.
func mediaTypeMatches(pattern, mt string) bool {
	if pattern == "*/*" {
		return true
	}
	if t, ok := strings.CutSuffix(pattern, "/*"); ok {
		return strings.HasPrefix(mt, t+"/")
	}
	return pattern == mt
}

func sourceIP(addr string) string {
	if addr == "" {
		return ""
	}
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

func domainPrefix(host string) string {
	if strings.HasPrefix(host, "[") {
		return host
	}
	p, _, _ := strings.Cut(host, ".")
	return p
}

// templateParams returns the parameter names of a route template:
// "/pets/{id}/files/{proxy+}" → id, proxy.
func templateParams(template string) []string {
	var names []string
	for {
		i := strings.IndexByte(template, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(template[i:], '}')
		if j < 0 {
			break
		}
		if name := strings.TrimSuffix(template[i+1:i+j], "+"); name != "" {
			names = append(names, name)
		}
		template = template[i+j+1:]
	}
	return names
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var errNotObject = errors.New("not a JSON object")
