// Command rate-limit is wasmgate's throttling policy: token buckets (rate
// per second, burst) kept by the host, keyed per stage, route, method,
// client IP, API key or header as configured, shared by every instance and
// (with --redis) every gateway. A throttled request gets 429 with
// Retry-After and X-RateLimit-Limit/Remaining/Reset; allowed responses
// carry the X-RateLimit-* headers too. See README.md.
package main

import (
	"strconv"
	"strings"
	"time"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &root{} })
}

type root struct {
	sdk.DefaultRootContext
	cfg       *config
	throttled sdk.Counter
	errors    sdk.Counter
	metrics   bool

	// Store failures are logged once per logEvery, with the count of
	// those not logged since, not once per request.
	lastLog    time.Time
	suppressed int

	// keyBuf is where bucketKey builds keys (an instance runs one
	// callback at a time), so a key costs one allocation.
	keyBuf []byte
}

const logEvery = 10 * time.Second

func (r *root) OnPluginStart(int) bool {
	data, err := sdk.GetPluginConfiguration()
	if err != nil && err != sdk.ErrNotFound {
		sdk.LogErrorf("rate-limit: cannot read the configuration: %v", err)
		return false
	}
	if r.cfg, err = parseConfig(data); err != nil {
		sdk.LogErrorf("rate-limit: %v", err)
		return false
	}
	hooks := sdk.HookRequestHeaders
	if r.cfg.headers {
		hooks |= sdk.HookResponseHeaders
	}
	sdk.SetHooks(hooks)
	t, err1 := sdk.DefineCounterMetric("rate_limit_throttled_total")
	e, err2 := sdk.DefineCounterMetric("rate_limit_store_errors_total")
	r.throttled, r.errors, r.metrics = t, e, err1 == nil && err2 == nil
	return true
}

func (r *root) NewHTTPContext(uint32) sdk.HTTPContext { return &ctx{root: r} }

type ctx struct {
	sdk.DefaultHTTPContext
	root    *root
	limited bool // a decision was made: add headers to the response
	burst   int
	tokens  sdk.Tokens
}

func prop(path ...string) string {
	v, _ := sdk.GetPropertyString(path...)
	return v
}

// bucketKey builds the bucket name from the configured key parts.
func (c *ctx) bucketKey(method, route, override string) string {
	b := append(c.root.keyBuf[:0], c.root.cfg.keyPrefix...)
	b = append(b, override...)
	for _, p := range c.root.cfg.key {
		b = append(b, '|')
		b = append(b, p.kind...)
		b = append(b, '=')
		switch p.kind {
		case "stage":
			b = append(b, prop("wasmgate", "stage")...)
		case "route":
			b = append(b, method...)
			b = append(b, ' ')
			b = append(b, route...)
		case "method":
			b = append(b, method...)
		case "ip":
			addr := prop("source", "address")
			if i := strings.LastIndexByte(addr, ':'); i > 0 {
				addr = addr[:i]
			}
			b = append(b, addr...)
		case "api_key":
			b = append(b, prop("wasmgate", "api_key", "id")...)
		case "header":
			v, _ := sdk.GetHTTPRequestHeader(p.name)
			b = append(b, v...)
		}
	}
	if cap(b) <= 4<<10 { // a huge header value does not stay
		c.root.keyBuf = b
	}
	return string(b)
}

