package gateway

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// TestNameCacheKeepsItsOwnCopies: a name cut from a larger string (a header
// a plugin wrote is one string of name and value) is cached as a copy, so
// the cache does not keep the larger string alive; and the cache converts.
func TestNameCacheKeepsItsOwnCopies(t *testing.T) {
	c := nameCache{conv: http.CanonicalHeaderKey}
	kv := "x-plugin-header" + strings.Repeat("v", 1<<16)
	name := kv[:len("x-plugin-header")]
	if got := c.get(name); got != "X-Plugin-Header" {
		t.Fatalf("converted %q to %q", name, got)
	}
	for ks, vs := range *c.m.Load() {
		for _, s := range []string{ks, vs} {
			if p := uintptr(unsafe.Pointer(unsafe.StringData(s))); p >= uintptr(unsafe.Pointer(unsafe.StringData(kv))) && p < uintptr(unsafe.Pointer(unsafe.StringData(kv)))+uintptr(len(kv)) {
				t.Fatalf("cached %q shares the caller's string", s)
			}
		}
	}
	if got := c.get(name); got != "X-Plugin-Header" {
		t.Fatalf("second lookup: %q", got)
	}
}

// TestNameCacheIsBounded: names past maxCachedNames (a client sending
// new names on every request) are converted but not kept, and a published
// map is never changed (readers hold it without a lock).
func TestNameCacheIsBounded(t *testing.T) {
	c := nameCache{conv: strings.ToLower}
	c.get("A")
	first := *c.m.Load()
	for i := range maxCachedNames + 100 {
		n := "X-Name-" + strconv.Itoa(i)
		if got := c.get(n); got != strings.ToLower(n) {
			t.Fatalf("converted %q to %q", n, got)
		}
	}
	if n := len(*c.m.Load()); n != maxCachedNames {
		t.Fatalf("cache holds %d names, want %d", n, maxCachedNames)
	}
	if len(first) != 1 || first["A"] != "a" {
		t.Fatalf("a published map changed: %v", first)
	}
}

// TestScrubHeaders: hop-by-hop headers and the ones Connection names go;
// forwarding headers go only when asked (an untrusted peer), Via never.
func TestScrubHeaders(t *testing.T) {
	base := func() http.Header {
		return http.Header{
			"Connection": {"close, X-Hop"}, "X-Hop": {"1"}, "Keep-Alive": {"timeout=5"}, "Te": {"trailers"},
			"Transfer-Encoding": {"chunked"}, "Upgrade": {"h2c"}, "Proxy-Authorization": {"x"},
			"X-Forwarded-For": {"1.2.3.4"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"a"},
			"Forwarded": {"for=1.2.3.4"}, "Via": {"1.1 other"}, "Accept": {"*/*"}, "X-Keep": {"yes"},
		}
	}
	keys := func(h http.Header) string {
		var ks []string
		for k := range h {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return strings.Join(ks, ",")
	}
	for _, k := range forwardingHeaders {
		if !isForwardingHeader(k) {
			t.Errorf("isForwardingHeader(%q) is false: the switch and forwardingHeaders disagree", k)
		}
	}
	for _, tc := range []struct {
		forwarding bool
		want       string
	}{
		{false, "Accept,Forwarded,Via,X-Forwarded-For,X-Forwarded-Host,X-Forwarded-Proto,X-Keep"},
		{true, "Accept,Via,X-Keep"},
	} {
		h := base()
		scrubHeaders(h, tc.forwarding)
		if got := keys(h); got != tc.want {
			t.Errorf("forwarding=%v: left %s, want %s", tc.forwarding, got, tc.want)
		}
	}
}
