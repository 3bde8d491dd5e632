package config

import (
	"encoding/json"
	"time"
)

// Document formats, as reported in API.Format and accepted by Export.
const (
	FormatOAS3     = "oas3"     // OpenAPI 3.x
	FormatSwagger2 = "swagger2" // Swagger (OpenAPI) 2.0
)

// Integration types, as found in Integration.Type.
const (
	TypeHTTPProxy = "http_proxy"
	TypeHTTP      = "http"
	TypeMock      = "mock"
	TypeFunction  = "function"
	TypeService   = "service"
)

// Plugin error policies, as found in PluginRef.OnError.
const (
	FailClosed = "fail_closed"
	FailOpen   = "fail_open"
)

// MethodAny is the Method of an operation declared with
// x-amazon-apigateway-any-method: it serves every method that has no
// operation of its own on the same path.
const MethodAny = "ANY"

// Timeouts of an integration.
const (
	DefaultTimeout = 29 * time.Second  // when the document gives none
	MaxAWSTimeout  = 29 * time.Second  // x-amazon-apigateway-integration timeoutInMillis
	MaxTimeout     = 300 * time.Second // x-wasmgate-integration timeout_ms
)

// API is an API document resolved into what the gateway serves. It is
// immutable once returned by Parse: the gateway may share it between
// goroutines.
type API struct {
	// Name is info.title.
	Name string `json:"name"`
	// Version is info.version.
	Version string `json:"version"`
	// Format is the document's format: FormatOAS3 or FormatSwagger2.
	Format string `json:"format"`
	// Source is the file name given to Load or Parse; it prefixes every
	// error.
	Source string `json:"source"`
	// Digest is "sha256:<hex>" of Raw: two documents with the same digest
	// are the same deployment input.
	Digest string `json:"digest"`
	// Raw is the document exactly as read.
	Raw []byte `json:"-"`
	// BasePath is Swagger's basePath, or the path of the first OpenAPI
	// server URL (variables replaced by their defaults), without a
	// trailing slash: "" or "/v1". Operation paths do not include it.
	BasePath string `json:"basePath"`
	// Stages are the stages declared by the root extension
	// x-wasmgate-stages, in document order. Empty when none are declared.
	Stages []Stage `json:"stages"`
	// Operations are the document's operations sorted by Path, then
	// Method.
	Operations []*Operation `json:"operations"`
	// Upstreams are the pools declared by the root extension
	// x-wasmgate-upstreams, by name; http_proxy integrations reach them
	// as upstream://NAME/path. Nil when none are declared.
	Upstreams map[string]*Upstream `json:"upstreams,omitempty"`
	// Authorizers are the custom authorizers the document declares as
	// security schemes (see Authorizer), sorted by name; only those some
	// operation uses.
	Authorizers []*Authorizer `json:"authorizers,omitempty"`
	// GatewayResponses are the root x-amazon-apigateway-gateway-responses
	// by response type (see GatewayResponse); nil when absent.
	GatewayResponses map[string]*GatewayResponse `json:"gatewayResponses,omitempty"`
}

// Stage is one entry of x-wasmgate-stages: a name the gateway serves the
// API under (as the first path segment, "/prod/..."), optional host names
// that select it, and its stage variables.
type Stage struct {
	// Name is the stage name: letters, digits, "-" and "_".
	Name string `json:"name"`
	// Hosts are host names (no port) that select this stage, lower case.
	Hosts []string `json:"hosts"`
	// Variables are the stage variables, readable as
	// ${stageVariables.name} in integration URIs and by plugins.
	Variables map[string]string `json:"variables"`
}

