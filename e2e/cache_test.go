package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/host/policy/cache"
	"github.com/wasmgate/wasmgate/internal/redistest"
)

// countingUpstream answers GET /items/... with a body naming the call
// number, after the delay given by the "delay" query parameter (ms). Paths
// under /items/nostore, /items/cookie, /items/fail and /items/big answer
// with no-store, a Set-Cookie, a 500 and a 2 MiB body.
type countingUpstream struct {
	*httptest.Server
	calls atomic.Int64
	mu    sync.Mutex
	paths map[string]int
}

func newCountingUpstream(t *testing.T) *countingUpstream {
	u := &countingUpstream{paths: map[string]int{}}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := u.calls.Add(1)
		u.mu.Lock()
		u.paths[r.URL.Path]++
		u.mu.Unlock()
		if d, err := strconv.Atoi(r.URL.Query().Get("delay")); err == nil {
			time.Sleep(time.Duration(d) * time.Millisecond)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", "yes")
		switch {
		case strings.HasPrefix(r.URL.Path, "/items/nostore"):
			w.Header().Set("Cache-Control", "no-store")
		case strings.HasPrefix(r.URL.Path, "/items/cookie"):
			w.Header().Set("Set-Cookie", "session=secret")
		case strings.HasPrefix(r.URL.Path, "/items/short"):
			w.Header().Set("Cache-Control", "max-age=1")
		case strings.HasPrefix(r.URL.Path, "/items/fail"):
			w.WriteHeader(500)
		case strings.HasPrefix(r.URL.Path, "/items/big"):
			w.Write([]byte(strings.Repeat("x", 2<<20)))
			return
		}
		fmt.Fprintf(w, `{"call":%d,"path":%q,"query":%q}`, n, r.URL.Path, r.URL.RawQuery)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *countingUpstream) count(path string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.paths[path]
}

func cacheDoc(upstream string) string {
	return fmt.Sprintf(`openapi: 3.0.3
info: {title: cached, version: "1"}
x-wasmgate-stages: [{name: prod}]
paths:
  /items/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get:
      x-wasmgate-pipeline: [{plugin: cache, config: {ttl: 60, key: {query: [v], headers: [accept-language]}, unauthorized: fail}}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/items/{id}"}
      responses: {"200": {description: ok}}
    head:
      x-wasmgate-pipeline: [{plugin: cache, config: {ttl: 60}}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/items/{id}"}
      responses: {"200": {description: ok}}
    post:
      x-wasmgate-pipeline: [{plugin: cache, config: {ttl: 60}}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/items/{id}"}
      responses: {"200": {description: ok}}
  /open/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get:
      x-wasmgate-pipeline: [{plugin: cache, config: {invalidation: allow}}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/items/{id}"}
      responses: {"200": {description: ok}}
  /quiet/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get:
      x-wasmgate-pipeline: [{plugin: cache, config: {header: ""}}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/items/{id}"}
      responses: {"200": {description: ok}}
`, upstream)
}

func startCacheGateway(t *testing.T, edit ...func(*gateway.Options)) (*env, *countingUpstream, *stepClock) {
	up := newCountingUpstream(t)
	clock := &stepClock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	caches := &gateway.Caches{DefaultMB: 16, Clock: clock.Now}
	t.Cleanup(caches.Close)
	e := startGateway(t, cacheDoc(up.URL), nil, append([]func(*gateway.Options){func(o *gateway.Options) { o.Caches = caches }}, edit...)...)
	return e, up, clock
}

func TestCacheHitMiss(t *testing.T) {
	e, up, clock := startCacheGateway(t)
	url := e.base + "/prod/items/1"

	first := do(t, nil, "GET", url, nil)
	if first.status != 200 || first.header.Get("X-Cache") != "Miss" {
		t.Fatalf("first: %d X-Cache %q, want 200 Miss: %s", first.status, first.header.Get("X-Cache"), first.body)
	}
	clock.set(clock.Now().Add(5 * time.Second))
	second := do(t, nil, "GET", url, nil)
	if second.status != 200 || second.header.Get("X-Cache") != "Hit" {
		t.Fatalf("second: %d X-Cache %q, want 200 Hit", second.status, second.header.Get("X-Cache"))
	}
	if second.body != first.body {
		t.Fatalf("hit body %q, want the stored %q", second.body, first.body)
	}
	if got := second.header.Get("Age"); got != "5" {
		t.Errorf("Age = %q, want 5", got)
	}
	if second.header.Get("X-Upstream") != "yes" || second.header.Get("Content-Type") != "application/json" {
		t.Errorf("hit lost the upstream headers: %v", second.header)
	}
	if second.header.Get("X-Request-Id") == "" || second.header.Get("X-Request-Id") == first.header.Get("X-Request-Id") {
		t.Errorf("a hit needs its own request id: %q after %q", second.header.Get("X-Request-Id"), first.header.Get("X-Request-Id"))
	}
	if n := up.count("/items/1"); n != 1 {
		t.Fatalf("upstream called %d times, want 1", n)
	}

	// Past the TTL (60 s): fetched again.
	clock.set(clock.Now().Add(61 * time.Second))
	third := do(t, nil, "GET", url, nil)
	if third.header.Get("X-Cache") != "Miss" || up.count("/items/1") != 2 {
		t.Fatalf("after the TTL: X-Cache %q, upstream calls %d; want Miss, 2", third.header.Get("X-Cache"), up.count("/items/1"))
	}
}

func TestCacheKeys(t *testing.T) {
	e, up, _ := startCacheGateway(t)
	get := func(path string, hdr ...string) string {
		t.Helper()
		r := do(t, nil, "GET", e.base+path, nil, hdr...)
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		return r.header.Get("X-Cache")
	}
	steps := []struct {
		path string
		hdr  []string
		want string
	}{
		{"/prod/items/k?v=1", nil, "Miss"},
		{"/prod/items/k?v=1", nil, "Hit"},
		{"/prod/items/k?v=2", nil, "Miss"},                               // v is part of the key
		{"/prod/items/k?v=1&other=9", nil, "Hit"},                        // other is not
		{"/prod/items/k?v=1", []string{"Accept-Language", "fr"}, "Miss"}, // a key header
		{"/prod/items/k?v=1", []string{"Accept-Language", "fr"}, "Hit"},
		{"/prod/items/k?v=1", []string{"Authorization", "Bearer x"}, ""}, // credentials not in the key: bypass
		{"/prod/items/k?v=1", []string{"Authorization", "Bearer x"}, ""},
	}
	for i, s := range steps {
		if got := get(s.path, s.hdr...); got != s.want {
			t.Fatalf("step %d GET %s %v: X-Cache %q, want %q", i, s.path, s.hdr, got, s.want)
		}
	}
	if n := up.count("/items/k"); n != 5 {
		t.Fatalf("upstream calls %d, want 5 (3 misses, 2 bypasses)", n)
	}

	// POST is never cached; HEAD is, under its own key.
	for i := 0; i < 2; i++ {
		if r := do(t, nil, "POST", e.base+"/prod/items/p", strings.NewReader("{}")); r.header.Get("X-Cache") != "" {
			t.Fatalf("POST answered with X-Cache %q", r.header.Get("X-Cache"))
		}
	}
	if n := up.count("/items/p"); n != 2 {
		t.Fatalf("POST reached the upstream %d times, want 2", n)
	}
	for i, want := range []string{"Miss", "Hit"} {
		if r := do(t, nil, "HEAD", e.base+"/prod/items/h", nil); r.status != 200 || r.header.Get("X-Cache") != want || r.body != "" {
			t.Fatalf("HEAD %d: %d X-Cache %q body %q", i, r.status, r.header.Get("X-Cache"), r.body)
		}
	}
}

func TestCacheNotStored(t *testing.T) {
	e, up, clock := startCacheGateway(t)
	for _, c := range []struct{ path, why string }{
		{"/items/nostore", "Cache-Control: no-store"},
		{"/items/cookie", "Set-Cookie"},
		{"/items/fail", "a 500"},
		{"/items/big", "a body over the entry limit"},
	} {
		for i := 0; i < 2; i++ {
			r := do(t, nil, "GET", e.base+"/prod"+c.path, nil)
			if r.header.Get("X-Cache") != "Miss" {
				t.Fatalf("%s (%s) request %d: X-Cache %q, want Miss", c.path, c.why, i, r.header.Get("X-Cache"))
			}
			if c.path == "/items/big" && len(r.body) != 2<<20 {
				t.Fatalf("big body arrived with %d bytes", len(r.body))
			}
		}
		if n := up.count(c.path); n != 2 {
			t.Fatalf("%s (%s): upstream called %d times, want 2: must not be stored", c.path, c.why, n)
		}
	}
	// max-age=1 from the upstream shortens the plugin's 60 s.
	do(t, nil, "GET", e.base+"/prod/items/short", nil)
	if r := do(t, nil, "GET", e.base+"/prod/items/short", nil); r.header.Get("X-Cache") != "Hit" {
		t.Fatalf("short: X-Cache %q, want Hit within its max-age", r.header.Get("X-Cache"))
	}
	clock.set(clock.Now().Add(2 * time.Second))
	if r := do(t, nil, "GET", e.base+"/prod/items/short", nil); r.header.Get("X-Cache") != "Miss" {
		t.Fatalf("short: X-Cache %q after its max-age, want Miss", r.header.Get("X-Cache"))
	}
}

// TestCacheCoalescing: 100 concurrent identical misses make exactly one
// upstream call; every client gets the same response.
func TestCacheCoalescing(t *testing.T) {
	e, up, _ := startCacheGateway(t)
	const n = 100
	url := e.base + "/prod/items/hot?delay=300"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: n}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	var start sync.WaitGroup
	start.Add(1)
	bodies := make([]string, n)
	statuses := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			start.Wait()
			r, err := client.Get(url)
			if err != nil {
				statuses[i] = err.Error()
				return
			}
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			bodies[i], statuses[i] = string(b), fmt.Sprintf("%d %s", r.StatusCode, r.Header.Get("X-Cache"))
		}(i)
	}
	start.Done()
	wg.Wait()
	if got := up.count("/items/hot"); got != 1 {
		t.Fatalf("%d concurrent misses made %d upstream calls, want 1", n, got)
	}
	counts := map[string]int{}
	for i := range bodies {
		counts[statuses[i]]++
		if bodies[i] != bodies[0] {
			t.Fatalf("client %d got %q, client 0 %q", i, bodies[i], bodies[0])
		}
	}
	if counts["200 Miss"] != 1 || counts["200 Hit"] != n-1 {
		t.Fatalf("statuses %v, want one 200 Miss and %d 200 Hit", counts, n-1)
	}
}

