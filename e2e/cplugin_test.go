package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestCPluginInPipeline: header-rules, a plugin written in C against the
// raw Proxy-Wasm ABI, runs in one pipeline with a Go plugin (template)
// over real sockets.
func TestCPluginInPipeline(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "backend/1.0")
		w.Header().Set("X-Saw-Env", r.Header.Get("X-Env"))
		w.Header().Set("X-Saw-Debug", r.Header.Get("X-Debug"))
		w.Header().Set("X-Saw-Demo", r.Header.Get("X-Demo"))
	}))
	defer up.Close()
	e := startGateway(t, fmt.Sprintf(`openapi: 3.0.3
info: {title: c, version: "1"}
paths:
  /c:
    get:
      x-wasmgate-pipeline:
        - plugin: header-rules
          config: {request_set: {x-env: prod}, request_remove: [x-debug], response_set: {x-frame-options: DENY}, response_remove: [server]}
        - plugin: template
          config: {header: x-demo, value: go}
      x-wasmgate-integration: {type: http_proxy, uri: "%s/c"}
      responses: {"200": {description: ok}}
`, up.URL), nil)
	r := do(t, nil, "GET", e.base+"/c", nil, "X-Debug", "1", "X-Env", "dev")
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	for h, want := range map[string]string{
		"X-Saw-Env": "prod", "X-Saw-Debug": "", "X-Saw-Demo": "go", // what the upstream received
		"X-Frame-Options": "DENY", "Server": "", "X-Wasmgate-Plugin": "template", // what the client got
	} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
}
