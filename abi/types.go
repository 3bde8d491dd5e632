package abi

import "strconv"

// Status is the proxy_status_t every host function returns.
type Status uint32

// Proxy-Wasm 0.2.1 status codes.
const (
	StatusOK                   Status = 0
	StatusNotFound             Status = 1
	StatusBadArgument          Status = 2
	StatusSerializationFailure Status = 3
	StatusParseFailure         Status = 4
	StatusInvalidMemoryAccess  Status = 6
	StatusEmpty                Status = 7
	StatusCASMismatch          Status = 8
	StatusInternalFailure      Status = 10
	StatusUnimplemented        Status = 12
)

var statusNames = map[Status]string{
	StatusOK:                   "OK",
	StatusNotFound:             "NOT_FOUND",
	StatusBadArgument:          "BAD_ARGUMENT",
	StatusSerializationFailure: "SERIALIZATION_FAILURE",
	StatusParseFailure:         "PARSE_FAILURE",
	StatusInvalidMemoryAccess:  "INVALID_MEMORY_ACCESS",
	StatusEmpty:                "EMPTY",
	StatusCASMismatch:          "CAS_MISMATCH",
	StatusInternalFailure:      "INTERNAL_FAILURE",
	StatusUnimplemented:        "UNIMPLEMENTED",
}

// String returns the specification's name of the status, e.g. "NOT_FOUND".
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return "STATUS_" + strconv.FormatUint(uint64(s), 10)
}

// Error lets a non-OK Status be returned as an error.
func (s Status) Error() string { return "proxy-wasm status " + s.String() }

// Action is the proxy_action_t returned by stream callbacks.
type Action uint32

// Proxy-Wasm 0.2.1 actions.
const (
	ActionContinue Action = 0
	ActionPause    Action = 1
)

// String returns "CONTINUE" or "PAUSE".
func (a Action) String() string {
	switch a {
	case ActionContinue:
		return "CONTINUE"
	case ActionPause:
		return "PAUSE"
	}
	return "ACTION_" + strconv.FormatUint(uint64(a), 10)
}

// MapType is the proxy_map_type_t naming a header (field) map.
type MapType uint32

// Proxy-Wasm 0.2.1 map types.
const (
	MapHTTPRequestHeaders       MapType = 0
	MapHTTPRequestTrailers      MapType = 1
	MapHTTPResponseHeaders      MapType = 2
	MapHTTPResponseTrailers     MapType = 3
	MapGRPCReceiveInitialMeta   MapType = 4
	MapGRPCReceiveTrailingMeta  MapType = 5
	MapHTTPCallResponseHeaders  MapType = 6
	MapHTTPCallResponseTrailers MapType = 7
	mapTypeCount                        = 8
)

// Valid reports whether m is a map type defined by the specification.
func (m MapType) Valid() bool { return m < mapTypeCount }

// String returns the specification's name of the map type.
func (m MapType) String() string {
	switch m {
	case MapHTTPRequestHeaders:
		return "HTTP_REQUEST_HEADERS"
	case MapHTTPRequestTrailers:
		return "HTTP_REQUEST_TRAILERS"
	case MapHTTPResponseHeaders:
		return "HTTP_RESPONSE_HEADERS"
	case MapHTTPResponseTrailers:
		return "HTTP_RESPONSE_TRAILERS"
	case MapGRPCReceiveInitialMeta:
		return "GRPC_CALL_INITIAL_METADATA"
	case MapGRPCReceiveTrailingMeta:
		return "GRPC_CALL_TRAILING_METADATA"
	case MapHTTPCallResponseHeaders:
		return "HTTP_CALL_RESPONSE_HEADERS"
	case MapHTTPCallResponseTrailers:
		return "HTTP_CALL_RESPONSE_TRAILERS"
	}
	return "MAP_" + strconv.FormatUint(uint64(m), 10)
}

// BufferType is the proxy_buffer_type_t naming a byte buffer.
type BufferType uint32

