package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// rawConfig is the JSON configuration; unknown fields are errors.
type rawConfig struct {
	rawRule
	TrustedProxies []string           `json:"trusted_proxies"`
	ClientIPHeader string             `json:"client_ip_header"`
	Routes         map[string]rawRule `json:"routes"`
}

// rawRule is an allow/deny list with its default.
type rawRule struct {
	Allow   []string `json:"allow"`
	Deny    []string `json:"deny"`
	Default string   `json:"default"`
}

// rule is a compiled rawRule.
type rule struct {
	allow, deny *ipSet
	allowByDef  bool
}

// decide: deny wins, then allow, then the default.
func (r *rule) decide(a netip.Addr) bool {
	if r.deny.contains(a) {
		return false
	}
	if r.allow.contains(a) {
		return true
	}
	return r.allowByDef
}

type config struct {
	rule
	trusted *ipSet
	header  string // x-forwarded-for or forwarded; "" when no proxy is trusted
	routes  map[string]*rule
}

func parseConfig(data []byte) (*config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New(`configuration is empty; want at least {"allow": ["10.0.0.0/8"]} or {"deny": [...]}`)
	}
	var r rawConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("configuration is not valid JSON for ip-filter: %w", err)
	}
	c := &config{routes: map[string]*rule{}}
	main, err := compileRule("", r.rawRule)
	if err != nil {
		return nil, err
	}
	c.rule = *main
	if len(r.TrustedProxies) > 0 {
		ps, err := prefixes("trusted_proxies", r.TrustedProxies)
		if err != nil {
			return nil, err
		}
		c.trusted = compile(ps)
		c.header = "x-forwarded-for"
	}
	switch h := strings.ToLower(r.ClientIPHeader); h {
	case "":
	case "x-forwarded-for", "forwarded":
		if c.trusted == nil {
			return nil, fmt.Errorf(`configuration: "client_ip_header" %q needs "trusted_proxies": without them a client could choose its own address`, r.ClientIPHeader)
		}
		c.header = h
	default:
		return nil, fmt.Errorf(`configuration: "client_ip_header" %q: want "x-forwarded-for" or "forwarded"`, r.ClientIPHeader)
	}
	for k, rr := range r.Routes {
		method, route, _ := strings.Cut(k, " ")
		if method == "" || method != strings.ToUpper(method) || strings.ContainsAny(method, "/ ") || (route != "" && !strings.HasPrefix(route, "/")) {
			return nil, fmt.Errorf(`configuration: routes key %q: want "GET" or "GET /route/{template}" (upper-case method)`, k)
		}
		rl, err := compileRule("routes["+k+"].", rr)
		if err != nil {
			return nil, err
		}
		c.routes[k] = rl
	}
	return c, nil
}

func compileRule(at string, r rawRule) (*rule, error) {
	if len(r.Allow) == 0 && len(r.Deny) == 0 && r.Default == "" {
		return nil, fmt.Errorf(`configuration: %sgive "allow", "deny" or "default"`, at)
	}
	allow, err := prefixes(at+"allow", r.Allow)
	if err != nil {
		return nil, err
	}
	deny, err := prefixes(at+"deny", r.Deny)
	if err != nil {
		return nil, err
	}
	rl := &rule{allow: compile(allow), deny: compile(deny), allowByDef: len(allow) == 0}
	switch r.Default {
	case "":
	case "allow":
		rl.allowByDef = true
	case "deny":
		rl.allowByDef = false
	default:
		return nil, fmt.Errorf(`configuration: %q %q: want "allow" or "deny"`, at+"default", r.Default)
	}
	return rl, nil
}

func prefixes(field string, list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for i, s := range list {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("configuration: %s[%d]: %v", field, i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// ruleFor returns the rule for a request: a "METHOD /route" override,
// else a "METHOD" override, else the plugin's.
func (c *config) ruleFor(method, route string) *rule {
	if len(c.routes) > 0 {
		if r, ok := c.routes[method+" "+route]; ok {
			return r
		}
		if r, ok := c.routes[method]; ok {
			return r
		}
	}
	return &c.rule
}
