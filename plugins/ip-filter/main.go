// Command ip-filter is wasmgate's IP allow/deny list: CIDR lists (IPv4
// and IPv6), deny wins, a default action, the client's address from the
// connection or, behind trusted proxies only, from X-Forwarded-For or
// Forwarded; refused requests get 403 {"message":"Forbidden"}. See
// README.md.
package main

import (
	"net/netip"
	"strings"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &root{} })
}

type root struct {
	sdk.DefaultRootContext
	http    ctx // every request's context (see NewHTTPContext)
	cfg     *config
	denied  sdk.Counter
	metrics bool
}

func (r *root) OnPluginStart(int) bool {
	data, err := sdk.GetPluginConfiguration()
	if err != nil && err != sdk.ErrNotFound {
		sdk.LogErrorf("ip-filter: cannot read the configuration: %v", err)
		return false
	}
	if r.cfg, err = parseConfig(data); err != nil {
		sdk.LogErrorf("ip-filter: %v", err)
		return false
	}
	sdk.SetHooks(sdk.HookRequestHeaders)
	r.denied, err = sdk.DefineCounterMetric("ip_filter_denied_total")
	r.metrics = err == nil
	return true
}

// SharedHTTPContext gives every request the one context (the plugin keeps
// nothing per request): the SDK then keeps no entry per request
// (sdk.HTTPContextSharer).
func (r *root) SharedHTTPContext() sdk.HTTPContext { return r.NewHTTPContext(0) }

// NewHTTPContext returns the root's one context: it keeps nothing per
// request, and an allocation per request costs a Wasm guest more than the
// rest of its callbacks.
func (r *root) NewHTTPContext(uint32) sdk.HTTPContext {
	r.http.root = r
	return &r.http
}

type ctx struct {
	sdk.DefaultHTTPContext
	root *root
}

var forbidden = []byte(`{"message":"Forbidden"}` + "\n")

func (c *ctx) OnHTTPRequestHeaders(int, bool) sdk.Action {
	cfg := c.root.cfg
	client, ok := c.clientAddr()
	rl := &cfg.rule
	if len(cfg.routes) > 0 {
		method, _ := sdk.GetHTTPRequestHeader(":method")
		route, _ := sdk.GetPropertyString("wasmgate", "route", "template")
		rl = cfg.ruleFor(method, route)
	}
	// An address that cannot be read is refused: it cannot be matched
	// against a deny list.
	if ok && rl.decide(client) {
		return sdk.ActionContinue
	}
	if c.root.metrics {
		_ = c.root.denied.Increment(1)
	}
	_ = sdk.SendHTTPResponse(403, [][2]string{{"content-type", "application/json"}}, forbidden, -1)
	return sdk.ActionPause
}

// clientAddr is the peer's address, or, when the peer is a trusted proxy,
// the address its forwarding header names.
func (c *ctx) clientAddr() (netip.Addr, bool) {
	src, _ := sdk.GetPropertyString("source", "address")
	peer, ok := parseAddr(src)
	cfg := c.root.cfg
	if !ok || cfg.trusted == nil || !cfg.trusted.contains(peer) {
		return peer, ok
	}
	all, err := sdk.GetHTTPRequestHeaders()
	if err != nil {
		return peer, true
	}
	var hops []string
	for _, h := range all {
		if strings.EqualFold(h[0], cfg.header) {
			hops = append(hops, forwardedHops(cfg.header, h[1])...)
		}
	}
	return walk(peer, hops, cfg.trusted)
}

// walk goes through hops right to left, from the peer, skipping trusted
// proxies: the first address that is not one is the client's. A
// malformed hop ends the walk at the last trusted address (nothing left
// of it can be believed); when every hop is trusted, the leftmost is the
// client.
func walk(peer netip.Addr, hops []string, trusted *ipSet) (netip.Addr, bool) {
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseAddr(hops[i])
		if !ok {
			return client, true
		}
		client = a
		if !trusted.contains(a) {
			return a, true
		}
	}
	return client, true
}

// forwardedHops splits one header value into addresses: X-Forwarded-For
// is a comma-separated list; Forwarded (RFC 7239) has for= parameters
// (quoted, "[v6]:port", "unknown" and obfuscated names are kept as
// malformed hops).
func forwardedHops(header, v string) []string {
	var out []string
	for _, elem := range strings.Split(v, ",") {
		if header == "x-forwarded-for" {
			out = append(out, strings.TrimSpace(elem))
			continue
		}
		found := false
		for _, pair := range strings.Split(elem, ";") {
			k, val, _ := strings.Cut(strings.TrimSpace(pair), "=")
			if strings.EqualFold(k, "for") {
				out = append(out, strings.Trim(strings.TrimSpace(val), `"`))
				found = true
				break
			}
		}
		if !found {
			out = append(out, "") // an element without for=: malformed
		}
	}
	return out
}
