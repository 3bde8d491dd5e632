// Command api-key is wasmgate's API key policy, after API Gateway's
// "API key required" methods and usage plans: it reads the key a client
// sends (the x-api-key header by default, or a query parameter), asks the
// gateway to verify it (keys are created through the admin API and kept
// hashed), answers 403 {"message":"Forbidden"} for a missing, unknown or
// disabled key, and enforces the usage plan the key has for the stage:
// its throttle (429 {"message":"Too Many Requests"} with Retry-After) and
// its quota (429 {"message":"Limit Exceeded"}). The verified key's id is
// the request's wasmgate.api_key.id property, which later plugins (such as
// rate-limit with key ["api_key"]) and the logs read. See README.md.
package main

import (
	"errors"
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
	http                          ctx // every request's context (see NewHTTPContext)
	cfg                           *config
	forbidden, throttled, storeEr sdk.Counter
	metrics                       bool

	// Failures are logged once per logEvery, with the count since.
	lastLog    time.Time
	suppressed int
}

const logEvery = 10 * time.Second

func (r *root) OnPluginStart(int) bool {
	data, err := sdk.GetPluginConfiguration()
	if err != nil && err != sdk.ErrNotFound {
		sdk.LogErrorf("api-key: cannot read the configuration: %v", err)
		return false
	}
	if r.cfg, err = parseConfig(data); err != nil {
		sdk.LogErrorf("api-key: %v", err)
		return false
	}
	sdk.SetHooks(sdk.HookRequestHeaders)
	f, err1 := sdk.DefineCounterMetric("api_key_forbidden_total")
	t, err2 := sdk.DefineCounterMetric("api_key_throttled_total")
	e, err3 := sdk.DefineCounterMetric("api_key_store_errors_total")
	r.forbidden, r.throttled, r.storeEr = f, t, e
	r.metrics = err1 == nil && err2 == nil && err3 == nil
	return true
}

// SharedHTTPContext gives every request the one context (the plugin keeps
// nothing per request): the SDK then keeps no entry per request
// (sdk.HTTPContextSharer).
func (r *root) SharedHTTPContext() sdk.HTTPContext { return r.NewHTTPContext(0) }

// NewHTTPContext returns the root's one context: it keeps nothing per
// request, and an allocation per request costs a Wasm guest more than the
// rest of its callbacks.
func (r *root) NewHTTPContext(uint32) sdk.HTTPContext {
	r.http.root = r
	return &r.http
}

type ctx struct {
	sdk.DefaultHTTPContext
	root *root
}

func prop(path ...string) string {
	v, _ := sdk.GetPropertyString(path...)
	return v
}

func (c *ctx) count(m sdk.Counter) {
	if c.root.metrics {
		_ = m.Increment(1)
	}
}

// reply answers the request with a JSON message, API Gateway style.
func reply(status int, message string, headers ...[2]string) sdk.Action {
	h := append([][2]string{{"content-type", "application/json"}}, headers...)
	_ = sdk.SendHTTPResponse(uint32(status), h, []byte(`{"message":"`+message+`"}`+"\n"), -1)
	return sdk.ActionPause
}

func (c *ctx) forbid() sdk.Action {
	c.count(c.root.forbidden)
	return reply(403, "Forbidden")
}

func (c *ctx) OnHTTPRequestHeaders(int, bool) sdk.Action {
	cfg := c.root.cfg
	if cfg.idHeader != "" {
		// Only this plugin says which key a request carries.
		_ = sdk.RemoveHTTPRequestHeader(cfg.idHeader)
	}
	value, fromQuery := c.keyValue()
	if value == "" {
		if cfg.required {
			return c.forbid()
		}
		return sdk.ActionContinue
	}
	key, err := sdk.VerifyAPIKey(value)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return c.forbid()
	case err != nil:
		c.logFailure("the gateway could not verify API keys (is it serving with a key store?)", err)
		return reply(500, "Internal server error")
	}
	if key.Plan == nil && cfg.requirePlan {
		return c.forbid() // a valid key without a usage plan for this stage
	}
	if key.Plan != nil {
		if a, done := c.enforce(key); done {
			return a
		}
	}
	if !cfg.forwardKey {
		c.stripKey(fromQuery)
	}
	if cfg.idHeader != "" {
		_ = sdk.ReplaceHTTPRequestHeader(cfg.idHeader, key.ID)
	}
	return sdk.ActionContinue
}

