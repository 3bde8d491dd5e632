package main

import (
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/wasmgate/wasmgate/host/wasm"
	"github.com/wasmgate/wasmgate/sdk/go/sdktest"
)

var (
	buildOnce sync.Once
	wasmBin   []byte
)

func pluginWasm(t *testing.T) []byte {
	t.Helper()
	buildOnce.Do(func() { wasmBin = sdktest.Build(t, ".") })
	return wasmBin
}

func harness(t *testing.T, config, peer string) *sdktest.Harness {
	t.Helper()
	return sdktest.New(t, pluginWasm(t), sdktest.Options{Config: config, Properties: map[string]string{
		"source.address":          peer,
		"wasmgate.route.template": "/admin/{id}",
	}})
}

func TestAllowDeny(t *testing.T) {
	cfg := `{"allow":["10.0.0.0/8","2001:db8::/32","192.0.2.7"],"deny":["10.66.0.0/16","2001:db8:bad::/48"]}`
	cases := []struct {
		peer string
		want int
	}{
		{"10.1.2.3:5000", 200},
		{"10.66.1.1:5000", 403}, // deny wins over allow
		{"192.0.2.7:1", 200},
		{"192.0.2.8:1", 403}, // default deny with an allow list
		{"[2001:db8::1]:443", 200},
		{"[2001:db8:bad::1]:443", 403},
		{"[2001:db9::1]:443", 403},
		{"[::ffff:10.1.2.3]:80", 200}, // IPv4-mapped IPv6 is IPv4
		{"[fe80::1%eth0]:80", 403},
		{"10.1.2.3", 200}, // no port
		{"not-an-ip:80", 403},
		{"", 403},
		{"10.1.2.3.4:80", 403},
	}
	for _, tc := range cases {
		t.Run(tc.peer, func(t *testing.T) {
			h := harness(t, cfg, tc.peer)
			r := h.Do(&sdktest.Request{})
			if r.Err != nil || r.Status != tc.want {
				t.Fatalf("peer %q: %d %v, want %d", tc.peer, r.Status, r.Err, tc.want)
			}
			if tc.want == 403 && (string(r.Body) != "{\"message\":\"Forbidden\"}\n" || r.Header("content-type") != "application/json" || r.Upstream != nil) {
				t.Fatalf("403: body %q upstream %v", r.Body, r.Upstream)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	cases := []struct {
		cfg, peer string
		want      int
	}{
		{`{"deny":["203.0.113.0/24"]}`, "203.0.113.9:1", 403},
		{`{"deny":["203.0.113.0/24"]}`, "198.51.100.1:1", 200}, // deny list only: default allow
		{`{"allow":["203.0.113.0/24"],"default":"allow"}`, "198.51.100.1:1", 200},
		{`{"deny":["203.0.113.0/24"],"default":"deny"}`, "198.51.100.1:1", 403},
		{`{"default":"deny"}`, "198.51.100.1:1", 403},
		{`{"allow":["0.0.0.0/0"]}`, "[2001:db8::1]:1", 403}, // an IPv4 list does not match IPv6
		{`{"allow":["::/0"]}`, "[2001:db8::1]:1", 200},
	}
	for _, tc := range cases {
		h := harness(t, tc.cfg, tc.peer)
		if r := h.Do(&sdktest.Request{}); r.Status != tc.want {
			t.Errorf("%s from %s: %d, want %d", tc.cfg, tc.peer, r.Status, tc.want)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	cfg := `{"allow":["198.51.100.0/24","2001:db8::/32"],"trusted_proxies":["10.0.0.0/8","fd00::/8"]}`
	cases := []struct {
		name, peer string
		xff        []string
		want       int
	}{
		{"direct client", "198.51.100.5:1", nil, 200},
		{"through a trusted proxy", "10.0.0.1:1", []string{"198.51.100.5"}, 200},
		{"two trusted proxies", "10.0.0.1:1", []string{"198.51.100.5, 10.0.0.2"}, 200},
		{"spoofed entry left of the real client", "10.0.0.1:1", []string{"198.51.100.5, 203.0.113.9"}, 403},
		{"spoofed XFF from an untrusted peer", "203.0.113.9:1", []string{"198.51.100.5"}, 403},
		{"spoofed XFF from an allowed untrusted peer is ignored", "198.51.100.5:1", []string{"203.0.113.9"}, 200},
		{"two headers", "10.0.0.1:1", []string{"203.0.113.9", "198.51.100.5"}, 200},
		{"IPv6 through an IPv6 proxy", "[fd00::1]:1", []string{"2001:db8::7"}, 200},
		{"IPv6 with brackets and port", "[fd00::1]:1", []string{"[2001:db8::7]:4711"}, 200},
		{"malformed hop stops at the trusted address", "10.0.0.1:1", []string{"198.51.100.5, garbage, 10.0.0.2"}, 403},
		{"no header: the proxy itself", "10.0.0.1:1", nil, 403},
		{"empty header", "10.0.0.1:1", []string{""}, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := harness(t, cfg, tc.peer)
			var hdr [][2]string
			for _, v := range tc.xff {
				hdr = append(hdr, [2]string{"x-forwarded-for", v})
			}
			if r := h.Do(&sdktest.Request{Headers: hdr}); r.Status != tc.want {
				t.Fatalf("%d, want %d", r.Status, tc.want)
			}
		})
	}
}

func TestForwardedHeader(t *testing.T) {
	cfg := `{"allow":["198.51.100.0/24","2001:db8::/32"],"trusted_proxies":["10.0.0.0/8"],"client_ip_header":"Forwarded"}`
	cases := []struct {
		fwd  string
		want int
	}{
		{`for=198.51.100.5;proto=https`, 200},
		{`for="[2001:db8:cafe::17]:4711"`, 200},
		{`for=203.0.113.9, for=198.51.100.5;by=10.0.0.1`, 200},
		{`for=198.51.100.5, for=203.0.113.9`, 403},
		{`for=unknown`, 403},
		{`for=_hidden`, 403},
		{`proto=https`, 403},
	}
	for _, tc := range cases {
		h := harness(t, cfg, "10.0.0.1:1")
		r := h.Do(&sdktest.Request{Headers: [][2]string{{"forwarded", tc.fwd}, {"x-forwarded-for", "198.51.100.5"}}})
		if r.Status != tc.want {
			t.Errorf("Forwarded: %s: %d, want %d", tc.fwd, r.Status, tc.want)
		}
	}
}

func TestRoutes(t *testing.T) {
	cfg := `{"deny":["203.0.113.0/24"],"routes":{"DELETE /admin/{id}":{"allow":["10.0.0.0/8"]},"GET":{"default":"allow"}}}`
	cases := []struct {
		method, peer string
		want         int
	}{
		{"POST", "203.0.113.1:1", 403},
		{"GET", "203.0.113.1:1", 200}, // the GET override replaces the deny list
		{"DELETE", "10.1.1.1:1", 200},
		{"DELETE", "198.51.100.1:1", 403},
	}
	for _, tc := range cases {
		h := harness(t, cfg, tc.peer)
		if r := h.Do(&sdktest.Request{Method: tc.method, Path: "/admin/1"}); r.Status != tc.want {
			t.Errorf("%s from %s: %d, want %d", tc.method, tc.peer, r.Status, tc.want)
		}
	}
}

func TestBadConfig(t *testing.T) {
	cases := []struct{ config, want string }{
		{``, "configuration is empty"},
		{`{}`, `give "allow", "deny" or "default"`},
		{`{"allow":["10.0.0.0/8"],"x":1}`, `unknown field "x"`},
		{`{"allow":["10.0.0.0/33"]}`, `allow[0]: "10.0.0.0/33" is not a CIDR`},
		{`{"allow":["10.0.0.1/8"]}`, `did you mean 10.0.0.0/8`},
		{`{"deny":["10.0.0.0/8","bogus"]}`, `deny[1]: "bogus" is not an IP address or CIDR`},
		{`{"allow":["10.0.0.0/8"],"default":"maybe"}`, `"default" "maybe"`},
		{`{"allow":["10.0.0.0/8"],"client_ip_header":"x-forwarded-for"}`, `needs "trusted_proxies"`},
		{`{"allow":["10.0.0.0/8"],"trusted_proxies":["10.0.0.0/8"],"client_ip_header":"x-real-ip"}`, `"client_ip_header" "x-real-ip"`},
		{`{"allow":["10.0.0.0/8"],"trusted_proxies":["x"]}`, `trusted_proxies[0]`},
		{`{"allow":["10.0.0.0/8"],"routes":{"get":{"default":"allow"}}}`, `routes key "get"`},
		{`{"allow":["10.0.0.0/8"],"routes":{"GET /a":{"allow":["1.2.3.4/40"]}}}`, `routes[GET /a].allow[0]`},
	}
	for _, tc := range cases {
		_, err := sdktest.NewE(t, pluginWasm(t), sdktest.Options{Config: tc.config})
		if !errors.Is(err, wasm.ErrPluginRejected) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %s: %v, want rejection with %q", tc.config, err, tc.want)
		}
	}
}

// TestIPSet checks the compiled ranges natively against a linear scan.
func TestIPSet(t *testing.T) {
	list := []string{"10.0.0.0/8", "10.1.0.0/16", "11.0.0.0/8", "192.168.1.0/24", "192.168.3.0/24", "0.0.0.0/32", "255.255.255.255", "2001:db8::/32", "::1", "ffff::/16"}
	var ps []netip.Prefix
	for _, s := range list {
		p, err := parsePrefix(s)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	set := compile(ps)
	if len(set.v4) != 5 { // 10/8 and 11/8 merge
		t.Fatalf("v4 ranges %v", set.v4)
	}
	for _, s := range []string{"9.255.255.255", "10.0.0.0", "11.255.255.255", "12.0.0.0", "192.168.1.255", "192.168.2.0", "192.168.3.1", "0.0.0.0", "0.0.0.1", "255.255.255.255", "255.255.255.254",
		"2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::", "::1", "::2", "ffff:ffff::1", "fffe::1"} {
		a := netip.MustParseAddr(s)
		want := false
		for _, p := range ps {
			want = want || p.Contains(a)
		}
		if got := set.contains(a); got != want {
			t.Errorf("contains(%s) = %v, want %v", s, got, want)
		}
	}
}
