package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// rawConfig is the JSON configuration; unknown fields are errors.
type rawConfig struct {
	Rate    *float64          `json:"rate"`
	Burst   *int              `json:"burst"`
	Cost    *int              `json:"cost"`
	Key     []string          `json:"key"`
	Methods map[string]limits `json:"methods"`
	OnError string            `json:"on_error"`
	Headers *bool             `json:"headers"`
	Quota   *quota            `json:"quota"`
}

// quota caps the requests of a key per calendar period (UTC), on top of
// the rate: API Gateway usage plans' quotas.
type quota struct {
	Limit  int64  `json:"limit"`
	Period string `json:"period"` // day, week, month
}

// limits overrides rate and burst for one method ("GET", or "POST /pets/{id}").
type limits struct {
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst"`
}

// config is the validated configuration.
type config struct {
	rate      float64
	burst     int
	cost      int
	key       []keyPart
	methods   map[string]limits // by "METHOD" or "METHOD /route/template"
	failOpen  bool
	headers   bool
	keyPrefix string
	quota     *quota
}

// keyPart is one component of a bucket key.
type keyPart struct {
	kind string // stage, route, method, ip, api_key, header
	name string // the header name for kind header
}

func parseConfig(data []byte) (*config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New(`configuration is empty; want at least {"rate": 10}`)
	}
	var r rawConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("configuration is not valid JSON for rate-limit: %w", err)
	}
	if r.Rate == nil {
		return nil, errors.New(`configuration: "rate" (requests per second) is required`)
	}
	c := &config{rate: *r.Rate, cost: 1, methods: map[string]limits{}, headers: true}
	if err := checkLimits("rate", c.rate, 0); err != nil {
		return nil, err
	}
	c.burst = int(math.Ceil(c.rate))
	if r.Burst != nil {
		c.burst = *r.Burst
	}
	if c.burst < 1 || c.burst > 1_000_000_000 {
		return nil, fmt.Errorf(`configuration: "burst" %d must be between 1 and 1000000000`, c.burst)
	}
	if r.Cost != nil {
		c.cost = *r.Cost
		if c.cost < 1 || c.cost > c.burst {
			return nil, fmt.Errorf(`configuration: "cost" %d must be between 1 and the burst (%d)`, c.cost, c.burst)
		}
	}
	if r.Headers != nil {
		c.headers = *r.Headers
	}
	switch r.OnError {
	case "", "fail_closed":
	case "fail_open":
		c.failOpen = true
	default:
		return nil, fmt.Errorf(`configuration: "on_error" %q: want "fail_open" or "fail_closed"`, r.OnError)
	}
	if q := r.Quota; q != nil {
		if q.Limit < 1 || q.Limit > 1<<52 {
			return nil, fmt.Errorf(`configuration: "quota.limit" %d must be between 1 and 2^52`, q.Limit)
		}
		switch q.Period {
		case "day", "week", "month":
		default:
			return nil, fmt.Errorf(`configuration: "quota.period" %q: want "day", "week" or "month"`, q.Period)
		}
		c.quota = q
	}
	keys := r.Key
	if len(keys) == 0 {
		keys = []string{"stage"}
	}
	seen := map[string]bool{}
	for _, k := range keys {
		p, err := parseKeyPart(k)
		if err != nil {
			return nil, err
		}
		if seen[k] {
			return nil, fmt.Errorf("configuration: key %q is listed twice", k)
		}
		seen[k] = true
		c.key = append(c.key, p)
	}
	for m, l := range r.Methods {
		method, route, _ := strings.Cut(m, " ")
		if method != strings.ToUpper(method) || method == "" || strings.ContainsAny(method, "/ ") {
			return nil, fmt.Errorf(`configuration: methods key %q: want "GET" or "GET /route/{template}" (upper-case method)`, m)
		}
		if route != "" && !strings.HasPrefix(route, "/") {
			return nil, fmt.Errorf(`configuration: methods key %q: the route template must start with "/"`, m)
		}
		if err := checkLimits("methods["+m+"].rate", l.Rate, l.Burst); err != nil {
			return nil, err
		}
		if l.Burst == 0 {
			l.Burst = int(math.Ceil(l.Rate))
		}
		if l.Burst < c.cost {
			return nil, fmt.Errorf(`configuration: methods[%q].burst %d is below the cost %d`, m, l.Burst, c.cost)
		}
		c.methods[m] = l
	}
	// The configuration is part of the bucket key, so two differently
	// configured uses of the same key never share a bucket.
	c.keyPrefix = fmt.Sprintf("rate-limit:%g:%d:%d:", c.rate, c.burst, c.cost)
	if c.quota != nil {
		c.keyPrefix += fmt.Sprintf("q%d/%s:", c.quota.Limit, c.quota.Period)
	}
	return c, nil
}

func checkLimits(what string, rate float64, burst int) error {
	if !(rate > 0) || rate > 1e9 {
		return fmt.Errorf("configuration: %q %v must be more than 0 and at most 1e9 (requests per second; 0.5 is one every 2 s)", what, rate)
	}
	if burst < 0 || burst > 1_000_000_000 {
		return fmt.Errorf("configuration: burst %d for %q must be between 1 and 1000000000", burst, what)
	}
	return nil
}

func parseKeyPart(k string) (keyPart, error) {
	switch k {
	case "stage", "route", "method", "ip", "api_key":
		return keyPart{kind: k}, nil
	}
	if name, ok := strings.CutPrefix(k, "header:"); ok && name != "" {
		return keyPart{kind: "header", name: strings.ToLower(name)}, nil
	}
	return keyPart{}, fmt.Errorf(`configuration: key %q: want stage, route, method, ip, api_key or header:NAME`, k)
}

// limitsFor returns the rate and burst for a request: a "METHOD /route"
// override, else a "METHOD" override, else the defaults.
func (c *config) limitsFor(method, route string) (float64, int, string) {
	if l, ok := c.methods[method+" "+route]; ok {
		return l.Rate, l.Burst, method + " " + route
	}
	if l, ok := c.methods[method]; ok {
		return l.Rate, l.Burst, method
	}
	return c.rate, c.burst, ""
}
