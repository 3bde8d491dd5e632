package abi

// ImportModule is the Wasm import module of every Proxy-Wasm host function.
const ImportModule = "env"

// ValType is a Wasm value type in a function signature.
type ValType byte

// The two value types the ABI uses.
const (
	I32 ValType = 0x7f
	I64 ValType = 0x7e
)

// Signature is a function's Wasm parameter and result types.
type Signature struct {
	Params  []ValType
	Results []ValType
}

func i32s(n int) []ValType {
	s := make([]ValType, n)
	for i := range s {
		s[i] = I32
	}
	return s
}

// Host functions (imported by the plugin from module "env").
const (
	FuncLog                   = "proxy_log"
	FuncGetLogLevel           = "proxy_get_log_level"
	FuncSetTickPeriod         = "proxy_set_tick_period_milliseconds"
	FuncGetCurrentTimeNanos   = "proxy_get_current_time_nanoseconds"
	FuncGetProperty           = "proxy_get_property"
	FuncSetProperty           = "proxy_set_property"
	FuncSetEffectiveContext   = "proxy_set_effective_context"
	FuncDone                  = "proxy_done"
	FuncCallForeignFunction   = "proxy_call_foreign_function"
	FuncGetBufferBytes        = "proxy_get_buffer_bytes"
	FuncSetBufferBytes        = "proxy_set_buffer_bytes"
	FuncGetBufferStatus       = "proxy_get_buffer_status"
	FuncGetHeaderMapSize      = "proxy_get_header_map_size"
	FuncGetHeaderMapPairs     = "proxy_get_header_map_pairs"
	FuncSetHeaderMapPairs     = "proxy_set_header_map_pairs"
	FuncGetHeaderMapValue     = "proxy_get_header_map_value"
	FuncAddHeaderMapValue     = "proxy_add_header_map_value"
	FuncReplaceHeaderMapValue = "proxy_replace_header_map_value"
	FuncRemoveHeaderMapValue  = "proxy_remove_header_map_value"
	FuncContinueStream        = "proxy_continue_stream"
	FuncCloseStream           = "proxy_close_stream"
	FuncGetStatus             = "proxy_get_status"
	FuncSendLocalResponse     = "proxy_send_local_response"
	FuncHTTPCall              = "proxy_http_call"
	FuncGRPCCall              = "proxy_grpc_call"
	FuncGRPCStream            = "proxy_grpc_stream"
	FuncGRPCSend              = "proxy_grpc_send"
	FuncGRPCCancel            = "proxy_grpc_cancel"
	FuncGRPCClose             = "proxy_grpc_close"
	FuncSetSharedData         = "proxy_set_shared_data"
	FuncGetSharedData         = "proxy_get_shared_data"
	FuncRegisterSharedQueue   = "proxy_register_shared_queue"
	FuncResolveSharedQueue    = "proxy_resolve_shared_queue"
	FuncEnqueueSharedQueue    = "proxy_enqueue_shared_queue"
	FuncDequeueSharedQueue    = "proxy_dequeue_shared_queue"
	FuncDefineMetric          = "proxy_define_metric"
	FuncRecordMetric          = "proxy_record_metric"
	FuncIncrementMetric       = "proxy_increment_metric"
	FuncGetMetric             = "proxy_get_metric"
	FuncContinueRequest       = "proxy_continue_request"  // 0.2.0 legacy
	FuncContinueResponse      = "proxy_continue_response" // 0.2.0 legacy
	FuncClearRouteCache       = "proxy_clear_route_cache" // 0.2.0 legacy
	FuncGetConfiguration      = "proxy_get_configuration" // 0.1.0 legacy, still imported by old SDKs
)

// HostFunctions lists every function the host defines in module "env", with
// its Wasm signature. The host registers all of them, so a plugin that
// imports one the host has not built yet links and receives UNIMPLEMENTED.
var HostFunctions = map[string]Signature{
	FuncLog:                   {i32s(3), i32s(1)},
	FuncGetLogLevel:           {i32s(1), i32s(1)},
	FuncSetTickPeriod:         {i32s(1), i32s(1)},
	FuncGetCurrentTimeNanos:   {i32s(1), i32s(1)},
	FuncGetProperty:           {i32s(4), i32s(1)},
	FuncSetProperty:           {i32s(4), i32s(1)},
	FuncSetEffectiveContext:   {i32s(1), i32s(1)},
	FuncDone:                  {nil, i32s(1)},
	FuncCallForeignFunction:   {i32s(6), i32s(1)},
	FuncGetBufferBytes:        {i32s(5), i32s(1)},
	FuncSetBufferBytes:        {i32s(5), i32s(1)},
	FuncGetBufferStatus:       {i32s(3), i32s(1)},
	FuncGetHeaderMapSize:      {i32s(2), i32s(1)},
	FuncGetHeaderMapPairs:     {i32s(3), i32s(1)},
	FuncSetHeaderMapPairs:     {i32s(3), i32s(1)},
	FuncGetHeaderMapValue:     {i32s(5), i32s(1)},
	FuncAddHeaderMapValue:     {i32s(5), i32s(1)},
	FuncReplaceHeaderMapValue: {i32s(5), i32s(1)},
	FuncRemoveHeaderMapValue:  {i32s(3), i32s(1)},
	FuncContinueStream:        {i32s(1), i32s(1)},
	FuncCloseStream:           {i32s(1), i32s(1)},
	FuncGetStatus:             {i32s(3), i32s(1)},
	FuncSendLocalResponse:     {i32s(8), i32s(1)},
	FuncHTTPCall:              {i32s(10), i32s(1)},
	FuncGRPCCall:              {i32s(12), i32s(1)},
	FuncGRPCStream:            {i32s(9), i32s(1)},
	FuncGRPCSend:              {i32s(4), i32s(1)},
	FuncGRPCCancel:            {i32s(1), i32s(1)},
	FuncGRPCClose:             {i32s(1), i32s(1)},
	FuncSetSharedData:         {i32s(5), i32s(1)},
	FuncGetSharedData:         {i32s(5), i32s(1)},
	FuncRegisterSharedQueue:   {i32s(3), i32s(1)},
	FuncResolveSharedQueue:    {i32s(5), i32s(1)},
	FuncEnqueueSharedQueue:    {i32s(3), i32s(1)},
	FuncDequeueSharedQueue:    {i32s(3), i32s(1)},
	FuncDefineMetric:          {i32s(4), i32s(1)},
	FuncRecordMetric:          {[]ValType{I32, I64}, i32s(1)},
	FuncIncrementMetric:       {[]ValType{I32, I64}, i32s(1)},
	FuncGetMetric:             {i32s(2), i32s(1)},
	FuncContinueRequest:       {nil, i32s(1)},
	FuncContinueResponse:      {nil, i32s(1)},
	FuncClearRouteCache:       {nil, i32s(1)},
	FuncGetConfiguration:      {i32s(2), i32s(1)},
}

