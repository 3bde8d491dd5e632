package e2e

import (
	"fmt"
	"testing"
)

// TestPluginReadsStageAndRoute: a plugin reads the stage variables (one
// and all), the route parameters and the request path through the real
// gateway.
func TestPluginReadsStageAndRoute(t *testing.T) {
	up := newRecordingUpstream(t)
	e := startGateway(t, fmt.Sprintf(`openapi: 3.0.3
info: {title: props, version: "1"}
x-wasmgate-stages:
  - name: dev
    variables: {backend: b-dev, zone: eu}
paths:
  /pets/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get:
      x-wasmgate-pipeline: [{plugin: headers}]
      x-wasmgate-integration: {type: http_proxy, uri: "%s/pets/{id}"}
      responses: {"200": {description: ok}}
`, up.URL), nil)
	r := do(t, nil, "GET", e.base+"/dev/pets/42?x=1", nil)
	got, _ := up.last()
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	for k, want := range map[string]string{
		"X-Stage-Var":  "b-dev",
		"X-Stage-Vars": "backend=b-dev,zone=eu",
		"X-Route-Id":   "42",
		"X-Path":       "/dev/pets/42?x=1",
	} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("upstream %s = %q, want %q", k, v, want)
		}
	}
}
