package gateway

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/host/config"
)

func testPool(t *testing.T, balance string, weights ...int) (*upstreamPool, *[]string) {
	t.Helper()
	cfg := &config.Upstream{Name: "u", Balance: balance}
	for i, w := range weights {
		cfg.Targets = append(cfg.Targets, config.UpstreamTarget{URL: fmt.Sprintf("http://10.0.0.%d:80", i+1), Weight: w})
	}
	var mu sync.Mutex
	var logs []string
	p, err := newUpstreamPool(cfg, func(s string) { mu.Lock(); logs = append(logs, s); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	return p, &logs
}

func counts(p *upstreamPool, n int, key func(i int) string) map[string]int {
	out := map[string]int{}
	for i := 0; i < n; i++ {
		k := key(i)
		out[p.pick(k, k != "", nil).url.Host]++
	}
	return out
}

func TestWeightedRoundRobin(t *testing.T) {
	p, _ := testPool(t, config.BalanceRoundRobin, 1, 2, 3, 100)
	got := counts(p, 10600, func(int) string { return "" })
	for i, w := range []int{1, 2, 3, 100} {
		want := float64(10600*w) / 106
		if c := float64(got[fmt.Sprintf("10.0.0.%d:80", i+1)]); math.Abs(c-want) > want*0.05+1 {
			t.Errorf("target %d (weight %d): %v picks, want %v±5%%", i+1, w, c, want)
		}
	}
	// Smooth: the heavy target never takes more than its share in a row.
	p, _ = testPool(t, config.BalanceRoundRobin, 1, 1)
	prev := ""
	for i := 0; i < 10; i++ {
		h := p.pick("", false, nil).url.Host
		if h == prev {
			t.Fatalf("equal weights picked %s twice in a row", h)
		}
		prev = h
	}
}

func TestLeastRequest(t *testing.T) {
	p, _ := testPool(t, config.BalanceLeastRequest, 1, 1, 1)
	p.targets[0].active.Store(5)
	p.targets[1].active.Store(1)
	for i := 0; i < 10; i++ {
		if got := p.pick("", false, nil); got != p.targets[2] {
			t.Fatalf("picked %s, want the idle target", got.url)
		}
	}
	// Weight scales the load: 4 in flight on weight 4 beats 2 on weight 1.
	p, _ = testPool(t, config.BalanceLeastRequest, 4, 1)
	p.targets[0].active.Store(4)
	p.targets[1].active.Store(2)
	if got := p.pick("", false, nil); got != p.targets[0] {
		t.Fatalf("picked %s, want the weighted target", got.url)
	}
}

func TestConsistentHash(t *testing.T) {
	p4, _ := testPool(t, "hash:header:X-User", 1, 1, 1, 1)
	key := func(i int) string { return fmt.Sprintf("user-%d", i) }
	const n = 20000
	before := map[string]string{}
	for i := 0; i < n; i++ {
		before[key(i)] = p4.pick(key(i), true, nil).url.Host
	}
	// Spread: each of 4 equal targets gets 25% ± 5 points.
	for h, c := range counts(p4, n, key) {
		if share := float64(c) / n; share < 0.20 || share > 0.30 {
			t.Errorf("%s gets %.1f%% of the keys", h, share*100)
		}
	}
	// Stable: the same key, the same target.
	for i := 0; i < 100; i++ {
		if got := p4.pick(key(i), true, nil).url.Host; got != before[key(i)] {
			t.Fatalf("key %s moved from %s to %s", key(i), before[key(i)], got)
		}
	}
	// Removing target 4 moves only its keys.
	p3, _ := testPool(t, "hash:header:X-User", 1, 1, 1)
	moved := 0
	for i := 0; i < n; i++ {
		got := p3.pick(key(i), true, nil).url.Host
		if before[key(i)] == "10.0.0.4:80" {
			moved++
			continue
		}
		if got != before[key(i)] {
			t.Fatalf("key %s moved from %s to %s though its target stayed", key(i), before[key(i)], got)
		}
	}
	// An unhealthy target's keys go elsewhere; the others stay.
	p4.targets[1].healthy.Store(false)
	for i := 0; i < n; i++ {
		got := p4.pick(key(i), true, nil).url.Host
		if was := before[key(i)]; was != "10.0.0.2:80" && got != was {
			t.Fatalf("key %s moved from %s to %s", key(i), was, got)
		} else if got == "10.0.0.2:80" {
			t.Fatalf("key %s went to the unhealthy target", key(i))
		}
	}
	// Weights: a weight-3 target gets about 3/4 of the keys.
	pw, _ := testPool(t, "hash:ip", 3, 1)
	c := counts(pw, n, key)
	if share := float64(c["10.0.0.1:80"]) / n; share < 0.68 || share > 0.82 {
		t.Errorf("weight 3 of 4 gets %.1f%% of the keys", share*100)
	}
	// No key: round robin.
	if c := counts(p3, 300, func(int) string { return "" }); len(c) != 3 {
		t.Errorf("without a key: %v", c)
	}
}

func TestPickAvoidsTriedAndFailsOpen(t *testing.T) {
	p, logs := testPool(t, config.BalanceRoundRobin, 1, 1)
	for i := 0; i < 10; i++ {
		first := p.pick("", false, nil)
		if again := p.pick("", false, []*upstreamTarget{first}); again == first {
			t.Fatal("a retry went to the target that failed")
		}
	}
	p.targets[0].healthy.Store(false)
	p.targets[1].ejectedTill.Store(time.Now().Add(time.Hour).UnixNano())
	seen := map[*upstreamTarget]bool{}
	for i := 0; i < 10; i++ {
		seen[p.pick("", false, nil)] = true
	}
	if len(seen) != 2 {
		t.Errorf("failing open picked %d targets, want both", len(seen))
	}
	if len(*logs) != 1 || !strings.Contains((*logs)[0], "failing open") {
		t.Errorf("logs: %q", *logs)
	}
	p.targets[0].healthy.Store(true)
	if got := p.pick("", false, nil); got != p.targets[0] {
		t.Errorf("picked %s, want the healthy target", got.url)
	}
	if len(*logs) != 2 {
		t.Errorf("logs: %q", *logs)
	}
}

func TestPassiveEjection(t *testing.T) {
	p, _ := testPool(t, config.BalanceRoundRobin, 1, 1)
	now := time.Unix(1000, 0)
	p.now = func() time.Time { return now }
	p.cfg.Passive = &config.PassiveCheck{ConsecutiveFailures: 3, Ejection: 10 * time.Second}
	bad := p.targets[0]
	p.passive(bad, true)
	p.passive(bad, true)
	p.passive(bad, false) // a success resets the count
	p.passive(bad, true)
	p.passive(bad, true)
	if !p.available(bad, now.UnixNano()) {
		t.Fatal("ejected before 3 consecutive failures")
	}
	p.passive(bad, true)
	for i := 0; i < 10; i++ {
		if p.pick("", false, nil) == bad {
			t.Fatal("an ejected target got a request")
		}
	}
	now = now.Add(10 * time.Second)
	if !p.available(bad, now.UnixNano()) {
		t.Fatal("still ejected after ejection_ms")
	}
}

func TestRetryBudget(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newRetryBudget(20, func() time.Time { return now })
	// A quiet upstream may still retry a few times.
	b.request()
	for i := 0; i < 3; i++ {
		if !b.allowRetry() {
			t.Fatalf("retry %d refused under the minimum", i)
		}
	}
	if b.allowRetry() {
		t.Fatal("a 4th retry for 1 request")
	}
	// 100 requests: 20% → 20 retries in all (3 already taken).
	for i := 0; i < 99; i++ {
		b.request()
	}
	allowed := 0
	for i := 0; i < 50; i++ {
		if b.allowRetry() {
			allowed++
		}
	}
	if allowed != 17 {
		t.Fatalf("%d more retries allowed, want 17", allowed)
	}
	// The window slides: a period later the old counts still weigh, two
	// periods later they are gone.
	now = now.Add(10 * time.Second)
	if b.allowRetry() {
		t.Fatal("retry allowed one period later with no new requests")
	}
	now = now.Add(20 * time.Second)
	b.request()
	if !b.allowRetry() {
		t.Fatal("retry refused in a fresh window")
	}
}

// TestRetryBudgetHammer: concurrent accounting stays within the budget.
func TestRetryBudgetHammer(t *testing.T) {
	b := newRetryBudget(10, time.Now)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				b.request()
				if b.allowRetry() {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if allowed > 800+3 || allowed < 700 {
		t.Fatalf("%d retries for 8000 requests at 10%%", allowed)
	}
}

// TestUpstreamHealthChecksStopOnRetire: a snapshot's health checks run
// from its build until it is retired and closed.
func TestUpstreamHealthChecksStopOnRetire(t *testing.T) {
	var checks atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { checks.Add(1) }))
	defer srv.Close()
	doc := fmt.Sprintf(`openapi: 3.0.3
info: {title: t, version: "1"}
x-wasmgate-upstreams:
  u:
    targets: [{url: %q}]
    health_check: {path: /healthz, interval_ms: 20, timeout_ms: 20}
paths:
  /a:
    get:
      x-wasmgate-integration: {type: http_proxy, uri: "upstream://u/a"}
      responses: {"200": {description: ok}}
`, srv.URL)
	api, err := config.Parse("t.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	g := New(Options{})
	s, err := g.Build(context.Background(), api, "d-1")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for checks.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no health checks after the build")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.Retire()
	<-s.Done()
	n := checks.Load()
	time.Sleep(100 * time.Millisecond)
	if m := checks.Load(); m != n {
		t.Fatalf("%d health checks after the snapshot closed", m-n)
	}

	// An operation naming an undeclared upstream fails the build.
	api.Upstreams = nil
	if _, err := g.Build(context.Background(), api, "d-2"); err == nil || !strings.Contains(err.Error(), "upstream[u]") {
		t.Fatalf("build without the upstream: %v", err)
	}
}
