package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/host/apikeys"
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

// must(f())(t) is f's value, or a fatal error.
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func newStore(t *testing.T) *apikeys.Store {
	t.Helper()
	s, err := apikeys.Open(filepath.Join(t.TempDir(), apikeys.StoreFile), apikeys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// harness runs the plugin with config on stage prod, route GET /pets,
// with keys from store and token buckets on clock.
func harness(t *testing.T, config string, store *apikeys.Store, clock policy.Clock) *sdktest.Harness {
	t.Helper()
	if clock == nil {
		clock = policy.SystemClock{}
	}
	l := policy.NewLocal(clock)
	opts := sdktest.Options{
		Config:   config,
		Policies: &gateway.Policies{Limiter: l, Quotas: l},
		Properties: map[string]string{
			"wasmgate.stage":          "prod",
			"wasmgate.route.template": "/pets",
		},
		LogLevel: 5,
	}
	if store != nil {
		opts.APIKeys = store
	}
	return sdktest.New(t, pluginWasm(t), opts)
}

func get(h *sdktest.Harness, path string, headers ...[2]string) *sdktest.Result {
	return h.Do(&sdktest.Request{Path: path, Headers: headers})
}

func refused(t *testing.T, what string, r *sdktest.Result, status int, message string) {
	t.Helper()
	want := `{"message":"` + message + `"}` + "\n"
	if r.Err != nil || r.Status != status || !r.Local || string(r.Body) != want || r.Header("content-type") != "application/json" || r.Upstream != nil {
		t.Errorf("%s: %d local=%v %q %v (err %v), want %d %s and no upstream", what, r.Status, r.Local, r.Body, r.Headers, r.Err, status, want)
	}
}

func TestAuthentication(t *testing.T) {
	s := newStore(t)
	prod := must(s.CreatePlan(apikeys.PlanSpec{Name: "prod", Throttle: &apikeys.Throttle{Rate: 100, Burst: 100}, Stages: []string{"prod"}}))(t)
	dev := must(s.CreatePlan(apikeys.PlanSpec{Name: "dev", Stages: []string{"dev"}}))(t)
	good := must(s.CreateKey(apikeys.KeySpec{Name: "good", Plan: prod.ID}))(t)
	no := false
	disabled := must(s.CreateKey(apikeys.KeySpec{Name: "off", Plan: prod.ID, Enabled: &no}))(t)
	devOnly := must(s.CreateKey(apikeys.KeySpec{Name: "dev", Plan: dev.ID}))(t)
	planless := must(s.CreateKey(apikeys.KeySpec{Name: "planless"}))(t)
	h := harness(t, `{"id_header": "x-api-key-id"}`, s, nil)

	for _, c := range []struct {
		name    string
		headers [][2]string
	}{
		{"no key", nil},
		{"empty key", [][2]string{{"x-api-key", ""}}},
		{"wrong key", [][2]string{{"x-api-key", good.Value[:39] + "?"}}},
		{"huge header", [][2]string{{"x-api-key", strings.Repeat("k", 1<<20)}}},
		{"key with a NUL", [][2]string{{"x-api-key", good.Value + "\x00"}}},
		{"disabled key", [][2]string{{"x-api-key", disabled.Value}}},
		{"key of another stage's plan", [][2]string{{"x-api-key", devOnly.Value}}},
		{"key without a plan", [][2]string{{"x-api-key", planless.Value}}},
		{"key in another header", [][2]string{{"authorization", good.Value}}},
	} {
		refused(t, c.name, get(h, "/pets", c.headers...), 403, "Forbidden")
	}
	if n, _ := h.Metric("api_key_forbidden_total"); n != 9 {
		t.Errorf("forbidden counter %d, want 9", n)
	}

	// The right key: through, without the secret, with its id (a forged
	// id header from the client is replaced).
	r := get(h, "/pets", [2]string{"X-Api-Key", good.Value}, [2]string{"x-api-key-id", "k-forged"})
	if r.Err != nil || r.Status != 200 || r.Upstream == nil {
		t.Fatalf("good key: %d %q %v", r.Status, r.Body, r.Err)
	}
	if v := r.Upstream.Header("x-api-key"); v != "" {
		t.Errorf("the key reached the upstream: %q", v)
	}
	if ids := headerValues(r.Upstream.Headers, "x-api-key-id"); len(ids) != 1 || ids[0] != good.ID {
		t.Errorf("upstream x-api-key-id %q, want only %q", ids, good.ID)
	}
	// Disabling the key takes effect on the next request.
	must(s.UpdateKey(good.ID, apikeys.KeyUpdate{Enabled: &no}))(t)
	refused(t, "after disabling", get(h, "/pets", [2]string{"x-api-key", good.Value}), 403, "Forbidden")
}

func headerValues(hs [][2]string, name string) []string {
	var out []string
	for _, p := range hs {
		if strings.EqualFold(p[0], name) {
			out = append(out, p[1])
		}
	}
	return out
}

func TestOptionalKeyAndPlan(t *testing.T) {
	s := newStore(t)
	planless := must(s.CreateKey(apikeys.KeySpec{Name: "planless"}))(t)

	h := harness(t, `{"required": false, "id_header": "X-Api-Key-Id"}`, s, nil)
	r := get(h, "/pets", [2]string{"x-api-key-id", "k-forged"})
	if r.Status != 200 || r.Upstream == nil || r.Upstream.Header("x-api-key-id") != "" {
		t.Fatalf("keyless with required false: %d, upstream id %q", r.Status, r.Upstream.Header("x-api-key-id"))
	}
	refused(t, "a wrong key with required false", get(h, "/pets", [2]string{"x-api-key", "not-a-key-at-all-but-long"}), 403, "Forbidden")
	refused(t, "a key without a plan", get(h, "/pets", [2]string{"x-api-key", planless.Value}), 403, "Forbidden")

	h = harness(t, `{"require_plan": false, "forward_key": true}`, s, nil)
	r = get(h, "/pets", [2]string{"x-api-key", planless.Value})
	if r.Status != 200 || r.Upstream == nil || r.Upstream.Header("x-api-key") != planless.Value {
		t.Fatalf("require_plan false, forward_key true: %d %q", r.Status, r.Body)
	}
	refused(t, "required by default", get(h, "/pets"), 403, "Forbidden")
}

func TestQueryParameter(t *testing.T) {
	s := newStore(t)
	k := must(s.CreateKey(apikeys.KeySpec{Name: "q", Value: "query+value/with=odd&chars"}))(t)
	h := harness(t, `{"header": "", "query": "api_key", "require_plan": false}`, s, nil)
	r := get(h, "/pets?a=1&api_key=query%2Bvalue%2Fwith%3Dodd%26chars&b=2")
	if r.Status != 200 || r.Upstream == nil || r.Upstream.Path != "/pets?a=1&b=2" {
		t.Fatalf("key in the query: %d %q, upstream %+v", r.Status, r.Body, r.Upstream)
	}
	refused(t, "the header is not read", get(h, "/pets", [2]string{"x-api-key", k.Value}), 403, "Forbidden")
	refused(t, "a wrong query key", get(h, "/pets?api_key=nope-nope-nope-nope-nope"), 403, "Forbidden")
	refused(t, "an empty query key", get(h, "/pets?api_key="), 403, "Forbidden")

	// Header and query: the header first.
	h = harness(t, `{"query": "api_key", "require_plan": false}`, s, nil)
	if r := get(h, "/pets?api_key=wrong-wrong-wrong-wrong", [2]string{"x-api-key", k.Value}); r.Status != 200 || r.Upstream.Path != "/pets?api_key=wrong-wrong-wrong-wrong" {
		t.Fatalf("header and query: %d, upstream path %q", r.Status, r.Upstream.Path)
	}
}

func TestThrottle(t *testing.T) {
	s := newStore(t)
	plan := must(s.CreatePlan(apikeys.PlanSpec{Name: "small", Throttle: &apikeys.Throttle{Rate: 1, Burst: 2},
		RouteThrottles: map[string]apikeys.Throttle{"POST /pets": {Rate: 1, Burst: 1}}}))(t)
	a := must(s.CreateKey(apikeys.KeySpec{Name: "a", Plan: plan.ID}))(t)
	b := must(s.CreateKey(apikeys.KeySpec{Name: "b", Plan: plan.ID}))(t)
	clock := &fakeClock{now: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
	h := harness(t, ``, s, clock)
	key := func(k apikeys.CreatedKey) [2]string { return [2]string{"x-api-key", k.Value} }
	for i := 0; i < 2; i++ {
		if r := get(h, "/pets", key(a)); r.Status != 200 {
			t.Fatalf("request %d within the burst: %d %q", i, r.Status, r.Body)
		}
	}
	r := get(h, "/pets", key(a))
	refused(t, "over the burst", r, 429, "Too Many Requests")
	if r.Header("retry-after") != "1" {
		t.Errorf("retry-after %q, want 1", r.Header("retry-after"))
	}
	if r := get(h, "/pets", key(b)); r.Status != 200 {
		t.Fatalf("another key of the plan has its own bucket: %d", r.Status)
	}
	clock.Advance(time.Second)
	if r := get(h, "/pets", key(a)); r.Status != 200 {
		t.Fatalf("a second later: %d", r.Status)
	}
	// The route override: POST /pets has a burst of 1.
	post := func() int {
		return h.Do(&sdktest.Request{Method: "POST", Path: "/pets", Headers: [][2]string{key(b)}}).Status
	}
	if got := []int{post(), post()}; got[0] != 200 || got[1] != 429 {
		t.Fatalf("POST /pets with a route throttle of burst 1: %v", got)
	}
	if n, _ := h.Metric("api_key_throttled_total"); n != 2 {
		t.Errorf("throttled counter %d, want 2", n)
	}
}

func TestQuota(t *testing.T) {
	s := newStore(t)
	plan := must(s.CreatePlan(apikeys.PlanSpec{Name: "q", Quota: &apikeys.Quota{Limit: 3, Period: "day"}, Stages: []string{"prod"}}))(t)
	k := must(s.CreateKey(apikeys.KeySpec{Name: "k", Plan: plan.ID}))(t)
	clock := &fakeClock{now: time.Date(2026, 5, 4, 23, 59, 0, 0, time.UTC)}
	h := harness(t, ``, s, clock)
	for i := 0; i < 3; i++ {
		if r := get(h, "/pets", [2]string{"x-api-key", k.Value}); r.Status != 200 {
			t.Fatalf("request %d within the quota: %d", i, r.Status)
		}
	}
	r := get(h, "/pets", [2]string{"x-api-key", k.Value})
	refused(t, "over the quota", r, 429, "Limit Exceeded")
	if r.Header("x-quota-limit") != "3" || r.Header("x-quota-reset") != "2026-05-05T00:00:00Z" || r.Header("retry-after") == "" {
		t.Errorf("quota headers %v", r.Headers)
	}
	clock.Advance(time.Minute)
	if r := get(h, "/pets", [2]string{"x-api-key", k.Value}); r.Status != 200 {
		t.Fatalf("the next day: %d", r.Status)
	}
}

type failingStore struct{}

func (failingStore) TakeTokens(context.Context, string, float64, int, int) (wasm.TokenResult, error) {
	return wasm.TokenResult{}, errors.New("redis: connection refused")
}
func (failingStore) UseQuota(context.Context, string, wasm.QuotaPeriod, int64, int64) (wasm.QuotaResult, error) {
	return wasm.QuotaResult{}, errors.New("redis: connection refused")
}

func TestFailures(t *testing.T) {
	s := newStore(t)
	plan := must(s.CreatePlan(apikeys.PlanSpec{Name: "p", Throttle: &apikeys.Throttle{Rate: 5}}))(t)
	k := must(s.CreateKey(apikeys.KeySpec{Name: "k", Plan: plan.ID}))(t)
	for _, c := range []struct {
		onError string
		want    int
	}{{"fail_closed", 503}, {"fail_open", 200}} {
		h := sdktest.New(t, pluginWasm(t), sdktest.Options{Config: `{"on_error": "` + c.onError + `"}`, Policies: failingStore{}, APIKeys: s})
		for i := 0; i < 3; i++ {
			if r := get(h, "/", [2]string{"x-api-key", k.Value}); r.Status != c.want {
				t.Errorf("%s: %d, want %d", c.onError, r.Status, c.want)
			}
		}
		if n, _ := h.Metric("api_key_store_errors_total"); n != 3 {
			t.Errorf("%s: store errors %d, want 3", c.onError, n)
		}
	}
	// A gateway without a key store: 500, logged once for several requests.
	h := sdktest.New(t, pluginWasm(t), sdktest.Options{})
	for i := 0; i < 3; i++ {
		refused(t, "no key store", get(h, "/", [2]string{"x-api-key", k.Value}), 500, "Internal server error")
	}
	logged := 0
	for _, l := range h.Logs() {
		if strings.Contains(l, "could not verify API keys") {
			logged++
		}
	}
	if logged != 1 {
		t.Errorf("the missing key store was logged %d times, want once:\n%s", logged, strings.Join(h.Logs(), "\n"))
	}
}

func TestBadConfigs(t *testing.T) {
	for _, c := range []struct{ config, want string }{
		{`{"header": "x api key"}`, "not an HTTP header name"},
		{`{"header": ":path"}`, "not an HTTP header name"},
		{`{"header": ""}`, "say where clients send the key"},
		{`{"query": "a&b"}`, "query parameter name"},
		{`{"id_header": "x-api-key"}`, "choose another"},
		{`{"id_header": "bad header"}`, "id_header"},
		{`{"on_error": "ignore"}`, "fail_open"},
		{`{"required": "yes"}`, "not valid JSON"},
		{`{"headers": "x-api-key"}`, "unknown field"},
		{`[]`, "not valid JSON"},
	} {
		_, err := sdktest.NewE(t, pluginWasm(t), sdktest.Options{Config: c.config})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %s: %v, want an error mentioning %q", c.config, err, c.want)
		}
	}
}
