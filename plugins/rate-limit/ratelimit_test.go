package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/host/policy"
	"github.com/wasmgate/wasmgate/host/wasm"
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

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func harness(t *testing.T, config string, clock policy.Clock) *sdktest.Harness {
	t.Helper()
	l := policy.NewLocal(clock)
	return sdktest.New(t, pluginWasm(t), sdktest.Options{
		Config:   config,
		Policies: &gateway.Policies{Limiter: l, Quotas: l},
		Properties: map[string]string{
			"wasmgate.stage":          "prod",
			"wasmgate.route.template": "/pets",
			"source.address":          "203.0.113.7:5000",
		},
		LogLevel: 5,
	})
}

func TestBurstThenRate(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	h := harness(t, `{"rate": 1, "burst": 3}`, clock)
	for i, want := range []string{"2", "1", "0"} {
		r := h.Do(&sdktest.Request{Path: "/pets"})
		if r.Err != nil || r.Status != 200 || r.Header("x-ratelimit-remaining") != want || r.Header("x-ratelimit-limit") != "3" {
			t.Fatalf("request %d: %d %v remaining %q limit %q", i, r.Status, r.Err, r.Header("x-ratelimit-remaining"), r.Header("x-ratelimit-limit"))
		}
	}
	r := h.Do(&sdktest.Request{Path: "/pets"})
	if r.Status != 429 || !r.Local || r.Header("retry-after") != "1" || r.Header("x-ratelimit-remaining") != "0" ||
		r.Header("x-ratelimit-reset") != "3" || !strings.Contains(string(r.Body), "Too Many Requests") || r.Upstream != nil {
		t.Fatalf("over the burst: %d local=%v headers %v body %q upstream %v", r.Status, r.Local, r.Headers, r.Body, r.Upstream)
	}
	clock.Advance(time.Second) // one token back
	if r := h.Do(&sdktest.Request{Path: "/pets"}); r.Status != 200 {
		t.Fatalf("after 1 s: %d", r.Status)
	}
	if r := h.Do(&sdktest.Request{Path: "/pets"}); r.Status != 429 {
		t.Fatalf("the refilled token was taken twice: %d", r.Status)
	}
	if n, _ := h.Metric("rate_limit_throttled_total"); n != 2 {
		t.Fatalf("throttled counter = %d, want 2", n)
	}
}

func TestKeysAndMethodOverrides(t *testing.T) {
	clock := &fakeClock{now: time.Unix(0, 0)}
	h := harness(t, `{"rate": 1, "burst": 1, "key": ["route", "header:x-user"], "methods": {"GET": {"rate": 1, "burst": 2}}}`, clock)
	do := func(method, user string) int {
		return h.Do(&sdktest.Request{Method: method, Path: "/pets", Headers: [][2]string{{"x-user", user}}}).Status
	}
	// GET has a burst of 2 per user; POST 1; users and methods apart.
	for _, c := range []struct {
		method, user string
		want         int
	}{
		{"GET", "a", 200}, {"GET", "a", 200}, {"GET", "a", 429},
		{"GET", "b", 200},
		{"POST", "a", 200}, {"POST", "a", 429},
	} {
		if got := do(c.method, c.user); got != c.want {
			t.Fatalf("%s by %s: %d, want %d", c.method, c.user, got, c.want)
		}
	}
}

type failingStore struct{}

func (failingStore) TakeTokens(context.Context, string, float64, int, int) (wasm.TokenResult, error) {
	return wasm.TokenResult{}, errors.New("redis: connection refused")
}
func (failingStore) UseQuota(context.Context, string, wasm.QuotaPeriod, int64, int64) (wasm.QuotaResult, error) {
	return wasm.QuotaResult{}, errors.New("redis: connection refused")
}

func TestStoreFailure(t *testing.T) {
	for _, c := range []struct {
		onError string
		want    int
	}{{"fail_closed", 503}, {"fail_open", 200}} {
		h := sdktest.New(t, pluginWasm(t), sdktest.Options{Config: `{"rate": 5, "on_error": "` + c.onError + `"}`, Policies: failingStore{},
			PluginConfig: wasm.PluginConfig{PoolMin: 1, PoolMax: 1}})
		for i := 0; i < 5; i++ {
			if r := h.Do(&sdktest.Request{Path: "/"}); r.Status != c.want {
				t.Errorf("%s: %d, want %d", c.onError, r.Status, c.want)
			}
		}
		if n, _ := h.Metric("rate_limit_store_errors_total"); n != 5 {
			t.Errorf("%s: store error counter %d, want 5", c.onError, n)
		}
		// Logged once for the five, not five times.
		logged := 0
		for _, l := range h.Logs() {
			if strings.Contains(l, "token store failed") {
				logged++
			}
		}
		if logged != 1 {
			t.Errorf("%s: the failure was logged %d times for 5 requests, want once per interval:\n%s", c.onError, logged, strings.Join(h.Logs(), "\n"))
		}
	}
}

func TestBadConfigs(t *testing.T) {
	for _, c := range []struct{ config, want string }{
		{``, "empty"},
		{`{"burst": 5}`, `"rate"`},
		{`{"rate": 0}`, "more than 0"},
		{`{"rate": 10, "burst": 0}`, "between 1"},
		{`{"rate": 10, "burst": 2, "cost": 3}`, "cost"},
		{`{"rate": 10, "key": ["user"]}`, "header:NAME"},
		{`{"rate": 10, "key": ["ip", "ip"]}`, "twice"},
		{`{"rate": 10, "methods": {"get": {"rate": 1}}}`, "upper-case"},
		{`{"rate": 10, "methods": {"GET pets": {"rate": 1}}}`, `start with "/"`},
		{`{"rate": 10, "on_error": "ignore"}`, "fail_open"},
		{`{"rate": 10, "limit": 5}`, "unknown field"},
		{`{"rate": 10, "quota": {"limit": 0, "period": "day"}}`, "quota.limit"},
		{`{"rate": 10, "quota": {"limit": 5, "period": "hour"}}`, "quota.period"},
	} {
		_, err := sdktest.NewE(t, pluginWasm(t), sdktest.Options{Config: c.config})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %s: %v, want an error mentioning %q", c.config, err, c.want)
		}
	}
}

func TestQuotaResetsAtThePeriodBoundary(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 25, 23, 59, 0, 0, time.UTC)}
	h := harness(t, `{"rate": 100, "burst": 100, "quota": {"limit": 3, "period": "day"}}`, clock)
	for i := 0; i < 3; i++ {
		if r := h.Do(&sdktest.Request{Path: "/pets"}); r.Status != 200 {
			t.Fatalf("request %d within the quota: %d", i, r.Status)
		}
	}
	r := h.Do(&sdktest.Request{Path: "/pets"})
	if r.Status != 429 || !strings.Contains(string(r.Body), "Limit Exceeded") || r.Header("x-quota-limit") != "3" ||
		r.Header("x-quota-reset") != "2026-11-26T00:00:00Z" || r.Upstream != nil {
		t.Fatalf("over the quota: %d %q %v", r.Status, r.Body, r.Headers)
	}
	clock.Advance(59*time.Second + 999*time.Millisecond) // 23:59:59.999
	if r := h.Do(&sdktest.Request{Path: "/pets"}); r.Status != 429 {
		t.Fatalf("a millisecond before midnight UTC: %d", r.Status)
	}
	clock.Advance(time.Millisecond) // 00:00:00 the next day
	if r := h.Do(&sdktest.Request{Path: "/pets"}); r.Status != 200 {
		t.Fatalf("after midnight UTC: %d %q %v", r.Status, r.Body, r.Headers)
	}
}