// Operation is one method on one path, with everything the gateway needs
// to serve it.
type Operation struct {
	// Method is the upper-case HTTP method, or MethodAny.
	Method string `json:"method"`
	// Path is the OpenAPI path template without BasePath: "/pets/{id}",
	// "/files/{proxy+}".
	Path string `json:"path"`
	// OperationID is the operationId, "" when absent.
	OperationID string `json:"operationId,omitempty"`
	// Pipeline is the plugin chain, in order: the operation's
	// x-wasmgate-pipeline, else its path item's, else the document root's.
	// Never nil.
	Pipeline []PluginRef `json:"pipeline"`
	// Integration is the terminal stage: the operation's
	// x-wasmgate-integration or its translated
	// x-amazon-apigateway-integration, else its path item's
	// x-wasmgate-integration, else the document root's.
	Integration Integration `json:"integration"`
	// Authorizer is the Name of the custom authorizer that the
	// operation's security requirement (its own, else the document's)
	// names; "" for none.
	Authorizer string `json:"authorizer,omitempty"`
	// Parameters are the path, query and header parameters that apply to
	// the operation (its own, then those inherited from the path item that
	// it does not override), with local $refs resolved. Never nil.
	Parameters []Param `json:"parameters"`
	// Loc is the JSON pointer of the operation in the document, e.g.
	// "/paths/~1pets~1{id}/get".
	Loc string `json:"loc"`
	// Schema describes a valid request to the operation, as an
	// OperationSchema encoded as compact JSON: what plugins read as the
	// wasmgate.operation.schema property. Nil when the operation could
	// not be described.
	Schema json.RawMessage `json:"-"`
}

// Param is a declared operation parameter.
type Param struct {
	// Name is the parameter name.
	Name string `json:"name"`
	// In is "path", "query" or "header".
	In string `json:"in"`
	// Required is true for a required parameter (always for path ones).
	Required bool `json:"required"`
}

// PluginRef names a plugin and its configuration for one use in a
// pipeline (or as a function integration).
type PluginRef struct {
	// Ref is the reference as written: "cors@1.2.0", "cors" (the latest
	// version in the store), "cors@sha256:<64 hex>", "sha256:<64 hex>" or
	// "file:relative/path.wasm" (relative to the document's directory).
	Ref string `json:"ref"`
	// Name is the plugin name: the part before "@", or for a file
	// reference the file's base name without ".wasm"; "" for a bare
	// digest.
	Name string `json:"name,omitempty"`
	// Version is the part after "@" unless it is a digest; "" means latest.
	Version string `json:"version,omitempty"`
	// Digest is "sha256:<64 hex>" for digest references, else "".
	Digest string `json:"digest,omitempty"`
	// Config is the plugin configuration object re-encoded as compact JSON
	// with sorted keys; "{}" when absent. It is what on_configure
	// receives.
	Config json.RawMessage `json:"config"`
	// OnError is FailClosed (the default: a plugin fault fails the
	// request) or FailOpen (the request continues without the plugin).
	OnError string `json:"onError"`
	// Loc is the JSON pointer of this entry in the document.
	Loc string `json:"loc"`
}

// Integration is the terminal stage of an operation's pipeline.
type Integration struct {
	// Type is one of TypeHTTPProxy, TypeHTTP, TypeMock, TypeFunction,
	// TypeService.
	Type string `json:"type"`
	// URI is the backend URI template of http_proxy and http
	// integrations. It may contain {param} (a path parameter of the
	// operation), {proxy} (the greedy {proxy+} parameter, slashes kept)
	// and ${stageVariables.name}.
	URI string `json:"uri,omitempty"`
	// Method is the upstream method of http_proxy and http integrations;
	// "" forwards the request's method.
	Method string `json:"method,omitempty"`
	// Timeout bounds the integration call: DefaultTimeout when the
	// document gives none, at most MaxAWSTimeout for
	// x-amazon-apigateway-integration and MaxTimeout for
	// x-wasmgate-integration.
	Timeout time.Duration `json:"timeout"`
	// Mock is the canned response of a mock integration.
	Mock *MockResponse `json:"mock,omitempty"`
	// Function is the Wasm plugin of a function integration: it receives
	// the request as an AWS Lambda proxy event and answers with a local
	// response.
	Function *PluginRef `json:"function,omitempty"`
	// PayloadVersion is the Lambda proxy event version of a function
	// integration: "1.0" (default) or "2.0"; "" for other types.
	PayloadVersion string `json:"payloadVersion,omitempty"`
	// Service is the key-value table operation of a service integration.
	Service *ServiceSpec `json:"service,omitempty"`
	// Transform configures the "transform" plugin for an http
	// integration: a TransformSpec encoded as compact JSON. Nil when
	// there is nothing to transform.
	Transform json.RawMessage `json:"transform,omitempty"`
	// Loc is the JSON pointer of the integration object in the document
	// (which may be the path item's or the root's default).
	Loc string `json:"loc"`
}

