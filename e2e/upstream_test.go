package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// backend is a named test upstream that counts its requests.
type backend struct {
	name    string
	srv     *httptest.Server
	hits    atomic.Int64
	healthy atomic.Bool  // /healthz answers 200, else 503
	status  atomic.Int64 // the status of other paths (0: 200)
	hold    chan struct{}
	held    atomic.Int64 // requests waiting on hold
	delay   time.Duration
}

func newBackend(t *testing.T, name string) *backend {
	t.Helper()
	b := &backend{name: name, hold: make(chan struct{})}
	b.healthy.Store(true)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if !b.healthy.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		b.hits.Add(1)
		if r.Header.Get("X-Hold") != "" {
			b.held.Add(1)
			<-b.hold
		}
		time.Sleep(b.delay)
		if s := b.status.Load(); s != 0 {
			w.WriteHeader(int(s))
		}
		fmt.Fprintf(w, "%s %s", b.name, r.URL.Path)
	}))
	t.Cleanup(func() {
		close(b.hold)
		b.srv.Close()
	})
	return b
}

// deadAddr is the address of a closed listener: connecting is refused.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// upstreamDoc serves GET and POST /items/{id} from upstream "pool".
func upstreamDoc(pool string, targets ...string) string {
	var ts []string
	for _, t := range targets {
		ts = append(ts, fmt.Sprintf("{url: %q}", t))
	}
	return fmt.Sprintf(`openapi: 3.0.3
info: {title: upstreams, version: "1"}
x-wasmgate-upstreams:
  pool:
    targets: [%s]
%s
paths:
  /items/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    x-wasmgate-integration: {type: http_proxy, uri: "upstream://pool/v1/items/{id}", timeout_ms: 5000}
    get:
      responses: {"200": {description: ok}}
    post:
      responses: {"200": {description: ok}}
`, strings.Join(ts, ", "), indent(pool, "    "))
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = by + l
	}
	return strings.Join(lines, "\n")
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUpstreamHealthChecks: a target that fails its health checks stops
// getting traffic within its interval and gets it back once healthy.
func TestUpstreamHealthChecks(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	e := startGateway(t, upstreamDoc(`
health_check: {path: /healthz, interval_ms: 100, timeout_ms: 50, healthy_threshold: 1, unhealthy_threshold: 1}`,
		a.srv.URL, b.srv.URL), nil)
	for i := 0; i < 10; i++ {
		if r := do(t, nil, "GET", e.base+"/items/1", nil); r.status != 200 || !strings.HasSuffix(r.body, " /v1/items/1") {
			t.Fatalf("GET: %d %q", r.status, r.body)
		}
	}
	if a.hits.Load() != 5 || b.hits.Load() != 5 {
		t.Fatalf("round robin: a %d, b %d", a.hits.Load(), b.hits.Load())
	}
	a.healthy.Store(false)
	start := time.Now()
	// One interval (100ms ±10%) and the check's round trip; the bound is
	// loose for a loaded machine.
	waitFor(t, 500*time.Millisecond, "a marked unhealthy", func() bool { return strings.Contains(e.errs.String(), "is unhealthy") })
	before := a.hits.Load()
	for i := 0; i < 10; i++ {
		if r := do(t, nil, "GET", e.base+"/items/2", nil); r.status != 200 || !strings.HasPrefix(r.body, "b ") {
			t.Fatalf("GET after a failed its checks (%s later): %d %q", time.Since(start), r.status, r.body)
		}
	}
	if a.hits.Load() != before {
		t.Fatal("the unhealthy target got traffic")
	}
	a.healthy.Store(true)
	waitFor(t, time.Second, "a gets traffic again", func() bool {
		do(t, nil, "GET", e.base+"/items/3", nil)
		return a.hits.Load() > before
	})
	if !strings.Contains(e.errs.String(), "is unhealthy") || !strings.Contains(e.errs.String(), "is healthy again") {
		t.Errorf("log:\n%s", e.errs)
	}
	// Every target down: fail open.
	a.healthy.Store(false)
	b.healthy.Store(false)
	waitFor(t, time.Second, "both marked unhealthy", func() bool { return strings.Count(e.errs.String(), "is unhealthy") == 3 })
	if r := do(t, nil, "GET", e.base+"/items/4", nil); r.status != 200 {
		t.Fatalf("fail open: %d %q", r.status, r.body)
	}
	if !strings.Contains(e.errs.String(), "failing open") {
		t.Errorf("fail open not logged:\n%s", e.errs)
	}
}

