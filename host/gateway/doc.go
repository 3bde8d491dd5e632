// Package gateway is wasmgate's HTTP data plane: listeners (HTTP/1.1,
// HTTP/2 over TLS and h2c, HTTP/3), stage selection, routing on compiled
// OpenAPI path templates, the Wasm plugin pipeline per operation, and the
// integrations that end it.
package gateway
