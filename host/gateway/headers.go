package gateway

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wasmgate/wasmgate/host/wasm"
)

// nameCache remembers a conversion of header names (to lower case for
// plugins, to canonical form for net/http) so converting a request's
// headers does not allocate per header. Reads are a plain map lookup in
// an immutable map; a new name copies the map (names are few and settle
// quickly). It is bounded: names are client and plugin input.
type nameCache struct {
	conv func(string) string
	m    atomic.Pointer[map[string]string] // name → converted; never written once published
	mu   sync.Mutex                        // serializes copies
}

const maxCachedNames = 4096

func (c *nameCache) get(k string) string {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	return c.add(k)
}

func (c *nameCache) add(k string) string {
	v := c.conv(k)
	c.mu.Lock()
	defer c.mu.Unlock()
	var old map[string]string
	if m := c.m.Load(); m != nil {
		old = *m
	}
	if _, ok := old[k]; ok || len(old) >= maxCachedNames {
		return v
	}
	m := make(map[string]string, len(old)+1)
	for ok, ov := range old {
		m[ok] = ov
	}
	// Copies: k and v may share memory with a larger string (a header a
	// plugin wrote is one string of name and value), which the cache
	// would otherwise keep alive.
	ck := strings.Clone(k)
	m[ck] = c.conv(ck)
	c.m.Store(&m)
	return v
}

var (
	lowerNames     = nameCache{conv: strings.ToLower}
	canonicalNames = nameCache{conv: http.CanonicalHeaderKey}
)

func lowerName(k string) string { return lowerNames.get(k) }

// isHopHeader reports the headers that are connection-specific and
// never forwarded (RFC 9110 7.6.1).
func isHopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// removeHopHeaders deletes the hop-by-hop headers from h, and those its
// Connection header names.
func removeHopHeaders(h http.Header) { scrubHeaders(h, false) }

// scrubHeaders is removeHopHeaders that also deletes the X-Forwarded-*
// and Forwarded headers when forwarding is set (a request from a peer
// that is not a trusted proxy). It walks h once instead of deleting each
// name: deleting an absent key from a map of more than 8 costs a hash
// and a probe, and most of these are absent from most requests.
func scrubHeaders(h http.Header, forwarding bool) {
	for _, f := range h["Connection"] {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for k := range h {
		if isHopHeader(k) || forwarding && k != "Via" && isForwardingHeader(k) {
			delete(h, k)
		}
	}
}

// fieldsSpare is room for the headers plugins add, so their first adds
// do not copy the fields.
const fieldsSpare = 6

// requestFields renders a request's headers into f the way Proxy-Wasm
// plugins see them (as in Envoy): pseudo-headers first, then lower-case
// names. f is the request's own (reqCtx.reqFields), not an allocation.
// It reports whether the request has a forwarding header
// (pipelineRequest copies them only then).
func requestFields(f *wasm.Fields, r *http.Request, scheme, path string) (forwarded bool) {
	f.Pairs = make([][2]string, 0, 4+len(r.Header)+fieldsSpare)
	f.Pairs = append(f.Pairs,
		[2]string{":method", r.Method},
		[2]string{":path", path},
		[2]string{":authority", r.Host},
		[2]string{":scheme", scheme},
	)
	for k, vs := range r.Header {
		lk := lowerName(k)
		for _, v := range vs {
			f.Pairs = append(f.Pairs, [2]string{lk, v})
		}
		forwarded = forwarded || isForwardingHeader(k)
	}
	return forwarded
}

// responseFields renders response headers into f with the ":status"
// pseudo-header.
func responseFields(f *wasm.Fields, status string, h http.Header) *wasm.Fields {
	f.Pairs = make([][2]string, 0, 1+len(h)+fieldsSpare)
	f.Pairs = append(f.Pairs, [2]string{":status", status})
	for k, vs := range h {
		lk := lowerName(k)
		for _, v := range vs {
			f.Pairs = append(f.Pairs, [2]string{lk, v})
		}
	}
	return f
}

// toHeader adds the regular (non-pseudo) fields to h, with one allocation
// for all the names that have a single value. With forwarding, the
// forwarding headers among the fields are left out (see
// pipelineRequest).
func toHeader(f *wasm.Fields, h http.Header, forwarding bool) {
	vals := make([]string, 0, len(f.Pairs))
	for _, p := range f.Pairs {
		if len(p[0]) > 0 && p[0][0] == ':' {
			continue
		}
		k := canonicalNames.get(p[0])
		if forwarding && isForwardingHeader(k) {
			continue
		}
		if cur, ok := h[k]; ok {
			h[k] = append(cur, p[1])
			continue
		}
		vals = append(vals, p[1])
		n := len(vals)
		h[k] = vals[n-1 : n : n] // capped: appending a second value copies
	}
}
