package gateway

import (
	"net/http"
	"strings"
	"sync"

	"github.com/wasmgate/wasmgate/host/wasm"
)

// nameCache remembers a conversion of header names (to lower case for
// plugins, to canonical form for net/http) so converting a request's
// headers does not allocate per header. It is bounded: names are client
// and plugin input.
type nameCache struct {
	conv func(string) string
	m    sync.Map // name → converted
	mu   sync.Mutex
	n    int
}

const maxCachedNames = 4096

func (c *nameCache) get(k string) string {
	if v, ok := c.m.Load(k); ok {
		return v.(string)
	}
	v := c.conv(k)
	c.mu.Lock()
	if c.n < maxCachedNames {
		// Copies: k and v may share memory with a larger string (a
		// header a plugin wrote is one string of name and value), which
		// the cache would otherwise keep alive.
		ck := strings.Clone(k)
		c.m.Store(ck, c.conv(ck))
		c.n++
	}
	c.mu.Unlock()
	return v
}

var (
	lowerNames     = nameCache{conv: strings.ToLower}
	canonicalNames = nameCache{conv: http.CanonicalHeaderKey}
)

func lowerName(k string) string { return lowerNames.get(k) }

// hopHeaders are connection-specific and never forwarded (RFC 9110 7.6.1).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

// requestFields renders a request's headers the way Proxy-Wasm plugins see
// them (as in Envoy): pseudo-headers first, then lower-case names.
func requestFields(r *http.Request, scheme, path string) *wasm.Fields {
	f := &wasm.Fields{Pairs: make([][2]string, 0, 4+len(r.Header))}
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
	}
	return f
}

// responseFields renders response headers with the ":status" pseudo-header.
func responseFields(status string, h http.Header) *wasm.Fields {
	f := &wasm.Fields{Pairs: make([][2]string, 0, 1+len(h))}
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
// for all the names that have a single value.
func toHeader(f *wasm.Fields, h http.Header) {
	vals := make([]string, 0, len(f.Pairs))
	for _, p := range f.Pairs {
		if len(p[0]) > 0 && p[0][0] == ':' {
			continue
		}
		k := canonicalNames.get(p[0])
		if cur, ok := h[k]; ok {
			h[k] = append(cur, p[1])
			continue
		}
		vals = append(vals, p[1])
		n := len(vals)
		h[k] = vals[n-1 : n : n] // capped: appending a second value copies
	}
}
