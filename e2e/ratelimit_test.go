package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/host/policy"
	"github.com/wasmgate/wasmgate/internal/redistest"
)

func rateLimitDoc(upstream string) string {
	return fmt.Sprintf(`openapi: 3.0.3
info: {title: limited, version: "1"}
x-wasmgate-stages: [{name: prod}]
paths:
  /limited:
    get:
      x-wasmgate-pipeline: [{plugin: rate-limit, config: {rate: 10, burst: 5}}]
      x-wasmgate-integration: {type: http_proxy, uri: "%s/limited"}
      responses: {"200": {description: ok}}
`, upstream)
}

// hammer sends requests from 50 concurrent clients, spread over the
// gateways, for d; it returns how many got 200 and 429 (anything else
// fails the test) and the time it took.
func hammer(t *testing.T, bases []string, d time.Duration) (ok, throttled int64, elapsed time.Duration) {
	t.Helper()
	var wg sync.WaitGroup
	var bad atomic.Int64
	start := time.Now()
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := &http.Client{Timeout: 5 * time.Second}
			for time.Since(start) < d {
				resp, err := c.Get(bases[i%len(bases)] + "/prod/limited")
				if err != nil {
					bad.Add(1)
					return
				}
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					atomic.AddInt64(&ok, 1)
				case 429:
					atomic.AddInt64(&throttled, 1)
					if resp.Header.Get("Retry-After") == "" || resp.Header.Get("X-Ratelimit-Limit") != "5" {
						bad.Add(1)
					}
				default:
					bad.Add(1)
				}
			}
		}(i)
	}
	wg.Wait()
	if bad.Load() > 0 {
		t.Fatalf("%d requests failed or were throttled without the headers", bad.Load())
	}
	return ok, throttled, time.Since(start)
}

// checkAllowed: a 10 rps / burst 5 bucket lets through 5 + 10 per second
// of the run, give or take one refill.
func checkAllowed(t *testing.T, ok, throttled int64, elapsed time.Duration) {
	t.Helper()
	want := 5 + 10*elapsed.Seconds()
	if float64(ok) < want-1-10*0.1 || float64(ok) > want+1 {
		t.Fatalf("%d allowed (%d throttled) in %v, want %.1f ± 1", ok, throttled, elapsed.Round(time.Millisecond), want)
	}
	if throttled == 0 {
		t.Fatal("nothing was throttled")
	}
	t.Logf("%d allowed, %d throttled in %v (bucket: %.1f)", ok, throttled, elapsed.Round(time.Millisecond), want)
}

// TestRateLimitOneProcess: 50 concurrent clients against a 10 rps / burst
// 5 limit over real sockets.
func TestRateLimitOneProcess(t *testing.T) {
	up := newRecordingUpstream(t)
	e := startGateway(t, rateLimitDoc(up.URL), nil)
	ok, throttled, elapsed := hammer(t, []string{e.base}, 2*time.Second)
	checkAllowed(t, ok, throttled, elapsed)
}

// TestRateLimitTwoGatewaysShareRedis: two gateways (each with its own
// Redis client, as two processes would have) enforce one limit.
func TestRateLimitTwoGatewaysShareRedis(t *testing.T) {
	srv := redistest.Start(t)
	up := newRecordingUpstream(t)
	var bases []string
	for i := 0; i < 2; i++ {
		r := policy.NewRedis(srv.Client(t), policy.SystemClock{}, "e2e:")
		e := startGateway(t, rateLimitDoc(up.URL), nil, func(o *gateway.Options) {
			o.Policies = &gateway.Policies{Limiter: r, Quotas: r}
		})
		bases = append(bases, e.base)
	}
	ok, throttled, elapsed := hammer(t, bases, 2*time.Second)
	checkAllowed(t, ok, throttled, elapsed)

	// Redis down: the plugin's on_error policy (fail_closed: 503), then
	// back to limiting when it returns.
	srv.Stop()
	resp, err := http.Get(bases[0] + "/prod/limited")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("with Redis down: %d, want 503 (on_error fail_closed)", resp.StatusCode)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	resp, err = http.Get(bases[1] + "/prod/limited")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after Redis returned: %d, want 200", resp.StatusCode)
	}
}

type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *stepClock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// TestQuotaResetsOverSockets: a 5-per-week quota over real sockets, on
// the gateway's store with an injected clock: exhausted on Sunday night,
// available again at Monday 00:00 UTC.
func TestQuotaResetsOverSockets(t *testing.T) {
	up := newRecordingUpstream(t)
	clock := &stepClock{now: time.Date(2026, 11, 29, 23, 0, 0, 0, time.UTC)} // a Sunday
	local := policy.NewLocal(clock)
	e := startGateway(t, fmt.Sprintf(`openapi: 3.0.3
info: {title: quota, version: "1"}
x-wasmgate-stages: [{name: prod}]
paths:
  /limited:
    get:
      x-wasmgate-pipeline: [{plugin: rate-limit, config: {rate: 1000, burst: 1000, key: [header:x-api-key], quota: {limit: 5, period: week}}}]
      x-wasmgate-integration: {type: http_proxy, uri: "%s/limited"}
      responses: {"200": {description: ok}}
`, up.URL), nil, func(o *gateway.Options) { o.Policies = &gateway.Policies{Limiter: local, Quotas: local} })
	get := func(key string) int {
		r := do(t, nil, "GET", e.base+"/prod/limited", nil, "X-Api-Key", key)
		return r.status
	}
	for i := 0; i < 5; i++ {
		if s := get("alice"); s != 200 {
			t.Fatalf("request %d within the quota: %d", i, s)
		}
	}
	if s := get("alice"); s != 429 {
		t.Fatalf("over the weekly quota: %d", s)
	}
	if s := get("bob"); s != 200 {
		t.Fatalf("another key: %d", s)
	}
	clock.set(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)) // Monday
	if s := get("alice"); s != 200 {
		t.Fatalf("after the week ended: %d", s)
	}
}