func TestCacheInvalidation(t *testing.T) {
	e, up, _ := startCacheGateway(t)
	refresh := []string{"Cache-Control", "max-age=0"}

	// require_auth (the default) with no API key, unauthorized: fail →
	// refused with 403.
	do(t, nil, "GET", e.base+"/prod/items/inv", nil)
	r := do(t, nil, "GET", e.base+"/prod/items/inv", nil, refresh...)
	if r.status != 403 || !strings.Contains(r.body, "Unauthorized cache invalidation") {
		t.Fatalf("unauthorized invalidation: %d %s, want 403", r.status, r.body)
	}
	if r := do(t, nil, "GET", e.base+"/prod/items/inv", nil); r.header.Get("X-Cache") != "Hit" || up.count("/items/inv") != 1 {
		t.Fatalf("the refused invalidation changed the cache: X-Cache %q, upstream calls %d", r.header.Get("X-Cache"), up.count("/items/inv"))
	}

	// unauthorized: ignore (the default) → served from the cache; no
	// X-Cache header (header: "").
	do(t, nil, "GET", e.base+"/prod/quiet/q", nil)
	r = do(t, nil, "GET", e.base+"/prod/quiet/q", nil, refresh...)
	if r.status != 200 || up.count("/items/q") != 1 || r.header.Get("X-Cache") != "" || r.header.Get("Age") == "" {
		t.Fatalf("ignored invalidation: %d, upstream calls %d, X-Cache %q, Age %q", r.status, up.count("/items/q"), r.header.Get("X-Cache"), r.header.Get("Age"))
	}

	// invalidation: allow → the entry is fetched again and replaced.
	a := do(t, nil, "GET", e.base+"/prod/open/o", nil)
	b := do(t, nil, "GET", e.base+"/prod/open/o", nil, refresh...)
	c := do(t, nil, "GET", e.base+"/prod/open/o", nil)
	if b.header.Get("X-Cache") != "Miss" || c.header.Get("X-Cache") != "Hit" || up.count("/items/o") != 2 || c.body != b.body || a.body == b.body {
		t.Fatalf("allowed invalidation: X-Cache %q then %q, upstream calls %d", b.header.Get("X-Cache"), c.header.Get("X-Cache"), up.count("/items/o"))
	}
}

