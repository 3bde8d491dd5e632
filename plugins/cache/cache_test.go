package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/host/policy/cache"
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

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// upstream counts calls and answers with the call number; its response
// headers come from the request's x-respond header ("name: value; ...")
// and its status from x-status.
type upstream struct {
	mu    sync.Mutex
	calls int
}

func (u *upstream) answer(r *sdktest.Request) *sdktest.Response {
	u.mu.Lock()
	u.calls++
	n := u.calls
	u.mu.Unlock()
	resp := &sdktest.Response{Status: 200, Body: []byte(fmt.Sprintf("call %d", n))}
	if s := r.Header("x-status"); s != "" {
		fmt.Sscan(s, &resp.Status)
	}
	for _, h := range strings.Split(r.Header("x-respond"), ";") {
		if k, v, ok := strings.Cut(h, ":"); ok {
			resp.Headers = append(resp.Headers, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
		}
	}
	return resp
}

func harness(t *testing.T, config string, props map[string]string) (*sdktest.Harness, *upstream, *clock) {
	t.Helper()
	clk := &clock{now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	c, err := cache.New(cache.Options{MaxBytes: 1 << 20, Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	up := &upstream{}
	p := map[string]string{"wasmgate.route.template": "/items/{id}"}
	for k, v := range props {
		p[k] = v
	}
	h := sdktest.New(t, pluginWasm(t), sdktest.Options{Config: config, Cache: c, Upstream: up.answer, Properties: p})
	return h, up, clk
}

func get(path string, hdr ...string) *sdktest.Request {
	r := &sdktest.Request{Path: path}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Headers = append(r.Headers, [2]string{strings.ToLower(hdr[i]), hdr[i+1]})
	}
	return r
}

func TestConfig(t *testing.T) {
	good := []string{``, `{}`, `{"ttl": 0}`, `{"ttl": 3600}`, `{"key": {"query": ["*"], "headers": ["Accept"]}}`,
		`{"methods": {"GET /items/{id}": {"ttl": 10}, "HEAD": {"ttl": 0}}}`, `{"status_codes": [200, 404]}`,
		`{"invalidation": "require_auth", "invalidation_keys": ["k-1"]}`, `{"invalidation": "allow"}`, `{"header": ""}`}
	for _, c := range good {
		if _, err := parseConfig([]byte(c)); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
	bad := []struct{ config, want string }{
		{`{"ttl": 3601}`, `"ttl" 3601 must be between 0 (off) and 3600`},
		{`{"ttl": -1}`, `between 0 (off) and 3600`},
		{`{"tll": 10}`, `unknown field "tll"`},
		{`{"methods": {"POST": {"ttl": 10}}}`, `only GET and HEAD responses are cached`},
		{`{"methods": {"GET": {}}}`, `needs "ttl"`},
		{`{"methods": {"GET items": {"ttl": 1}}}`, `must start with "/"`},
		{`{"key": {"query": ["a=b"]}}`, `want a query parameter name`},
		{`{"key": {"headers": [":path"]}}`, `want a request header name`},
		{`{"status_codes": [206]}`, `206 cannot be cached`},
		{`{"invalidation": "sometimes"}`, `want "require_auth" (default), "allow" or "ignore"`},
		{`{"unauthorized": "refuse"}`, `want "ignore" (serve from the cache, default), "warn"`},
		{`{"invalidation": "allow", "invalidation_keys": ["k-1"]}`, `only applies with "invalidation": "require_auth"`},
		{`{"header": "X Cache"}`, `is not a header name`},
		{`[1]`, `not valid JSON for cache`},
	}
	for _, c := range bad {
		_, err := parseConfig([]byte(c.config))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.config, err, c.want)
		}
	}
	// The host refuses the plugin with a bad configuration, with the reason.
	if _, err := sdktest.NewE(t, pluginWasm(t), sdktest.Options{Config: `{"ttl": 7200}`}); err == nil || !strings.Contains(err.Error(), "3600") {
		t.Fatalf("bad configuration accepted by the host: %v", err)
	}
}

func TestHitMissAndExpiry(t *testing.T) {
	h, up, clk := harness(t, `{"ttl": 30}`, nil)
	r := h.Do(get("/items/1"))
	if r.Err != nil || r.Status != 200 || r.Header("x-cache") != "Miss" || string(r.Body) != "call 1" {
		t.Fatalf("miss: %v %d %q %q", r.Err, r.Status, r.Header("x-cache"), r.Body)
	}
	clk.add(10 * time.Second)
	r = h.Do(get("/items/1"))
	if r.Err != nil || !r.Local || r.Header("x-cache") != "Hit" || r.Header("age") != "10" || string(r.Body) != "call 1" || r.Upstream != nil {
		t.Fatalf("hit: %v local=%v x-cache %q age %q body %q", r.Err, r.Local, r.Header("x-cache"), r.Header("age"), r.Body)
	}
	clk.add(21 * time.Second)
	if r = h.Do(get("/items/1")); r.Header("x-cache") != "Miss" || string(r.Body) != "call 2" || up.calls != 2 {
		t.Fatalf("after the TTL: x-cache %q body %q calls %d", r.Header("x-cache"), r.Body, up.calls)
	}
}

func TestWhatIsStored(t *testing.T) {
	cases := []struct {
		name   string
		config string
		req    *sdktest.Request
		stored bool
	}{
		{"200", `{}`, get("/a"), true},
		{"404 by default", `{}`, get("/a", "x-status", "404"), true},
		{"500", `{}`, get("/a", "x-status", "500"), false},
		{"404 not listed", `{"status_codes": [200]}`, get("/a", "x-status", "404"), false},
		{"no-store", `{}`, get("/a", "x-respond", "cache-control: no-store"), false},
		{"private", `{}`, get("/a", "x-respond", "cache-control: private, max-age=60"), false},
		{"upstream ignored", `{"ignore_upstream_cache_control": true}`, get("/a", "x-respond", "cache-control: no-store"), true},
		{"max-age=0", `{}`, get("/a", "x-respond", "cache-control: max-age=0"), false},
		{"set-cookie", `{}`, get("/a", "x-respond", "set-cookie: id=1"), false},
		{"set-cookie allowed", `{"cache_set_cookie": true}`, get("/a", "x-respond", "set-cookie: id=1"), true},
		{"vary on a key header", `{"key": {"headers": ["accept"]}}`, get("/a", "x-respond", "vary: Accept"), true},
		{"vary on another header", `{}`, get("/a", "x-respond", "vary: Accept-Encoding"), false},
		{"ttl 0", `{"ttl": 0}`, get("/a"), false},
		{"method override off", `{"methods": {"GET /items/{id}": {"ttl": 0}}}`, get("/a"), false},
		{"POST", `{}`, &sdktest.Request{Method: "POST", Path: "/a", Body: []byte("{}")}, false},
		{"authorization not in the key", `{}`, get("/a", "authorization", "Bearer t"), false},
		{"authorization in the key", `{"key": {"headers": ["authorization"]}}`, get("/a", "authorization", "Bearer t"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, up, _ := harness(t, c.config, nil)
			h.Do(c.req)
			again := *c.req
			r := h.Do(&again)
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if got := up.calls == 1; got != c.stored {
				t.Fatalf("stored = %v (upstream calls %d, second x-cache %q), want %v", got, up.calls, r.Header("x-cache"), c.stored)
			}
		})
	}
}

func TestKey(t *testing.T) {
	h, up, _ := harness(t, `{"key": {"query": ["page"], "headers": ["accept-language"]}}`, nil)
	steps := []struct {
		req  *sdktest.Request
		want string
	}{
		{get("/items?page=1&utm=x"), "Miss"},
		{get("/items?utm=y&page=1"), "Hit"},
		{get("/items?page=2"), "Miss"},
		{get("/items?page=1", "accept-language", "de"), "Miss"},
		{get("/items?page=1", "accept-language", "de"), "Hit"},
		{get("/other?page=1"), "Miss"},
	}
	for i, s := range steps {
		if r := h.Do(s.req); r.Header("x-cache") != s.want {
			t.Fatalf("step %d %s: x-cache %q, want %q", i, s.req.Path, r.Header("x-cache"), s.want)
		}
	}
	if up.calls != 4 {
		t.Fatalf("upstream calls %d, want 4", up.calls)
	}
}

func TestInvalidation(t *testing.T) {
	refresh := []string{"cache-control", "max-age=0"}
	t.Run("require_auth without a key, fail", func(t *testing.T) {
		h, _, _ := harness(t, `{"unauthorized": "fail"}`, nil)
		h.Do(get("/a"))
		if r := h.Do(get("/a", refresh...)); r.Status != 403 || !strings.Contains(string(r.Body), "Unauthorized cache invalidation") {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("require_auth with an allowed key", func(t *testing.T) {
		h, up, _ := harness(t, `{"invalidation_keys": ["k-7"]}`, map[string]string{"wasmgate.api_key.id": "k-7"})
		h.Do(get("/a"))
		if r := h.Do(get("/a", refresh...)); r.Status != 200 || r.Header("x-cache") != "Miss" || up.calls != 2 {
			t.Fatalf("%d x-cache %q calls %d", r.Status, r.Header("x-cache"), up.calls)
		}
		if r := h.Do(get("/a")); r.Header("x-cache") != "Hit" || string(r.Body) != "call 2" {
			t.Fatalf("after the refresh: x-cache %q body %q", r.Header("x-cache"), r.Body)
		}
	})
	t.Run("require_auth with another key, ignore (default)", func(t *testing.T) {
		h, _, _ := harness(t, `{"invalidation_keys": ["k-7"]}`, map[string]string{"wasmgate.api_key.id": "k-8"})
		h.Do(get("/a"))
		if r := h.Do(get("/a", refresh...)); r.Status != 200 || r.Header("x-cache") != "Hit" || r.Header("x-cache-invalidation") != "" {
			t.Fatalf("%d x-cache %q", r.Status, r.Header("x-cache"))
		}
	})
	t.Run("require_auth without a key, warn", func(t *testing.T) {
		h, up, _ := harness(t, `{"unauthorized": "warn"}`, nil)
		h.Do(get("/a"))
		if r := h.Do(get("/a", refresh...)); r.Status != 200 || r.Header("x-cache") != "Hit" || r.Header("x-cache-invalidation") != "unauthorized" || up.calls != 1 {
			t.Fatalf("%d x-cache %q x-cache-invalidation %q calls %d", r.Status, r.Header("x-cache"), r.Header("x-cache-invalidation"), up.calls)
		}
	})
	t.Run("ignore", func(t *testing.T) {
		h, _, _ := harness(t, `{"invalidation": "ignore"}`, nil)
		h.Do(get("/a"))
		if r := h.Do(get("/a", "cache-control", "no-cache")); r.Header("x-cache") != "Hit" {
			t.Fatalf("x-cache %q", r.Header("x-cache"))
		}
	})
}

// TestCacheOff: without a cache (a stage with its cache off) the plugin
// lets every request through untouched.
func TestCacheOff(t *testing.T) {
	up := &upstream{}
	h := sdktest.New(t, pluginWasm(t), sdktest.Options{Config: `{}`, Upstream: up.answer, NoCache: true})
	for i := 0; i < 2; i++ {
		r := h.Do(get("/a", "cache-control", "max-age=0"))
		if r.Err != nil || r.Status != 200 || r.Header("x-cache") != "" || r.Local {
			t.Fatalf("request %d: %v %d x-cache %q", i, r.Err, r.Status, r.Header("x-cache"))
		}
	}
	if up.calls != 2 {
		t.Fatalf("upstream calls %d, want 2", up.calls)
	}
}
