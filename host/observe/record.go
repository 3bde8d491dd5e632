package observe

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Record is one request as the access log sees it. The gateway fills it
// when the response is written.
type Record struct {
	RequestID string
	SourceIP  string
	UserAgent string
	Method    string
	// ResourcePath is the matched route template ("/pets/{id}"), "" when
	// no route matched.
	ResourcePath string
	Path         string
	Protocol     string
	Status       int
	// ResponseLength is the number of response body bytes written.
	ResponseLength int64
	Start          time.Time
	// IntegrationLatency is the integration's time to response headers;
	// negative when the integration was not called (a local response, a
	// cache hit, an error before it).
	IntegrationLatency time.Duration
	// ResponseLatency is the time from the request's arrival to the end
	// of its response.
	ResponseLatency time.Duration
	Stage           string
	DeploymentID    string
	// APIKeyID is the wasmgate.api_key.id property (a key the api-key
	// plugin verified), "" without one.
	APIKeyID string
	// CacheStatus is "hit", "miss" or "".
	CacheStatus string
	// Error is the gateway's error message for a failed request.
	Error string
	// Plugins is the time each plugin of the pipeline ran, in order.
	Plugins []PluginTiming
}

// PluginTiming is the time one plugin ran for a request.
type PluginTiming struct {
	Name     string
	Calls    int
	Duration time.Duration
}

// PluginLatency is the total time the request's plugins ran.
func (r *Record) PluginLatency() time.Duration {
	var d time.Duration
	for _, p := range r.Plugins {
		d += p.Duration
	}
	return d
}

// variable is a $context variable.
type variable uint8

const (
	vRequestID variable = iota + 1
	vSourceIP
	vUserAgent
	vMethod
	vResourcePath
	vPath
	vProtocol
	vStatus
	vResponseLength
	vRequestTime
	vRequestTimeEpoch
	vIntegrationLatency
	vResponseLatency
	vStage
	vDeploymentID
	vAPIKeyID
	vCacheStatus
	vError
	vPluginLatency
	vPlugins
)

// Variables are the $context variables a template may use, with what each
// is; latencies are in milliseconds (with microsecond precision), a
// value that does not exist is written "-".
var Variables = map[string]string{
	"requestId":          "the request id (X-Request-Id)",
	"identity.sourceIp":  "the client's IP address",
	"identity.userAgent": "the User-Agent header",
	"httpMethod":         "the request method",
	"resourcePath":       "the matched route template, e.g. /pets/{id}",
	"path":               "the request path as received, with the stage prefix",
	"protocol":           "HTTP/1.1, HTTP/2.0 or HTTP/3.0",
	"status":             "the response status code",
	"responseLength":     "the response body length in bytes",
	"requestTime":        "the arrival time, 02/Jan/2006:15:04:05 -0700",
	"requestTimeEpoch":   "the arrival time in milliseconds since the Unix epoch",
	"integrationLatency": "the integration's latency (ms)",
	"responseLatency":    "the time to the end of the response (ms)",
	"stage":              "the stage name",
	"deploymentId":       "the deployment that served the request",
	"apiKeyId":           "the id of the API key the api-key plugin verified",
	"identity.apiKeyId":  "same as apiKeyId",
	"cacheStatus":        "hit or miss when a cache plugin looked the request up",
	"error.message":      "the gateway's error message",
	"pluginLatency":      "the time all plugins ran (ms)",
	"plugins":            "each plugin's time, name:ms,name:ms",
}

var variableIDs = map[string]variable{
	"requestId": vRequestID, "identity.sourceIp": vSourceIP, "identity.userAgent": vUserAgent,
	"httpMethod": vMethod, "resourcePath": vResourcePath, "path": vPath, "protocol": vProtocol,
	"status": vStatus, "responseLength": vResponseLength, "requestTime": vRequestTime,
	"requestTimeEpoch": vRequestTimeEpoch, "integrationLatency": vIntegrationLatency,
	"responseLatency": vResponseLatency, "stage": vStage, "deploymentId": vDeploymentID,
	"apiKeyId": vAPIKeyID, "identity.apiKeyId": vAPIKeyID, "cacheStatus": vCacheStatus,
	"error.message": vError, "pluginLatency": vPluginLatency, "plugins": vPlugins,
}

func variableNames() string {
	names := make([]string, 0, len(Variables))
	for n := range Variables {
		names = append(names, "$context."+n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// segment is a literal followed by a variable (0: none).
type segment struct {
	lit string
	v   variable
}

// parseTemplate splits a $context template into segments.
func parseTemplate(t string) ([]segment, error) {
	const prefix = "$context."
	var segs []segment
	rest := t
	for {
		i := strings.Index(rest, prefix)
		if i < 0 {
			if rest != "" {
				segs = append(segs, segment{lit: rest})
			}
			break
		}
		lit := rest[:i]
		rest = rest[i+len(prefix):]
		n := 0
		for n < len(rest) && isNameByte(rest[n]) {
			n++
		}
		name := strings.TrimRight(rest[:n], ".")
		v, ok := variableIDs[name]
		if !ok {
			return nil, fmt.Errorf("unknown variable $context.%s; known variables are %s", name, variableNames())
		}
		segs = append(segs, segment{lit: lit, v: v})
		rest = rest[len(name):]
	}
	if !slices.ContainsFunc(segs, func(s segment) bool { return s.v != 0 }) {
		return nil, fmt.Errorf("%q has no $context variable; use json, clf or a template like \"$context.requestId $context.status\"", t)
	}
	return segs, nil
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_'
}
