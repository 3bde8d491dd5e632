package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// rawConfig is the JSON configuration; unknown fields are errors.
type rawConfig struct {
	Header      *string `json:"header"`
	Query       string  `json:"query"`
	Required    *bool   `json:"required"`
	RequirePlan *bool   `json:"require_plan"`
	ForwardKey  bool    `json:"forward_key"`
	IDHeader    string  `json:"id_header"`
	OnError     string  `json:"on_error"`
}

// config is the validated configuration.
type config struct {
	header      string // lower-case; "" when the key is only read from the query
	query       string // query parameter name, "" for none
	required    bool
	requirePlan bool
	forwardKey  bool
	idHeader    string // lower-case, "" for none
	failOpen    bool
}

func validHeaderName(h string) bool {
	if h == "" || strings.HasPrefix(h, ":") {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func parseConfig(data []byte) (*config, error) {
	c := &config{header: "x-api-key", required: true, requirePlan: true}
	if len(bytes.TrimSpace(data)) == 0 {
		return c, nil // every default: x-api-key, required, a plan needed
	}
	var r rawConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("configuration is not valid JSON for api-key: %w", err)
	}
	if r.Header != nil {
		c.header = strings.ToLower(*r.Header)
		if c.header != "" && !validHeaderName(c.header) {
			return nil, fmt.Errorf(`configuration: "header" %q is not an HTTP header name`, *r.Header)
		}
	}
	if r.Query != "" {
		if strings.ContainsAny(r.Query, "&=#? ") {
			return nil, fmt.Errorf(`configuration: "query" %q: want a query parameter name, like "api_key"`, r.Query)
		}
		c.query = r.Query
	}
	if c.header == "" && c.query == "" {
		return nil, fmt.Errorf(`configuration: "header" is empty and no "query" is set: say where clients send the key`)
	}
	if r.Required != nil {
		c.required = *r.Required
	}
	if r.RequirePlan != nil {
		c.requirePlan = *r.RequirePlan
	}
	c.forwardKey = r.ForwardKey
	if r.IDHeader != "" {
		c.idHeader = strings.ToLower(r.IDHeader)
		if !validHeaderName(c.idHeader) {
			return nil, fmt.Errorf(`configuration: "id_header" %q is not an HTTP header name`, r.IDHeader)
		}
		if c.idHeader == c.header {
			return nil, fmt.Errorf(`configuration: "id_header" %q is the header the key is read from: choose another`, r.IDHeader)
		}
	}
	switch r.OnError {
	case "", "fail_closed":
	case "fail_open":
		c.failOpen = true
	default:
		return nil, fmt.Errorf(`configuration: "on_error" %q: want "fail_open" or "fail_closed"`, r.OnError)
	}
	return c, nil
}