// TestUpstreamRetries: a GET that meets a refused connection is retried
// on the other target; a POST with a streamed body is not.
func TestUpstreamRetries(t *testing.T) {
	live := newBackend(t, "live")
	e := startGateway(t, upstreamDoc(`
retries: {attempts: 1, on: [connect_failure], budget_percent: 100}`,
		deadAddr(t), live.srv.URL), nil)
	for i := 0; i < 6; i++ {
		if r := do(t, nil, "GET", e.base+"/items/1", nil); r.status != 200 || r.body != "live /v1/items/1" {
			t.Fatalf("GET %d: %d %q", i, r.status, r.body)
		}
	}
	if n := live.hits.Load(); n != 6 {
		t.Fatalf("live target: %d hits, want 6", n)
	}
	failed := 0
	for i := 0; i < 4; i++ {
		r := do(t, nil, "POST", e.base+"/items/1", strings.NewReader(`{"a":1}`), "Content-Type", "application/json")
		switch r.status {
		case 200:
		case 502:
			var body struct{ Message string }
			if json.Unmarshal([]byte(r.body), &body) != nil || !strings.HasPrefix(body.Message, "Bad Gateway") {
				t.Fatalf("POST 502 body %q", r.body)
			}
			failed++
		default:
			t.Fatalf("POST: %d %q", r.status, r.body)
		}
	}
	if failed != 2 {
		t.Fatalf("%d of 4 POSTs failed, want the 2 sent to the dead target (not retried)", failed)
	}
}

// TestUpstreamRetryStatus: a 503 is retried on the other target when the
// upstream says so.
func TestUpstreamRetryStatus(t *testing.T) {
	bad, good := newBackend(t, "bad"), newBackend(t, "good")
	bad.status.Store(503)
	e := startGateway(t, upstreamDoc(`
retries: {attempts: 2, on: ["503"], budget_percent: 100}`,
		bad.srv.URL, good.srv.URL), nil)
	for i := 0; i < 4; i++ {
		if r := do(t, nil, "GET", e.base+"/items/1", nil); r.status != 200 || r.body != "good /v1/items/1" {
			t.Fatalf("GET %d: %d %q", i, r.status, r.body)
		}
	}
	if bad.hits.Load() == 0 {
		t.Fatal("the failing target was never tried")
	}
}

// TestUpstreamPassiveEjection: consecutive 5xx eject a target for
// ejection_ms.
func TestUpstreamPassiveEjection(t *testing.T) {
	bad, good := newBackend(t, "bad"), newBackend(t, "good")
	bad.status.Store(500)
	e := startGateway(t, upstreamDoc(`
passive: {consecutive_failures: 2, ejection_ms: 400}`,
		bad.srv.URL, good.srv.URL), nil)
	for i := 0; i < 20; i++ {
		do(t, nil, "GET", e.base+"/items/1", nil)
	}
	if n := bad.hits.Load(); n != 2 {
		t.Fatalf("the failing target got %d requests, want 2 before its ejection", n)
	}
	time.Sleep(450 * time.Millisecond)
	for i := 0; i < 4; i++ {
		do(t, nil, "GET", e.base+"/items/1", nil)
	}
	if n := bad.hits.Load(); n <= 2 {
		t.Fatal("the target did not come back after ejection_ms")
	}
	if !strings.Contains(e.errs.String(), "ejected for 400ms after 2 consecutive failures") {
		t.Errorf("log:\n%s", e.errs)
	}
}