// MockResponse is the answer of a mock integration.
type MockResponse struct {
	// StatusCode is the HTTP status, 200 by default.
	StatusCode int `json:"statusCode"`
	// Headers are response headers.
	Headers map[string]string `json:"headers,omitempty"`
	// Body is the response body.
	Body string `json:"body,omitempty"`
}

// ServiceSpec is the table operation of a service integration.
type ServiceSpec struct {
	// Table is the table name.
	Table string `json:"table"`
	// Action is "get", "put", "delete" or "scan"; "" derives it from the
	// request method (GET → get, or scan when Key renders empty; PUT and
	// POST → put; DELETE → delete).
	Action string `json:"action,omitempty"`
	// Key is the item key template, e.g. "{id}"; it may only use path
	// parameters of the operation.
	Key string `json:"key,omitempty"`
}

// TransformSpec is the schema of Integration.Transform: what the
// "transform" plugin does around an http integration. Values that are
// expressions use the AWS API Gateway mapping syntax:
//
//   - request sources: method.request.header.NAME,
//     method.request.querystring.NAME, method.request.path.NAME,
//     method.request.multivalueheader.NAME,
//     method.request.multivaluequerystring.NAME, method.request.body,
//     method.request.body.JSONPATH, context.NAME, stageVariables.NAME or a
//     'quoted literal';
//   - response sources: integration.response.header.NAME,
//     integration.response.multivalueheader.NAME,
//     integration.response.body, integration.response.body.JSONPATH,
//     context.NAME, stageVariables.NAME or a 'quoted literal'.
type TransformSpec struct {
	// Request transforms the request before it goes upstream.
	Request *RequestTransform `json:"request,omitempty"`
	// Responses transform the upstream response: the first entry whose
	// Pattern matches the upstream status code applies, else the
	// "default" one. Sorted by Pattern with "default" last.
	Responses []ResponseTransform `json:"responses,omitempty"`
}

// RequestTransform is the request part of a TransformSpec.
type RequestTransform struct {
	// Headers maps an upstream header name to its source expression.
	Headers map[string]string `json:"headers,omitempty"`
	// Query maps an upstream query parameter to its source expression.
	Query map[string]string `json:"query,omitempty"`
	// Templates maps a request content type to a body template (AWS
	// mapping template syntax).
	Templates map[string]string `json:"templates,omitempty"`
	// Passthrough is what happens to a body whose content type has no
	// template: "when_no_match" (pass it), "when_no_templates" (pass it
	// only when there are no templates at all) or "never" (415).
	Passthrough string `json:"passthrough,omitempty"`
}

// ResponseTransform is one response mapping of a TransformSpec.
type ResponseTransform struct {
	// Pattern is a regular expression matched against the whole upstream
	// status code, or "default".
	Pattern string `json:"pattern"`
	// Status is the status code sent to the client; 0 keeps the
	// upstream's.
	Status int `json:"status,omitempty"`
	// Headers maps a response header name to its source expression.
	Headers map[string]string `json:"headers,omitempty"`
	// Templates maps a response content type to a body template.
	Templates map[string]string `json:"templates,omitempty"`
}
