package abi

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// Property paths are sequences of segments. On the wire (proxy_get_property,
// proxy_set_property) the segments are joined with NUL bytes; a trailing NUL
// is tolerated. In documentation and configuration they are written with
// dots, e.g. "request.path" is the wire path "request\x00path".

// EncodePath joins path segments with NUL separators.
func EncodePath(segments ...string) []byte {
	return []byte(strings.Join(segments, "\x00"))
}

// SplitPath splits a wire path into its segments. Empty segments from a
// trailing NUL are dropped. The returned strings are copies.
func SplitPath(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	parts := bytes.Split(b, []byte{0})
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(p)
	}
	return out
}

// DottedPath renders a wire path the way documentation writes it
// ("request.path").
func DottedPath(b []byte) string {
	return strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", ".")
}

// Property value encodings follow Envoy: strings are raw bytes, integers are
// 8-byte little-endian, booleans one byte, durations and timestamps int64
// nanoseconds, maps use the header-map serialization.

// EncodeInt64 encodes an integer property value.
func EncodeInt64(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }

// DecodeInt64 decodes an integer property value; ok is false when b is not
// 8 bytes long.
func DecodeInt64(b []byte) (v int64, ok bool) {
	if len(b) != 8 {
		return 0, false
	}
	return int64(binary.LittleEndian.Uint64(b)), true
}

// EncodeBool encodes a boolean property value.
func EncodeBool(v bool) []byte {
	if v {
		return []byte{1}
	}
	return []byte{0}
}

// Well-known property paths (dotted form). Request and response attributes
// follow Envoy's names; the wasmgate.* ones expose the gateway's $context.
const (
	PropRequestPath     = "request.path"      // string, path and query as received
	PropRequestURLPath  = "request.url_path"  // string, path without the query
	PropRequestHost     = "request.host"      // string
	PropRequestScheme   = "request.scheme"    // string, "http" or "https"
	PropRequestMethod   = "request.method"    // string
	PropRequestQuery    = "request.query"     // string, without the leading '?'
	PropRequestProtocol = "request.protocol"  // string, e.g. "HTTP/1.1"
	PropRequestID       = "request.id"        // string, the gateway request id
	PropRequestTime     = "request.time"      // int64 ns since the epoch
	PropRequestSize     = "request.size"      // int64 body bytes, when known
	PropRequestHeaders  = "request.headers"   // map
	PropRequestUA       = "request.useragent" // string
	PropRequestReferer  = "request.referer"   // string

	PropResponseCode    = "response.code"    // int64
	PropResponseHeaders = "response.headers" // map
	PropResponseSize    = "response.size"    // int64

	PropSourceAddress      = "source.address"      // string "ip:port"
	PropSourcePort         = "source.port"         // int64
	PropDestinationAddress = "destination.address" // string "ip:port"
	PropDestinationPort    = "destination.port"    // int64

	// TLS of the downstream connection (Envoy's connection.* names).
	PropConnectionMTLS        = "connection.mtls"                     // bool: a client certificate was verified
	PropConnectionTLSVersion  = "connection.tls_version"              // string, "TLSv1.3"; unset on plain HTTP
	PropConnectionSNI         = "connection.requested_server_name"    // string, the TLS SNI
	PropConnectionPeerSubject = "connection.subject_peer_certificate" // string, the verified client certificate's subject (RFC 2253)

	PropPluginName   = "plugin_name"    // string
	PropPluginRootID = "plugin_root_id" // string
	PropPluginVMID   = "plugin_vm_id"   // string

	PropStage          = "wasmgate.stage"           // string
	PropDeployment     = "wasmgate.deployment"      // string, e.g. "d-7"
	PropRouteTemplate  = "wasmgate.route.template"  // string, e.g. "/pets/{id}"
	PropRouteParams    = "wasmgate.route.params"    // map of every parameter; wasmgate.route.params.<name>: one
	PropStageVariables = "wasmgate.stage_variables" // map of every variable; wasmgate.stage_variables.<name>: one
	PropAPIKeyID       = "wasmgate.api_key.id"      // string
	PropPluginDigest   = "wasmgate.plugin.digest"   // string "sha256:…"

	// PropOperationSchema is the matched operation's request schema, as
	// compact JSON built once per deployment (not per request):
	//
	//	{"parameters": [{"name", "in", "required", "style", "explode", "schema"}],
	//	 "body": {"required", "content": {"application/json": {"schema"}}},
	//	 "validator": {"name", "body", "params"},
	//	 "$defs": {"Pet": {...}}}
	//
	// Schemas are JSON Schema 2020-12 (OpenAPI 3.0 nullable and boolean
	// exclusive bounds rewritten, Swagger 2.0 converted, annotations
	// dropped) whose $refs point into the document's $defs. "validator"
	// is the document's x-amazon-apigateway-request-validator for the
	// operation, when it names one. Read-only; see host/config
	// OperationSchema.
	PropOperationSchema = "wasmgate.operation.schema"
)

// Properties of a request that a custom authorizer allowed (read-only
// for plugins).
const (
	// PropAuthorizer is a map of the authorizer's answer:
	// principal_id and every key of its context.
	PropAuthorizer = "wasmgate.authorizer"
	// PropAuthorizerPrincipalID is the authorizer's principalId;
	// wasmgate.authorizer.<key> is one value of its context (numbers and
	// booleans as their JSON text).
	PropAuthorizerPrincipalID = "wasmgate.authorizer.principal_id"
)
