package config

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// extUpstreams is the root extension that declares upstream pools.
const extUpstreams = "x-wasmgate-upstreams"

// UpstreamScheme is the scheme of an http_proxy integration URI that
// names an upstream pool: "upstream://NAME/path/{param}".
const UpstreamScheme = "upstream"

// Balancing policies of an upstream, as found in Upstream.Balance (the
// hash policies are "hash:header:NAME", "hash:cookie:NAME" and "hash:ip").
const (
	BalanceRoundRobin   = "round_robin"
	BalanceLeastRequest = "least_request"
	BalanceHashIP       = "hash:ip"
)

// Retry conditions, as found in Retries.On (besides status codes "502",
// "503" and "504").
const RetryConnectFailure = "connect_failure"

// Limits and defaults of x-wasmgate-upstreams.
const (
	MaxUpstreamWeight       = 100
	MaxRetryAttempts        = 5
	DefaultRetryBudget      = 20 // percent
	DefaultHealthInterval   = 10 * time.Second
	DefaultHealthTimeout    = 2 * time.Second
	DefaultHealthyThreshold = 2
	DefaultUnhealthyThresh  = 3
	DefaultEjection         = 30 * time.Second
)

// Upstream is one entry of x-wasmgate-upstreams: a pool of targets that
// http_proxy integrations reach as upstream://NAME/...
type Upstream struct {
	// Name is the key in x-wasmgate-upstreams.
	Name string `json:"name"`
	// Targets are the pool's members, at least one.
	Targets []UpstreamTarget `json:"targets"`
	// Balance is BalanceRoundRobin (weighted, the default),
	// BalanceLeastRequest, "hash:header:NAME", "hash:cookie:NAME" or
	// BalanceHashIP (consistent hashing on a ring).
	Balance string `json:"balance"`
	// HealthCheck configures active health checks; nil when none.
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
	// Passive configures ejection after consecutive failures; nil when
	// none.
	Passive *PassiveCheck `json:"passive,omitempty"`
	// MaxConnections caps the connections to each target; 0 is no cap.
	MaxConnections int `json:"maxConnections,omitempty"`
	// MaxRequests caps the outstanding requests to the whole upstream
	// (a circuit breaker: beyond it requests get 503 at once); 0 is no
	// cap.
	MaxRequests int `json:"maxRequests,omitempty"`
	// Retries configures retries of idempotent requests.
	Retries Retries `json:"retries"`
	// ConnectTimeout bounds a connection attempt; 0 uses the gateway's
	// default.
	ConnectTimeout time.Duration `json:"connectTimeout,omitempty"`
	// FirstByteTimeout bounds the wait for the response headers once the
	// request is sent; 0 means only the integration timeout applies.
	FirstByteTimeout time.Duration `json:"firstByteTimeout,omitempty"`
	// Loc is the JSON pointer of the upstream in the document.
	Loc string `json:"loc"`
}

// UpstreamTarget is one member of an upstream pool.
type UpstreamTarget struct {
	// URL is "http://host:port" or "https://host:port", without a path.
	URL string `json:"url"`
	// Weight is 1 to MaxUpstreamWeight (default 1).
	Weight int `json:"weight"`
}

// HealthCheck configures an upstream's active health checks: a GET of
// Path on every target each Interval.
type HealthCheck struct {
	Path               string        `json:"path"`
	Interval           time.Duration `json:"interval"`
	Timeout            time.Duration `json:"timeout"`
	HealthyThreshold   int           `json:"healthyThreshold"`
	UnhealthyThreshold int           `json:"unhealthyThreshold"`
	// ExpectedStatus are the statuses that pass: codes ("204") or classes
	// ("2xx", the default).
	ExpectedStatus []string `json:"expectedStatus"`
}

// PassiveCheck ejects a target after ConsecutiveFailures failed requests
// (5xx responses or connection errors) for Ejection.
type PassiveCheck struct {
	ConsecutiveFailures int           `json:"consecutiveFailures"`
	Ejection            time.Duration `json:"ejection"`
}

// Retries configures an upstream's retries.
type Retries struct {
	// Attempts is the number of extra tries, 0 (the default) to
	// MaxRetryAttempts.
	Attempts int `json:"attempts"`
	// On lists what is retried: RetryConnectFailure (the default) and
	// the statuses "502", "503", "504".
	On []string `json:"on"`
	// BudgetPercent caps retries at this share of requests (default
	// DefaultRetryBudget).
	BudgetPercent int `json:"budgetPercent"`
}