// TestUpstreamCircuitBreaker: beyond max_requests outstanding requests,
// a request gets 503 at once.
func TestUpstreamCircuitBreaker(t *testing.T) {
	slow := newBackend(t, "slow")
	e := startGateway(t, upstreamDoc(`max_requests: 2`, slow.srv.URL), nil)
	var wg sync.WaitGroup
	results := make(chan int, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- do(t, nil, "GET", e.base+"/items/1", nil, "X-Hold", "1").status
		}()
	}
	waitFor(t, 2*time.Second, "2 requests held upstream", func() bool { return slow.held.Load() == 2 })
	t0 := time.Now()
	r := do(t, nil, "GET", e.base+"/items/1", nil)
	if r.status != 503 || time.Since(t0) > time.Second {
		t.Fatalf("3rd request: %d %q after %s", r.status, r.body, time.Since(t0))
	}
	var body struct{ Message, RequestID string }
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Message != "Service Unavailable: upstream pool is at its limit of 2 requests" || body.RequestID == "" {
		t.Fatalf("503 body %q", r.body)
	}
	slow.hold <- struct{}{}
	slow.hold <- struct{}{}
	wg.Wait()
	close(results)
	for s := range results {
		if s != 200 {
			t.Fatalf("held request: %d", s)
		}
	}
	if r := do(t, nil, "GET", e.base+"/items/1", nil); r.status != 200 {
		t.Fatalf("after the held requests ended: %d %q", r.status, r.body)
	}
}

// TestUpstreamLeastRequest: with one target busy, requests go to the idle
// one.
func TestUpstreamLeastRequest(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	e := startGateway(t, upstreamDoc(`balance: least_request`, a.srv.URL, b.srv.URL), nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		do(t, nil, "GET", e.base+"/items/1", nil, "X-Hold", "1")
	}()
	waitFor(t, 2*time.Second, "a request held upstream", func() bool { return a.held.Load()+b.held.Load() == 1 })
	busy, idle := a, b
	if b.held.Load() == 1 {
		busy, idle = b, a
	}
	for i := 0; i < 10; i++ {
		if r := do(t, nil, "GET", e.base+"/items/2", nil); r.status != 200 || !strings.HasPrefix(r.body, idle.name+" ") {
			t.Fatalf("GET %d: %d %q, want the idle target %s", i, r.status, r.body, idle.name)
		}
	}
	busy.hold <- struct{}{}
	<-done
}

// TestUpstreamHashHeader: hash:header sends each user to one target.
func TestUpstreamHashHeader(t *testing.T) {
	a, b, c := newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "c")
	e := startGateway(t, upstreamDoc(`balance: "hash:header:X-User"`, a.srv.URL, b.srv.URL, c.srv.URL), nil)
	used := map[string]bool{}
	for u := 0; u < 12; u++ {
		first := ""
		for i := 0; i < 5; i++ {
			r := do(t, nil, "GET", e.base+"/items/1", nil, "X-User", fmt.Sprintf("user-%d", u))
			name, _, _ := strings.Cut(r.body, " ")
			if r.status != 200 || first != "" && name != first {
				t.Fatalf("user-%d request %d: %d %q, first went to %s", u, i, r.status, r.body, first)
			}
			first = name
		}
		used[first] = true
	}
	if len(used) < 2 {
		t.Fatalf("12 users all went to %v", used)
	}
}

// TestUpstreamFirstByteTimeout: first_byte_ms bounds the wait for the
// response headers: 504.
func TestUpstreamFirstByteTimeout(t *testing.T) {
	slow := newBackend(t, "slow")
	slow.delay = 300 * time.Millisecond
	e := startGateway(t, upstreamDoc(`timeouts: {connect_ms: 200, first_byte_ms: 100}`, slow.srv.URL), nil)
	if r := do(t, nil, "GET", e.base+"/items/1", nil); r.status != 504 || !strings.Contains(r.body, "Endpoint request timed out") {
		t.Fatalf("%d %q", r.status, r.body)
	}
}
