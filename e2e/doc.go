// Package e2e holds wasmgate's end-to-end tests: the gateway on real
// sockets with real plugins built from source, for every integration and
// protocol (HTTP/1.1, h2c, HTTP/2 over TLS, HTTP/3).
package e2e
