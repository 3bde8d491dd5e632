package e2e

import (
	"fmt"
	"testing"
)

// TestIPFilter: the gateway's peer is 127.0.0.1. On /behind-proxy it is a
// trusted proxy, so X-Forwarded-For names the client; on /direct it is
// not, so a forged X-Forwarded-For changes nothing.
func TestIPFilter(t *testing.T) {
	up := echoUpstream(t)
	doc := fmt.Sprintf(`openapi: 3.0.3
info: {title: ip, version: "1"}
paths:
  /behind-proxy:
    get:
      x-wasmgate-pipeline:
        - plugin: ip-filter
          config: {allow: ["198.51.100.0/24", "2001:db8::/32"], deny: ["198.51.100.66"], trusted_proxies: ["127.0.0.0/8", "::1"]}
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/a"}
      responses: {"200": {description: ok}}
  /direct:
    get:
      x-wasmgate-pipeline:
        - plugin: ip-filter
          config: {deny: ["127.0.0.0/8"], trusted_proxies: ["10.0.0.0/8"]}
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/b"}
      responses: {"200": {description: ok}}
  /local:
    get:
      x-wasmgate-pipeline:
        - plugin: ip-filter
          config: {allow: ["127.0.0.1"]}
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/c"}
      responses: {"200": {description: ok}}
`, up.URL)
	e := startGateway(t, doc, nil)
	cases := []struct {
		path string
		xff  string
		want int
	}{
		{"/behind-proxy", "198.51.100.5", 200},
		{"/behind-proxy", "2001:db8::5", 200},
		{"/behind-proxy", "203.0.113.1, 198.51.100.5", 200}, // the client's own (left) entry is not believed
		{"/behind-proxy", "198.51.100.5, 203.0.113.1", 403},
		{"/behind-proxy", "198.51.100.66", 403}, // deny wins
		{"/behind-proxy", "", 403},              // the proxy itself is not allowed
		{"/behind-proxy", "not-an-ip", 403},
		{"/direct", "", 403},
		{"/direct", "198.51.100.5", 403}, // spoofed XFF from an untrusted peer
		{"/local", "", 200},
		{"/local", "198.51.100.5", 200},
	}
	for _, tc := range cases {
		var hdr []string
		if tc.xff != "" {
			hdr = []string{"X-Forwarded-For", tc.xff}
		}
		r := do(t, nil, "GET", e.base+tc.path, nil, hdr...)
		if r.status != tc.want {
			t.Errorf("%s with X-Forwarded-For %q: %d %s, want %d", tc.path, tc.xff, r.status, r.body, tc.want)
		}
		if r.status == 403 && r.body != `{"message":"Forbidden"}`+"\n" {
			t.Errorf("403 body %q", r.body)
		}
	}
}
