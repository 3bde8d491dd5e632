package e2e

import (
	"os"
	"strings"
	"testing"
)

// Tests of known issues in code outside e2e/ (host, plugins). They assert
// the documented behaviour and fail today, so they are skipped unless
// WASMGATE_E2E_KNOWN_ISSUES is set:
//
//	WASMGATE_E2E_KNOWN_ISSUES=1 go test -count=1 -run KnownIssue ./e2e/

func knownIssue(t *testing.T, issue string) {
	t.Helper()
	if os.Getenv("WASMGATE_E2E_KNOWN_ISSUES") == "" {
		t.Skip("known issue: " + issue + " (set WASMGATE_E2E_KNOWN_ISSUES=1 to run)")
	}
}

// A function that echoes a 1 MiB body in its event JSON needs more than
// the host's 100ms plugin call deadline, and nothing can raise it:
// host/gateway builds every plugin with the default
// wasm.PluginConfig.CallTimeout, and neither the API document nor
// gateway.Options has a setting for it, although sdk/go/lambda's README
// tells function authors to "raise the plugin's call timeout for functions
// that take large bodies". The request fails with 500 "Internal server
// error: plugin testfn failed" and "proxy_on_request_body: deadline
// exceeded: guest call ran longer than 100ms" in the log.
func TestKnownIssueFunctionLargeBodyWithinDeadline(t *testing.T) {
	knownIssue(t, "the 100ms plugin call deadline cannot be raised for a function integration")
	e := startGateway(t, functionDoc(), nil)
	mb := strings.Repeat("0123456789abcdef", 1<<16)
	for _, v := range []string{"v1", "v2"} {
		r := do(t, nil, "POST", e.base+"/dev/"+v+"/items/1", strings.NewReader(mb), "Content-Type", "text/plain")
		if r.status != 200 || !strings.Contains(r.body, mb) {
			t.Errorf("%s: 1 MiB: %d %.200s", v, r.status, r.body)
		}
	}
}

// The same deadline fails an http integration whose transform template
// reads a 1 MiB JSON request body ($input.json('$')): 500 "Internal server
// error: plugin transform failed", the upstream is never called.
func TestKnownIssueTransformLargeJSONBodyWithinDeadline(t *testing.T) {
	knownIssue(t, "the 100ms plugin call deadline cannot be raised for the transform plugin")
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
func TestKnownIssueHelloFunctionRepeatedQueryPayload1(t *testing.T) {
	knownIssue(t, "hello-function greets the last repeated name with payload 1.0, the README says the first")
	e := startGateway(t, functionDoc(), nil)
	r := do(t, nil, "GET", e.base+"/dev/hello?name=bob&name=carol", nil)
	if r.status != 200 || r.body != `{"message":"hello, bob","stage":"dev"}` {
		t.Errorf("got %d %s", r.status, r.body)
	}
}
