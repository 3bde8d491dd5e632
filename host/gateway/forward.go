package gateway

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// ParseTrustedProxies parses a list of CIDRs (or single addresses) for
// Options.TrustedProxies.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want a CIDR (10.0.0.0/8) or an address", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// trusted reports whether the peer address (ip:port) is a trusted proxy.
func (g *Gateway) trusted(remote string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}, false
	}
	a := ap.Addr().Unmap()
	for _, p := range g.opts.TrustedProxies {
		if p.Contains(a) {
			return a, true
		}
	}
	return a, false
}

// setForwarded writes the forwarding headers of an upstream request:
// X-Forwarded-For/Proto/Host, Forwarded (RFC 7239) and Via. What a client
// sent in the X-Forwarded-* and Forwarded headers is kept (and extended)
// only when the client is a trusted proxy (Options.TrustedProxies); from
// anyone else it is replaced, so a client cannot make the upstream
// believe it came from elsewhere. Via, which records hops and grants
// nothing, is always extended. finishOut has removed the client's
// X-Forwarded-* and Forwarded headers when the peer is not trusted; peer
// is its address (invalid when RemoteAddr is not an address and port).
func (g *Gateway) setForwarded(out *http.Request, rc *reqCtx, peer netip.Addr) {
	r := rc.r
	h := out.Header
	ip := ""
	if peer.IsValid() {
		ip = peer.String()
	} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		ip = host
	}
	if ip != "" {
		if prior := h["X-Forwarded-For"]; len(prior) > 0 {
			h.Set("X-Forwarded-For", strings.Join(prior, ", ")+", "+ip)
		} else {
			h.Set("X-Forwarded-For", ip)
		}
	}
	if h.Get("X-Forwarded-Proto") == "" {
		h.Set("X-Forwarded-Proto", rc.scheme)
	}
	if h.Get("X-Forwarded-Host") == "" {
		h.Set("X-Forwarded-Host", r.Host)
	}
	node := ip
	if peer.Is6() {
		node = `"[` + ip + `]"`
	}
	elem := "for=" + node + ";proto=" + rc.scheme + ";host=" + quoteForwarded(r.Host)
	if prior := h["Forwarded"]; len(prior) > 0 {
		elem = strings.Join(prior, ", ") + ", " + elem
	}
	h.Set("Forwarded", elem)
	via := strconv.Itoa(r.ProtoMajor)
	if r.ProtoMajor == 1 {
		via += "." + strconv.Itoa(r.ProtoMinor)
	}
	via += " wasmgate"
	if prior := h["Via"]; len(prior) > 0 {
		via = strings.Join(prior, ", ") + ", " + via
	}
	h.Set("Via", via)
}

// quoteForwarded quotes a Forwarded parameter value unless it is a token.
func quoteForwarded(s string) string {
	for _, c := range s {
		if !(c == '-' || c == '.' || c == '_' || c == '~' || c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' || c == '+' || c == '^' || c == '`' || c == '|' ||
			(c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return strconv.Quote(s)
		}
	}
	return s
}
