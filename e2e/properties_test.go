package e2e

import (
	"fmt"
	"io"
	"strings"
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

// TestBodyWhileHeadersPaused: as in Envoy, a plugin that pauses its
// request headers still receives the body, and decides from it; the
// plugins before it see the body first (here the headers plugin, which
// appends "+plugin" to it).
func TestBodyWhileHeadersPaused(t *testing.T) {
	up := newRecordingUpstream(t)
	e := startGateway(t, fmt.Sprintf(`openapi: 3.0.3
info: {title: pause, version: "1"}
paths:
  /items:
    post:
      x-wasmgate-pipeline: [{plugin: pausebody}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/items"}
      responses: {"200": {description: ok}}
  /chained:
    post:
      x-wasmgate-pipeline: [{plugin: headers}, {plugin: pausebody}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/chained"}
      responses: {"200": {description: ok}}
`, up.URL), nil)
	for _, c := range []struct {
		path, body     string
		status         int
		upstreamBody   string
		seen           string
		upstreamCalled bool
	}{
		{"/items", "hello", 200, "hello", "5", true},
		{"/items", "deny", 403, "", "", false},
		{"/items", "", 200, "", "", true}, // no body: the headers continue at once
		{"/chained", "hello", 200, "hello+plugin", "12", true},
	} {
		_, before := up.last()
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		r := do(t, nil, "POST", e.base+c.path, body)
		got, after := up.last()
		if r.status != c.status || (after > before) != c.upstreamCalled {
			t.Errorf("%s %q: %d %q, upstream called: %v", c.path, c.body, r.status, r.body, after > before)
			continue
		}
		if c.upstreamCalled && (got.Body != c.upstreamBody || got.Header.Get("X-Body-Seen") != c.seen) {
			t.Errorf("%s %q: upstream got %q with x-body-seen %q, want %q and %q", c.path, c.body, got.Body, got.Header.Get("X-Body-Seen"), c.upstreamBody, c.seen)
		}
		if c.status == 403 && r.body != "denied by body\n" {
			t.Errorf("%s %q: %q", c.path, c.body, r.body)
		}
	}
}