// MatchStatus reports whether a health check status passes.
func (h *HealthCheck) MatchStatus(code int) bool {
	s := strconv.Itoa(code)
	for _, e := range h.ExpectedStatus {
		if e == s || len(e) == 3 && strings.HasSuffix(e, "xx") && e[0] == s[0] {
			return true
		}
	}
	return false
}

// HashSource splits a hash balance policy: "header" or "cookie" and a
// name, or "ip" and "". ok is false for the other policies.
func HashSource(balance string) (kind, name string, ok bool) {
	rest, ok := strings.CutPrefix(balance, "hash:")
	if !ok {
		return "", "", false
	}
	kind, name, _ = strings.Cut(rest, ":")
	return kind, name, true
}

// UpstreamName returns the upstream named by an integration URI
// "upstream://NAME/...", or "" when it names none.
func UpstreamName(uri string) string {
	rest, ok := strings.CutPrefix(uri, UpstreamScheme+"://")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

var retryConditions = []string{RetryConnectFailure, "502", "503", "504"}

// decodeUpstreams decodes x-wasmgate-upstreams. Invalid entries are
// reported and left out.
func decodeUpstreams(probs *problems, v any, at string) map[string]*Upstream {
	m, ok := v.(map[string]any)
	if !ok {
		probs.add(at, "%s must be an object of upstream name → {targets, balance, ...}, not %s", extUpstreams, kindOf(v))
		return nil
	}
	out := map[string]*Upstream{}
	for _, name := range sortedKeys(m) {
		p := ptr(at, name)
		if !validName(name) {
			probs.add(p, "bad upstream name %q: use 1 to 128 letters, digits, '.', '_' and '-', starting with a letter or digit", name)
			continue
		}
		if u, ok := decodeUpstream(probs, m[name], p); ok {
			u.Name = name
			out[name] = u
		}
	}
	return out
}

func decodeUpstream(probs *problems, v any, at string) (*Upstream, bool) {
	o, ok := asObject(probs, v, at, "an upstream", "targets", "balance", "health_check", "passive",
		"max_connections", "max_requests", "retries", "timeouts")
	if !ok {
		return nil, false
	}
	u := &Upstream{Balance: BalanceRoundRobin, Loc: at, Retries: Retries{On: []string{RetryConnectFailure}, BudgetPercent: DefaultRetryBudget}}
	good := true
	fail := func(ok bool, k string) {
		if !ok && o.has(k) {
			good = false
		}
	}

	// targets
	tv, has := o.m["targets"]
	list, isList := tv.([]any)
	switch {
	case !has:
		probs.add(at, `targets is required: a list of {url: "http://10.0.0.1:8080", weight: 1}`)
		good = false
	case !isList || len(list) == 0:
		probs.add(o.ptr("targets"), `must be a non-empty list of {url: "http://10.0.0.1:8080", weight: 1}, not %s`, kindOf(tv))
		good = false
	}
	seen := map[string]string{}
	for i, e := range list {
		tp := idx(o.ptr("targets"), i)
		to, ok := asObject(probs, e, tp, "a target", "url", "weight")
		if !ok {
			good = false
			continue
		}
		t := UpstreamTarget{Weight: 1}
		if s, ok := to.required("url", `, e.g. "http://10.0.0.1:8080"`); ok {
			if norm, ok := checkTargetURL(probs, to.ptr("url"), s); ok {
				if first, dup := seen[norm]; dup {
					probs.add(to.ptr("url"), "target %q is already listed at %s", s, first)
					good = false
				}
				seen[norm] = tp
				t.URL = norm
			} else {
				good = false
			}
		} else {
			good = false
		}
		if w, ok := to.integer("weight", 1, MaxUpstreamWeight); ok {
			t.Weight = int(w)
		} else if to.has("weight") {
			good = false
		}
		u.Targets = append(u.Targets, t)
	}

	if b, ok := o.str("balance"); ok {
		if !validBalance(b) {
			probs.add(o.ptr("balance"), `unknown balance %q; use round_robin, least_request, "hash:header:NAME", "hash:cookie:NAME" or "hash:ip"`, b)
			good = false
		}
		u.Balance = b
	} else {
		fail(false, "balance")
	}

	if hv, ok := o.m["health_check"]; ok {
		hc, ok := decodeHealthCheck(probs, hv, o.ptr("health_check"))
		u.HealthCheck = hc
		good = good && ok
	}
	if pv, ok := o.m["passive"]; ok {
		po, ok := asObject(probs, pv, o.ptr("passive"), "passive", "consecutive_failures", "ejection_ms")
		if ok {
			pc := &PassiveCheck{ConsecutiveFailures: 5, Ejection: DefaultEjection}
			if n, ok := po.integer("consecutive_failures", 1, 1000); ok {
				pc.ConsecutiveFailures = int(n)
			} else if po.has("consecutive_failures") {
				good = false
			}
			if ms, ok := po.integer("ejection_ms", 1, int64(time.Hour/time.Millisecond)); ok {
				pc.Ejection = time.Duration(ms) * time.Millisecond
			} else if po.has("ejection_ms") {
				good = false
			}
			u.Passive = pc
		} else {
			good = false
		}
	}
	if n, ok := o.integer("max_connections", 1, 1<<20); ok {
		u.MaxConnections = int(n)
	} else {
		fail(false, "max_connections")
	}
	if n, ok := o.integer("max_requests", 1, 1<<24); ok {
		u.MaxRequests = int(n)
	} else {
		fail(false, "max_requests")
	}
	if rv, ok := o.m["retries"]; ok {
		ro, ok := asObject(probs, rv, o.ptr("retries"), "retries", "attempts", "on", "budget_percent")
		if ok {
			if n, ok := ro.integer("attempts", 0, MaxRetryAttempts); ok {
				u.Retries.Attempts = int(n)
			} else if ro.has("attempts") {
				good = false
			}
			if n, ok := ro.integer("budget_percent", 1, 100); ok {
				u.Retries.BudgetPercent = int(n)
			} else if ro.has("budget_percent") {
				good = false
			}
			if ro.has("on") {
				on, ok := retryOn(ro)
				u.Retries.On = on
				good = good && ok
			}
		} else {
			good = false
		}
	}
	if tv, ok := o.m["timeouts"]; ok {
		to, ok := asObject(probs, tv, o.ptr("timeouts"), "timeouts", "connect_ms", "first_byte_ms")
		if ok {
			max := MaxTimeout.Milliseconds()
			if ms, ok := to.integer("connect_ms", 1, max); ok {
				u.ConnectTimeout = time.Duration(ms) * time.Millisecond
			} else if to.has("connect_ms") {
				good = false
			}
			if ms, ok := to.integer("first_byte_ms", 1, max); ok {
				u.FirstByteTimeout = time.Duration(ms) * time.Millisecond
			} else if to.has("first_byte_ms") {
				good = false
			}
		} else {
			good = false
		}
	}
	return u, good
}

// retryOn reads retries.on: a list of conditions; numbers are accepted
// for the statuses.
func retryOn(o object) ([]string, bool) {
	v := o.m["on"]
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		o.probs.add(o.ptr("on"), "must be a non-empty list of %s, not %s", strings.Join(retryConditions, ", "), kindOf(v))
		return nil, false
	}
	var out []string
	good := true
	for i, e := range list {
		s, isStr := e.(string)
		if n, isInt := toInt(e); isInt {
			s, isStr = strconv.FormatInt(n, 10), true
		}
		if !isStr || !slices.Contains(retryConditions, s) {
			o.probs.add(idx(o.ptr("on"), i), "unknown retry condition %s; use %s", kindOf(e), strings.Join(retryConditions, ", "))
			good = false
			continue
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, good
}

func decodeHealthCheck(probs *problems, v any, at string) (*HealthCheck, bool) {
	o, ok := asObject(probs, v, at, "health_check", "path", "interval_ms", "timeout_ms",
		"healthy_threshold", "unhealthy_threshold", "expected_status")
	if !ok {
		return nil, false
	}
	hc := &HealthCheck{
		Interval: DefaultHealthInterval, Timeout: DefaultHealthTimeout,
		HealthyThreshold: DefaultHealthyThreshold, UnhealthyThreshold: DefaultUnhealthyThresh,
		ExpectedStatus: []string{"2xx"},
	}
	good := true
	if p, ok := o.required("path", `, e.g. "/healthz"`); ok {
		if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " #") {
			probs.add(o.ptr("path"), "bad health check path %q: write an absolute path, e.g. \"/healthz\"", p)
			good = false
		}
		hc.Path = p
	} else {
		good = false
	}
	day := int64(24 * time.Hour / time.Millisecond)
	timesOK := true
	if ms, ok := o.integer("interval_ms", 10, day); ok {
		hc.Interval = time.Duration(ms) * time.Millisecond
	} else if o.has("interval_ms") {
		timesOK = false
	}
	if ms, ok := o.integer("timeout_ms", 1, day); ok {
		hc.Timeout = time.Duration(ms) * time.Millisecond
	} else if o.has("timeout_ms") {
		timesOK = false
	}
	good = good && timesOK
	if o.has("timeout_ms") && timesOK && hc.Timeout > hc.Interval {
		probs.add(o.ptr("timeout_ms"), "%d is longer than interval_ms (%d): a check must end before the next starts", hc.Timeout.Milliseconds(), hc.Interval.Milliseconds())
		good = false
	}
	if n, ok := o.integer("healthy_threshold", 1, 100); ok {
		hc.HealthyThreshold = int(n)
	} else if o.has("healthy_threshold") {
		good = false
	}
	if n, ok := o.integer("unhealthy_threshold", 1, 100); ok {
		hc.UnhealthyThreshold = int(n)
	} else if o.has("unhealthy_threshold") {
		good = false
	}
	if sv, ok := o.m["expected_status"]; ok {
		list, isList := sv.([]any)
		if !isList {
			list = []any{sv}
		}
		hc.ExpectedStatus = nil
		for i, e := range list {
			ep := o.ptr("expected_status")
			if isList {
				ep = idx(ep, i)
			}
			s, isStr := e.(string)
			if n, isInt := toInt(e); isInt {
				s, isStr = strconv.FormatInt(n, 10), true
			}
			if !isStr || !validStatusPattern(s) {
				probs.add(ep, "bad expected status %s; use a status code (204) or a class (\"2xx\")", kindOf(e))
				good = false
				continue
			}
			hc.ExpectedStatus = append(hc.ExpectedStatus, s)
		}
		if isList && len(list) == 0 {
			probs.add(o.ptr("expected_status"), "must not be empty; use a status code (204) or a class (\"2xx\")")
			good = false
		}
	}
	return hc, good
}

func validStatusPattern(s string) bool {
	if len(s) != 3 || s[0] < '1' || s[0] > '5' {
		return false
	}
	if s[1:] == "xx" {
		return true
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 100 && n <= 599
}

func validBalance(b string) bool {
	switch b {
	case BalanceRoundRobin, BalanceLeastRequest, BalanceHashIP:
		return true
	}
	kind, name, ok := HashSource(b)
	if !ok || name == "" {
		return false
	}
	switch kind {
	case "header":
		return validToken(name)
	case "cookie":
		return validToken(name)
	}
	return false
}

// validToken: an HTTP token (header or cookie name).
func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return s != ""
}

// checkTargetURL validates a target URL and returns it without a
// trailing slash.
func checkTargetURL(probs *problems, at, s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		probs.add(at, "bad target URL %q: write http://host:port or https://host:port", s)
		return "", false
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		probs.add(at, "bad target URL %q: a target is scheme://host:port only; put the path in the integration uri (upstream://NAME/path)", s)
		return "", false
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			probs.add(at, "bad target URL %q: port %s is out of range", s, p)
			return "", false
		}
	}
	return u.Scheme + "://" + u.Host, true
}

