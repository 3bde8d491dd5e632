package e2e

import (
	"strings"
	"testing"
)

// Regression tests for limits found by the e2e suite: plugins that
// implement an integration get the integration's timeout, not the
// pipeline's per-call deadline; hello-function greets the first of a
// repeated name on both payload versions.

// A function that echoes a 1 MiB body in its event JSON needs more than
// the pipeline's 100ms per-call deadline; function plugins run under the
// integration's timeout (29 s by default), like the upstream they replace.
func TestFunctionLargeBodyWithinIntegrationTimeout(t *testing.T) {
	e := startGateway(t, functionDoc(), nil)
	mb := strings.Repeat("0123456789abcdef", 1<<16)
	for _, v := range []string{"v1", "v2"} {
		r := do(t, nil, "POST", e.base+"/dev/"+v+"/items/1", strings.NewReader(mb), "Content-Type", "text/plain")
		if r.status != 200 || !strings.Contains(r.body, mb) {
			t.Errorf("%s: 1 MiB: %d %.200s", v, r.status, r.body)
		}
	}
}

// The same holds for the transform plugin of an http integration whose
// template reads a 1 MiB JSON request body ($input.json('$')).
func TestTransformLargeJSONBodyWithinIntegrationTimeout(t *testing.T) {
	up := newRecordingUpstream(t)
	e := startGateway(t, transformDoc(up.URL), nil)
	s := strings.Repeat("0123456789abcdef", 1<<16)
	r := do(t, nil, "POST", e.base+"/dev/notes", strings.NewReader(`{"s":"`+s+`"}`), "Content-Type", "application/json")
	got, _ := up.last()
	if r.status != 200 || got.Body != `{"note": {"s":"`+s+`"}, "by": ""}` {
		t.Errorf("1 MiB JSON templated: %d %.200s; upstream got %d bytes", r.status, r.body, len(got.Body))
	}
}

// plugins/hello-function/README.md: the name comes from "the name query
// parameter (the first one when repeated)". With payload 1.0 the plugin
// reads queryStringParameters, which holds the last value (API Gateway's
// 1.0 rule), so ?name=bob&name=carol greets carol; with 2.0 it greets bob.
func TestHelloFunctionRepeatedQueryTakesFirst(t *testing.T) {
	e := startGateway(t, functionDoc(), nil)
	r := do(t, nil, "GET", e.base+"/dev/hello?name=bob&name=carol", nil)
	if r.status != 200 || r.body != `{"message":"hello, bob","stage":"dev"}` {
		t.Errorf("got %d %s", r.status, r.body)
	}
}
