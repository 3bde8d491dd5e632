package gateway

import (
	"net/http"
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
	c.m.Range(func(k, v any) bool {
		ks, vs := k.(string), v.(string)
		for _, s := range []string{ks, vs} {
			if p := uintptr(unsafe.Pointer(unsafe.StringData(s))); p >= uintptr(unsafe.Pointer(unsafe.StringData(kv))) && p < uintptr(unsafe.Pointer(unsafe.StringData(kv)))+uintptr(len(kv)) {
				t.Fatalf("cached %q shares the caller's string", s)
			}
		}
		return true
	})
	if got := c.get(name); got != "X-Plugin-Header" {
		t.Fatalf("second lookup: %q", got)
	}
}