// keyValue returns the key the client sent: the header, else the query
// parameter; fromQuery says which.
func (c *ctx) keyValue() (value string, fromQuery bool) {
	cfg := c.root.cfg
	if cfg.header != "" {
		if v, err := sdk.GetHTTPRequestHeader(cfg.header); err == nil && v != "" {
			return v, false
		}
	}
	if cfg.query != "" {
		path, _ := sdk.GetHTTPRequestHeader(":path")
		if _, q, ok := strings.Cut(path, "?"); ok {
			return queryValue(q, cfg.query), true
		}
	}
	return "", false
}

// stripKey removes the key from the request before the upstream.
func (c *ctx) stripKey(fromQuery bool) {
	cfg := c.root.cfg
	if cfg.header != "" {
		_ = sdk.RemoveHTTPRequestHeader(cfg.header)
	}
	if fromQuery {
		path, _ := sdk.GetHTTPRequestHeader(":path")
		_ = sdk.ReplaceHTTPRequestHeader(":path", withoutParam(path, cfg.query))
	}
}

// enforce applies the plan's throttle and quota; done is true when the
// request was answered (or the store failed closed).
func (c *ctx) enforce(k *sdk.APIKey) (sdk.Action, bool) {
	p := k.Plan
	stage := prop("wasmgate", "stage")
	if t := c.throttleFor(p); t != nil {
		// Per key, plan and stage; the limits are part of the name so a
		// changed plan starts a fresh bucket.
		bucket := "api-key:t|" + p.ID + "|" + k.ID + "|" + stage + "|" +
			strconv.FormatFloat(t.Rate, 'g', -1, 64) + "/" + strconv.Itoa(t.Burst)
		res, err := sdk.TakeTokens(bucket, t.Rate, t.Burst, 1)
		if err != nil {
			return c.storeFailed(err)
		}
		if !res.Allowed {
			c.count(c.root.throttled)
			return reply(429, "Too Many Requests", [2]string{"retry-after", seconds(res.RetryAfter.Seconds())}), true
		}
	}
	if q := p.Quota; q != nil {
		period, ok := q.QuotaPeriod()
		if !ok {
			c.logFailure("the usage plan "+p.ID+" has a quota period this plugin does not know", errors.New(q.Period))
			return reply(500, "Internal server error"), true
		}
		// Per key and plan, across the plan's stages (as API Gateway);
		// the limit is not part of the name, so raising it keeps the
		// count of the period.
		res, err := sdk.UseQuota("api-key:q|"+p.ID+"|"+k.ID+"|"+q.Period, period, q.Limit, 1)
		if err != nil {
			return c.storeFailed(err)
		}
		if !res.Allowed {
			c.count(c.root.throttled)
			return reply(429, "Limit Exceeded",
				[2]string{"retry-after", seconds(max(time.Until(res.ResetAt).Seconds(), 1))},
				[2]string{"x-quota-limit", strconv.FormatInt(q.Limit, 10)},
				[2]string{"x-quota-remaining", "0"},
				[2]string{"x-quota-reset", res.ResetAt.UTC().Format(time.RFC3339)}), true
		}
	}
	return sdk.ActionContinue, false
}

// throttleFor is the plan's throttle for the request's route: a
// "METHOD /template" override, else the plan's.
func (c *ctx) throttleFor(p *sdk.UsagePlan) *sdk.Throttle {
	if len(p.RouteThrottles) > 0 {
		method, _ := sdk.GetHTTPRequestHeader(":method")
		if t, ok := p.RouteThrottles[method+" "+prop("wasmgate", "route", "template")]; ok {
			return &t
		}
	}
	return p.Throttle
}

// storeFailed applies on_error when the token or quota store failed.
func (c *ctx) storeFailed(err error) (sdk.Action, bool) {
	c.count(c.root.storeEr)
	if c.root.cfg.failOpen {
		c.logFailure("the token store failed, letting requests through (on_error fail_open)", err)
		return sdk.ActionContinue, false
	}
	c.logFailure("the token store failed, refusing requests with 503 (on_error fail_closed)", err)
	return reply(503, "Service Unavailable", [2]string{"retry-after", "1"}), true
}

func (c *ctx) logFailure(what string, err error) {
	r := c.root
	if now := time.Now(); now.Sub(r.lastLog) >= logEvery {
		sdk.LogErrorf("api-key: %s: %v (%d more failures since the last report)", what, err, r.suppressed)
		r.lastLog, r.suppressed = now, 0
	} else {
		r.suppressed++
	}
}

// seconds renders a delay in whole seconds, rounded up (never "0" for a
// positive delay).
func seconds(s float64) string {
	n := int64(s)
	if float64(n) < s {
		n++
	}
	return strconv.FormatInt(max(n, 1), 10)
}
