package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/wasmgate/wasmgate/host/gateway"
)

// TestForwardingHeaders: X-Forwarded-For/Proto/Host, Forwarded and Via
// as the upstream sees them, with and without a trusted proxy in front,
// on a route with plugins and one without (Via is extended whoever sent
// it: it records hops, it grants nothing); hop-by-hop headers (including
// those named by Connection) never reach the upstream.
func TestForwardingHeaders(t *testing.T) {
	var mu sync.Mutex
	var seen http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Clone()
		mu.Unlock()
	}))
	defer up.Close()
	doc := fmt.Sprintf(`openapi: 3.0.3
info: {title: fwd, version: "1"}
paths:
  /direct:
    get:
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/direct"}
      responses: {"200": {description: ok}}
  /plugins:
    get:
      x-wasmgate-pipeline: [{plugin: template, config: {header: x-demo, value: "1"}}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/plugins"}
      responses: {"200": {description: ok}}
`, up.URL)
	spoof := []string{
		"X-Forwarded-For", "1.2.3.4", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example",
		"Forwarded", "for=1.2.3.4", "Via", "1.1 cdn", "Connection", "X-Secret", "X-Secret", "hop",
	}
	for _, c := range []struct {
		name    string
		trusted bool
		want    map[string]string
	}{
		{"untrusted client", false, map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "Via": "1.1 cdn, 1.1 wasmgate",
			"Forwarded": `for=127.0.0.1;proto=http;host="HOST"`, "X-Forwarded-Host": "HOST", "X-Secret": "",
		}},
		{"trusted proxy", true, map[string]string{
			"X-Forwarded-For": "1.2.3.4, 127.0.0.1", "X-Forwarded-Proto": "https", "Via": "1.1 cdn, 1.1 wasmgate",
			"Forwarded": `for=1.2.3.4, for=127.0.0.1;proto=http;host="HOST"`, "X-Forwarded-Host": "evil.example", "X-Secret": "",
		}},
	} {
		e := startGateway(t, doc, nil, func(o *gateway.Options) {
			if c.trusted {
				o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
			}
		})
		host := strings.TrimPrefix(e.base, "http://")
		for _, path := range []string{"/direct", "/plugins"} {
			if r := do(t, nil, "GET", e.base+path, nil, spoof...); r.status != 200 {
				t.Fatalf("%s %s: %d", c.name, path, r.status)
			}
			mu.Lock()
			got := seen
			mu.Unlock()
			for k, want := range c.want {
				want = strings.ReplaceAll(want, "HOST", host)
				if v := strings.Join(got.Values(k), ", "); v != want {
					t.Errorf("%s %s: upstream %s = %q, want %q", c.name, path, k, v, want)
				}
			}
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	ps, err := gateway.ParseTrustedProxies([]string{"10.0.0.0/8", " 192.168.1.7 ", "2001:db8::/32", ""})
	if err != nil || len(ps) != 3 || ps[1].Bits() != 32 {
		t.Fatalf("%v %v", ps, err)
	}
	if _, err := gateway.ParseTrustedProxies([]string{"10.0.0.0/33"}); err == nil || !strings.Contains(err.Error(), "want a CIDR") {
		t.Fatalf("bad CIDR: %v", err)
	}
}