// Callbacks (exported by the plugin, called by the host).
const (
	ExportABIVersion020 = "proxy_abi_version_0_2_0"
	ExportABIVersion021 = "proxy_abi_version_0_2_1"
	ExportInitialize    = "_initialize"
	ExportStart         = "_start"
	ExportMain          = "main"

	ExportMemoryAllocate = "proxy_on_memory_allocate"
	ExportMalloc         = "malloc" // deprecated fallback for proxy_on_memory_allocate

	ExportOnContextCreate = "proxy_on_context_create"
	ExportOnVMStart       = "proxy_on_vm_start"
	ExportOnConfigure     = "proxy_on_configure"
	ExportOnTick          = "proxy_on_tick"
	ExportOnDone          = "proxy_on_done"
	ExportOnLog           = "proxy_on_log"
	ExportOnDelete        = "proxy_on_delete"
	ExportOnQueueReady    = "proxy_on_queue_ready"
	ExportOnForeignFunc   = "proxy_on_foreign_function"

	ExportOnNewConnection           = "proxy_on_new_connection"
	ExportOnDownstreamData          = "proxy_on_downstream_data"
	ExportOnDownstreamConnClose     = "proxy_on_downstream_connection_close"
	ExportOnUpstreamData            = "proxy_on_upstream_data"
	ExportOnUpstreamConnectionClose = "proxy_on_upstream_connection_close"

	ExportOnRequestHeaders   = "proxy_on_request_headers"
	ExportOnRequestBody      = "proxy_on_request_body"
	ExportOnRequestTrailers  = "proxy_on_request_trailers"
	ExportOnResponseHeaders  = "proxy_on_response_headers"
	ExportOnResponseBody     = "proxy_on_response_body"
	ExportOnResponseTrailers = "proxy_on_response_trailers"

	ExportOnHTTPCallResponse = "proxy_on_http_call_response"

	ExportOnGRPCReceiveInitialMetadata  = "proxy_on_grpc_receive_initial_metadata"
	ExportOnGRPCReceive                 = "proxy_on_grpc_receive"
	ExportOnGRPCReceiveTrailingMetadata = "proxy_on_grpc_receive_trailing_metadata"
	ExportOnGRPCClose                   = "proxy_on_grpc_close"
)

// Callbacks lists the signature of every callback a plugin may export. All
// are optional; the host calls only those the plugin exports and rejects a
// plugin whose export has a different signature.
var Callbacks = map[string]Signature{
	ExportMemoryAllocate:                {i32s(1), i32s(1)},
	ExportMalloc:                        {i32s(1), i32s(1)},
	ExportOnContextCreate:               {i32s(2), nil},
	ExportOnVMStart:                     {i32s(2), i32s(1)},
	ExportOnConfigure:                   {i32s(2), i32s(1)},
	ExportOnTick:                        {i32s(1), nil},
	ExportOnDone:                        {i32s(1), i32s(1)},
	ExportOnLog:                         {i32s(1), nil},
	ExportOnDelete:                      {i32s(1), nil},
	ExportOnQueueReady:                  {i32s(2), nil},
	ExportOnForeignFunc:                 {i32s(3), nil},
	ExportOnNewConnection:               {i32s(1), i32s(1)},
	ExportOnDownstreamData:              {i32s(3), i32s(1)},
	ExportOnDownstreamConnClose:         {i32s(2), nil},
	ExportOnUpstreamData:                {i32s(3), i32s(1)},
	ExportOnUpstreamConnectionClose:     {i32s(2), nil},
	ExportOnRequestHeaders:              {i32s(3), i32s(1)},
	ExportOnRequestBody:                 {i32s(3), i32s(1)},
	ExportOnRequestTrailers:             {i32s(2), i32s(1)},
	ExportOnResponseHeaders:             {i32s(3), i32s(1)},
	ExportOnResponseBody:                {i32s(3), i32s(1)},
	ExportOnResponseTrailers:            {i32s(2), i32s(1)},
	ExportOnHTTPCallResponse:            {i32s(5), nil},
	ExportOnGRPCReceiveInitialMetadata:  {i32s(3), nil},
	ExportOnGRPCReceive:                 {i32s(3), nil},
	ExportOnGRPCReceiveTrailingMetadata: {i32s(3), nil},
	ExportOnGRPCClose:                   {i32s(3), nil},
	ExportHooks:                         {nil, i32s(1)},
	ExportYield:                         {nil, nil},
	ExportDeleteRing:                    {nil, i32s(1)},
}
