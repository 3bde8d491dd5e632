package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// rawConfig is the JSON configuration; unknown fields are errors.
type rawConfig struct {
	TTL           *int                      `json:"ttl"`
	Key           *rawKey                   `json:"key"`
	Methods       map[string]methodOverride `json:"methods"`
	StatusCodes   []int                     `json:"status_codes"`
	Invalidation  string                    `json:"invalidation"`
	Unauthorized  string                    `json:"unauthorized"`
	InvalidKeys   []string                  `json:"invalidation_keys"`
	Header        *string                   `json:"header"`
	CacheCookies  bool                      `json:"cache_set_cookie"`
	IgnoreUpCache bool                      `json:"ignore_upstream_cache_control"`
}

type rawKey struct {
	Query   []string `json:"query"`
	Headers []string `json:"headers"`
}

// methodOverride changes the TTL for "GET", "HEAD", or "GET /route/{template}".
type methodOverride struct {
	TTL *int `json:"ttl"`
}

// Limits of API Gateway's cache: TTL up to 3600 s, default 300 s.
const (
	defaultTTL = 300
	maxTTL     = 3600
)

// config is the validated configuration.
type config struct {
	ttl        int             // seconds; 0 = caching off
	methods    map[string]int  // "GET", "GET /route" → ttl
	allQuery   bool            // every query parameter is part of the key
	query      []string        // else these, sorted
	headers    []string        // request headers in the key, lower case, sorted
	statuses   map[int]bool    // cacheable status codes
	invalidate string          // allow, ignore, require_auth
	unauth     string          // ignore, fail
	invKeys    map[string]bool // API key ids that may invalidate ("*": any)
	header     string          // X-Cache header name; "" none
	setCookie  bool            // store responses with Set-Cookie
	upstreamCC bool            // honour the upstream's Cache-Control
	hitHeaders [][2]string     // added to hits
}

// Status codes stored by default: those RFC 9111 lets a cache store
// without explicit freshness (minus partial content), as CDNs do.
var defaultStatuses = []int{200, 203, 204, 300, 301, 308, 404, 410}

func parseConfig(data []byte) (*config, error) {
	var r rawConfig
	if len(bytes.TrimSpace(data)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("configuration is not valid JSON for cache: %w", err)
		}
	}
	c := &config{ttl: defaultTTL, methods: map[string]int{}, statuses: map[int]bool{}, invKeys: map[string]bool{},
		header: "X-Cache", upstreamCC: !r.IgnoreUpCache, setCookie: r.CacheCookies}
	if r.TTL != nil {
		if err := checkTTL("ttl", *r.TTL); err != nil {
			return nil, err
		}
		c.ttl = *r.TTL
	}
	for m, o := range r.Methods {
		method, route, _ := strings.Cut(m, " ")
		if method != "GET" && method != "HEAD" {
			return nil, fmt.Errorf(`configuration: methods key %q: only GET and HEAD responses are cached; want "GET", "HEAD" or "GET /route/{template}"`, m)
		}
		if route != "" && !strings.HasPrefix(route, "/") {
			return nil, fmt.Errorf(`configuration: methods key %q: the route template must start with "/"`, m)
		}
		if o.TTL == nil {
			return nil, fmt.Errorf(`configuration: methods[%q] needs "ttl" (seconds, 0 turns caching off for it)`, m)
		}
		if err := checkTTL("methods["+m+"].ttl", *o.TTL); err != nil {
			return nil, err
		}
		c.methods[m] = *o.TTL
	}
	if k := r.Key; k != nil {
		for _, q := range k.Query {
			switch {
			case q == "*":
				c.allQuery = true
			case q == "" || strings.ContainsAny(q, "&= "):
				return nil, fmt.Errorf(`configuration: key.query %q: want a query parameter name, or "*" for all of them`, q)
			default:
				c.query = append(c.query, q)
			}
		}
		for _, h := range k.Headers {
			h = strings.ToLower(strings.TrimSpace(h))
			if h == "" || strings.HasPrefix(h, ":") || strings.ContainsAny(h, " :") {
				return nil, fmt.Errorf(`configuration: key.headers %q: want a request header name`, h)
			}
			c.headers = append(c.headers, h)
		}
		slices.Sort(c.query)
		slices.Sort(c.headers)
		c.query, c.headers = slices.Compact(c.query), slices.Compact(c.headers)
	}
	codes := r.StatusCodes
	if codes == nil {
		codes = defaultStatuses
	}
	for _, s := range codes {
		if s < 200 || s > 599 || s == 206 {
			return nil, fmt.Errorf("configuration: status_codes: %d cannot be cached (want final statuses 200-599, not 206)", s)
		}
		c.statuses[s] = true
	}
	switch r.Invalidation {
	case "", "require_auth":
		c.invalidate = "require_auth"
	case "allow", "ignore":
		c.invalidate = r.Invalidation
	default:
		return nil, fmt.Errorf(`configuration: "invalidation" %q: want "require_auth" (default), "allow" or "ignore"`, r.Invalidation)
	}
	switch r.Unauthorized {
	case "", "ignore":
		c.unauth = "ignore"
	case "warn", "fail":
		c.unauth = r.Unauthorized
	default:
		return nil, fmt.Errorf(`configuration: "unauthorized" %q: want "ignore" (serve from the cache, default), "warn" (and say so in X-Cache-Invalidation) or "fail" (403)`, r.Unauthorized)
	}
	if len(r.InvalidKeys) > 0 && c.invalidate != "require_auth" {
		return nil, fmt.Errorf(`configuration: "invalidation_keys" only applies with "invalidation": "require_auth"`)
	}
	for _, k := range r.InvalidKeys {
		if k == "" {
			return nil, fmt.Errorf(`configuration: "invalidation_keys" has an empty key id`)
		}
		c.invKeys[k] = true
	}
	if r.Header != nil {
		h := strings.TrimSpace(*r.Header)
		if strings.ContainsAny(h, " :\r\n") {
			return nil, fmt.Errorf(`configuration: "header" %q is not a header name ("" sends none)`, h)
		}
		c.header = h
	}
	if c.header != "" {
		c.hitHeaders = [][2]string{{strings.ToLower(c.header), "Hit"}}
	}
	return c, nil
}

func checkTTL(what string, ttl int) error {
	if ttl < 0 || ttl > maxTTL {
		return fmt.Errorf("configuration: %q %d must be between 0 (off) and %d seconds", what, ttl, maxTTL)
	}
	return nil
}

// ttlFor returns the TTL in seconds for a request: a "METHOD /route"
// override, else a "METHOD" override, else the default; 0 for methods
// other than GET and HEAD.
func (c *config) ttlFor(method, route string) int {
	if method != "GET" && method != "HEAD" {
		return 0
	}
	if t, ok := c.methods[method+" "+route]; ok {
		return t
	}
	if t, ok := c.methods[method]; ok {
		return t
	}
	return c.ttl
}
