package gateway

import (
	"net/http"
	"strings"
	"sync"

	"github.com/wasmgate/wasmgate/host/wasm"
)

// lowerNames caches the lower-case form of canonical header names so
// converting a request's headers for plugins does not allocate per header.
var lowerNames sync.Map // canonical → lower

const maxLowerNames = 4096

var lowerCount int64
var lowerMu sync.Mutex

func lowerName(k string) string {
	if v, ok := lowerNames.Load(k); ok {
		return v.(string)
	}
	l := strings.ToLower(k)
	lowerMu.Lock()
	if lowerCount < maxLowerNames {
		lowerNames.Store(k, l)
		lowerCount++
	}
	lowerMu.Unlock()
	return l
}

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

// toHeader copies regular (non-pseudo) fields into h.
func toHeader(f *wasm.Fields, h http.Header) {
	for _, p := range f.Pairs {
		if len(p[0]) > 0 && p[0][0] == ':' {
			continue
		}
		h[http.CanonicalHeaderKey(p[0])] = append(h[http.CanonicalHeaderKey(p[0])], p[1])
	}
}