func (c *ctx) OnHTTPRequestHeaders(int, bool) sdk.Action {
	cfg := c.root.cfg
	method, _ := sdk.GetHTTPRequestHeader(":method")
	route := prop("wasmgate", "route", "template")
	rate, burst, override := cfg.limitsFor(method, route)
	key := c.bucketKey(method, route, override)
	t, err := sdk.TakeTokens(key, rate, burst, cfg.cost)
	if err != nil {
		return c.storeFailed(err)
	}
	c.limited, c.burst, c.tokens = true, burst, t
	if t.Allowed && cfg.quota != nil {
		return c.checkQuota(key)
	}
	if t.Allowed {
		return sdk.ActionContinue
	}
	if c.root.metrics {
		_ = c.root.throttled.Increment(1)
	}
	headers := [][2]string{{"content-type", "application/json"}, {"retry-after", seconds(t.RetryAfter.Seconds())}}
	if cfg.headers {
		headers = append(headers, c.rateHeaders()...)
	}
	_ = sdk.SendHTTPResponse(429, headers, []byte(`{"message":"Too Many Requests"}`+"\n"), -1)
	return sdk.ActionPause
}

var periods = map[string]sdk.QuotaPeriod{"day": sdk.QuotaDay, "week": sdk.QuotaWeek, "month": sdk.QuotaMonth}

// checkQuota counts the request against the key's quota for the period:
// over it, 429 "Limit Exceeded" until the period ends (API Gateway's
// usage-plan behaviour).
func (c *ctx) checkQuota(key string) sdk.Action {
	q := c.root.cfg.quota
	res, err := sdk.UseQuota(key, periods[q.Period], q.Limit, 1)
	if err != nil {
		return c.storeFailed(err)
	}
	if res.Allowed {
		return sdk.ActionContinue
	}
	if c.root.metrics {
		_ = c.root.throttled.Increment(1)
	}
	c.limited = false // the rate headers do not apply to this answer
	retry := time.Until(res.ResetAt).Seconds()
	_ = sdk.SendHTTPResponse(429, [][2]string{
		{"content-type", "application/json"},
		{"retry-after", seconds(max(retry, 1))},
		{"x-quota-limit", strconv.FormatInt(q.Limit, 10)},
		{"x-quota-remaining", "0"},
		{"x-quota-reset", res.ResetAt.UTC().Format(time.RFC3339)},
	}, []byte(`{"message":"Limit Exceeded"}`+"\n"), -1)
	return sdk.ActionPause
}

func (c *ctx) OnHTTPResponseHeaders(int, bool) sdk.Action {
	if c.limited && c.tokens.Allowed {
		for _, h := range c.rateHeaders() {
			_ = sdk.ReplaceHTTPResponseHeader(h[0], h[1])
		}
	}
	return sdk.ActionContinue
}

// storeFailed applies on_error when the token or quota store failed.
func (c *ctx) storeFailed(err error) sdk.Action {
	if c.root.metrics {
		_ = c.root.errors.Increment(1)
	}
	r := c.root
	if now := time.Now(); now.Sub(r.lastLog) >= logEvery {
		verdict := "refusing requests with 503 (on_error fail_closed)"
		if r.cfg.failOpen {
			verdict = "letting requests through (on_error fail_open)"
		}
		sdk.LogErrorf("rate-limit: the token store failed, %s: %v (%d more failures since the last report)", verdict, err, r.suppressed)
		r.lastLog, r.suppressed = now, 0
	} else {
		r.suppressed++
	}
	if r.cfg.failOpen {
		return sdk.ActionContinue
	}
	_ = sdk.SendHTTPResponse(503, [][2]string{{"content-type", "application/json"}, {"retry-after", "1"}},
		[]byte(`{"message":"Service Unavailable: the rate limiter is unavailable"}`+"\n"), -1)
	return sdk.ActionPause
}

func (c *ctx) rateHeaders() [][2]string {
	return [][2]string{
		{"x-ratelimit-limit", strconv.Itoa(c.burst)},
		{"x-ratelimit-remaining", strconv.Itoa(c.tokens.Remaining)},
		{"x-ratelimit-reset", seconds(c.tokens.ResetAfter.Seconds())},
	}
}

// seconds renders a delay in whole seconds, rounded up (never "0" for a
// positive delay: a client must not retry early).
func seconds(s float64) string {
	n := int64(s)
	if float64(n) < s {
		n++
	}
	return strconv.FormatInt(n, 10)
}