// Proxy-Wasm 0.2.1 buffer types.
const (
	BufferHTTPRequestBody      BufferType = 0
	BufferHTTPResponseBody     BufferType = 1
	BufferDownstreamData       BufferType = 2
	BufferUpstreamData         BufferType = 3
	BufferHTTPCallResponseBody BufferType = 4
	BufferGRPCReceive          BufferType = 5
	BufferVMConfiguration      BufferType = 6
	BufferPluginConfiguration  BufferType = 7
	BufferCallData             BufferType = 8 // FOREIGN_FUNCTION_ARGUMENTS
	bufferTypeCount                       = 9
)

// Valid reports whether b is a buffer type defined by the specification.
func (b BufferType) Valid() bool { return b < bufferTypeCount }

// String returns the specification's name of the buffer type.
func (b BufferType) String() string {
	switch b {
	case BufferHTTPRequestBody:
		return "HTTP_REQUEST_BODY"
	case BufferHTTPResponseBody:
		return "HTTP_RESPONSE_BODY"
	case BufferDownstreamData:
		return "DOWNSTREAM_DATA"
	case BufferUpstreamData:
		return "UPSTREAM_DATA"
	case BufferHTTPCallResponseBody:
		return "HTTP_CALL_RESPONSE_BODY"
	case BufferGRPCReceive:
		return "GRPC_CALL_MESSAGE"
	case BufferVMConfiguration:
		return "VM_CONFIGURATION"
	case BufferPluginConfiguration:
		return "PLUGIN_CONFIGURATION"
	case BufferCallData:
		return "FOREIGN_FUNCTION_ARGUMENTS"
	}
	return "BUFFER_" + strconv.FormatUint(uint64(b), 10)
}

// StreamType is the proxy_stream_type_t used by continue/close stream.
type StreamType uint32

// Proxy-Wasm 0.2.1 stream types.
const (
	StreamHTTPRequest  StreamType = 0
	StreamHTTPResponse StreamType = 1
	StreamDownstream   StreamType = 2
	StreamUpstream     StreamType = 3
)

// String returns the specification's name of the stream type.
func (s StreamType) String() string {
	switch s {
	case StreamHTTPRequest:
		return "HTTP_REQUEST"
	case StreamHTTPResponse:
		return "HTTP_RESPONSE"
	case StreamDownstream:
		return "DOWNSTREAM"
	case StreamUpstream:
		return "UPSTREAM"
	}
	return "STREAM_" + strconv.FormatUint(uint64(s), 10)
}

// LogLevel is the proxy_log_level_t.
type LogLevel uint32

// Proxy-Wasm 0.2.1 log levels.
const (
	LogTrace    LogLevel = 0
	LogDebug    LogLevel = 1
	LogInfo     LogLevel = 2
	LogWarn     LogLevel = 3
	LogError    LogLevel = 4
	LogCritical LogLevel = 5
)

// Valid reports whether l is a log level defined by the specification.
func (l LogLevel) Valid() bool { return l <= LogCritical }

// String returns "trace", "debug", "info", "warn", "error" or "critical".
func (l LogLevel) String() string {
	switch l {
	case LogTrace:
		return "trace"
	case LogDebug:
		return "debug"
	case LogInfo:
		return "info"
	case LogWarn:
		return "warn"
	case LogError:
		return "error"
	case LogCritical:
		return "critical"
	}
	return "level" + strconv.FormatUint(uint64(l), 10)
}

// MetricType is the proxy_metric_type_t.
type MetricType uint32

// Proxy-Wasm 0.2.1 metric types.
const (
	MetricCounter   MetricType = 0
	MetricGauge     MetricType = 1
	MetricHistogram MetricType = 2
)

// Valid reports whether m is a metric type defined by the specification.
func (m MetricType) Valid() bool { return m <= MetricHistogram }

// String returns "counter", "gauge" or "histogram".
func (m MetricType) String() string {
	switch m {
	case MetricCounter:
		return "counter"
	case MetricGauge:
		return "gauge"
	case MetricHistogram:
		return "histogram"
	}
	return "metric" + strconv.FormatUint(uint64(m), 10)
}

// PeerType is the proxy_peer_type_t passed to connection-close callbacks.
type PeerType uint32

// Proxy-Wasm 0.2.1 peer types.
const (
	PeerUnknown PeerType = 0
	PeerLocal   PeerType = 1
	PeerRemote  PeerType = 2
)