// TestCacheStageOff: a stage whose cache is turned off serves every
// request from the integration, and the plugin adds nothing.
func TestCacheStageOff(t *testing.T) {
	caches := &gateway.Caches{}
	e, up, _ := startCacheGateway(t, func(o *gateway.Options) { caches = o.Caches })
	caches.Configure(map[string]gateway.CacheSetting{"prod": {Enabled: false}})
	for i := 0; i < 3; i++ {
		if r := do(t, nil, "GET", e.base+"/prod/items/off", nil); r.status != 200 || r.header.Get("X-Cache") != "" {
			t.Fatalf("request %d: %d X-Cache %q", i, r.status, r.header.Get("X-Cache"))
		}
	}
	if n := up.count("/items/off"); n != 3 {
		t.Fatalf("upstream calls %d, want 3", n)
	}
	caches.Configure(map[string]gateway.CacheSetting{"prod": {Enabled: true, SizeMB: 1}})
	do(t, nil, "GET", e.base+"/prod/items/off", nil)
	if r := do(t, nil, "GET", e.base+"/prod/items/off", nil); r.header.Get("X-Cache") != "Hit" {
		t.Fatalf("turned on again: X-Cache %q, want Hit", r.header.Get("X-Cache"))
	}
}

// TestCacheL2SharedByTwoGateways: two gateways (each with its own Redis
// client, as two processes) share cached responses through Redis: a miss
// on the first is a hit on the second; with Redis gone each falls back to
// its own memory and keeps serving.
func TestCacheL2SharedByTwoGateways(t *testing.T) {
	srv := redistest.Start(t)
	up := newCountingUpstream(t)
	var bases []string
	for i := 0; i < 2; i++ {
		client := srv.Client(t)
		caches := &gateway.Caches{DefaultMB: 4, L2: func(stage string) cache.L2 {
			return cache.NewRedisL2(client, "e2e:cache:"+stage+":")
		}}
		t.Cleanup(caches.Close)
		e := startGateway(t, cacheDoc(up.URL), nil, func(o *gateway.Options) { o.Caches = caches })
		bases = append(bases, e.base)
	}
	a := do(t, nil, "GET", bases[0]+"/prod/items/shared", nil)
	b := do(t, nil, "GET", bases[1]+"/prod/items/shared", nil)
	if a.header.Get("X-Cache") != "Miss" || b.header.Get("X-Cache") != "Hit" || a.body != b.body || up.count("/items/shared") != 1 {
		t.Fatalf("gateway 1: %s, gateway 2: %s (%q vs %q), upstream calls %d; want Miss, Hit, one call",
			a.header.Get("X-Cache"), b.header.Get("X-Cache"), a.body, b.body, up.count("/items/shared"))
	}

	srv.Stop()
	for i, base := range bases {
		for j, want := range []string{"Miss", "Hit"} {
			r := do(t, nil, "GET", base+"/prod/items/down", nil)
			if r.status != 200 || r.header.Get("X-Cache") != want {
				t.Fatalf("Redis down, gateway %d request %d: %d X-Cache %q, want 200 %s", i+1, j, r.status, r.header.Get("X-Cache"), want)
			}
		}
	}
	if n := up.count("/items/down"); n != 2 {
		t.Fatalf("Redis down: upstream calls %d, want 2 (one per gateway)", n)
	}
}