// checkUpstreamURI validates the name part of "upstream://NAME/path";
// the path is checked by checkURI like any other.
func checkUpstreamURI(probs *problems, at, uri string) bool {
	rest := strings.TrimPrefix(uri, UpstreamScheme+"://")
	name, path, hasPath := strings.Cut(rest, "/")
	if !validName(name) {
		probs.add(at, "bad upstream name in %q: write upstream://NAME/path with NAME a key of %s", uri, extUpstreams)
		return false
	}
	if hasPath {
		if strings.ContainsAny(path, "#") {
			probs.add(at, "%q: a fragment is not sent upstream", uri)
			return false
		}
	}
	return true
}

// checkUpstreamRefs reports integration URIs naming upstreams that
// x-wasmgate-upstreams does not declare (declared: every key, valid or
// not, so that a broken upstream is reported once).
func checkUpstreamRefs(probs *problems, ops []*Operation, declared map[string]any) {
	done := map[string]bool{}
	for _, op := range ops {
		in := op.Integration
		name := UpstreamName(in.URI)
		if name == "" || done[in.Loc] {
			continue
		}
		done[in.Loc] = true
		if _, ok := declared[name]; ok {
			continue
		}
		if len(declared) == 0 {
			probs.add(ptr(in.Loc, "uri"), "unknown upstream %q: the document has no %s", name, extUpstreams)
		} else {
			probs.add(ptr(in.Loc, "uri"), "unknown upstream %q; declared upstreams are %s", name, strings.Join(sortedKeys(declared), ", "))
		}
	}
}
