package gateway

import (
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/host/policy/cache"
)

func TestCaches(t *testing.T) {
	c := &Caches{DefaultMB: 2}
	defer c.Close()
	if len(c.Stats()) != 0 {
		t.Fatal("a cache exists before any use")
	}
	prod := c.For("prod")
	if prod == nil || prod.MaxBytes() != 2<<20 {
		t.Fatalf("prod cache %v", prod)
	}
	if c.For("prod") != prod {
		t.Fatal("a second cache for one stage")
	}
	if !prod.Set("k", &cache.Entry{Status: 200, Body: []byte("v")}, time.Minute) {
		t.Fatal("set refused")
	}

	// Off: no cache on the request path; the entries wait for "on".
	c.Configure(map[string]CacheSetting{"prod": {Enabled: false}, "dev": {Enabled: true, SizeMB: 5}})
	if got := c.For("prod"); got != nil {
		t.Fatal("prod's cache is off but still served")
	}
	if dev := c.For("dev"); dev == nil || dev.MaxBytes() != 5<<20 {
		t.Fatalf("dev cache %v", dev)
	}
	c.Configure(map[string]CacheSetting{"prod": {Enabled: true, SizeMB: 3}})
	again := c.For("prod")
	if again != prod || again.MaxBytes() != 3<<20 {
		t.Fatalf("prod turned on again: same cache %v, size %d", again == prod, again.MaxBytes())
	}
	if _, ok := again.Get("k"); !ok {
		t.Fatal("turning the cache off and on lost its entries")
	}
	// A stage without a setting gets the default size.
	c.Configure(nil)
	if prod.MaxBytes() != 2<<20 {
		t.Fatalf("back to the default size: %d", prod.MaxBytes())
	}
	if s := c.Stats(); len(s) != 2 || s["prod"].Hits == 0 {
		t.Fatalf("stats %+v", s)
	}
	var nilCaches *Caches
	if nilCaches.For("prod") != nil {
		t.Fatal("a nil Caches served a cache")
	}
}
