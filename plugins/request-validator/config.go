package main

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// rawConfig is the JSON configuration; unknown fields are errors.
type rawConfig struct {
	Validate           string `json:"validate"`
	DocumentValidators *bool  `json:"document_validators"`
	MaxBodyBytes       *int   `json:"max_body_bytes"`
	MaxDepth           *int   `json:"max_depth"`
	MaxValues          *int   `json:"max_values"`
	MaxErrors          *int   `json:"max_errors"`
	OnMissingSchema    string `json:"on_missing_schema"`
}

// Defaults and bounds.
const (
	defaultMaxBody   = 1 << 20  // 1 MiB
	maxMaxBody       = 10 << 20 // the gateway's own default cap (API Gateway's payload limit)
	defaultMaxDepth  = 32
	maxMaxDepth      = 512
	defaultMaxValues = 10000
	maxMaxValues     = 1000000
	defaultMaxErrors = 5
	maxMaxErrors     = 100
)

// config is the validated configuration.
type config struct {
	body, params  bool // what is validated when the document does not say
	docValidators bool // the document's x-amazon-apigateway-request-validator wins
	maxBody       int
	maxDepth      int
	maxValues     int
	maxErrors     int
	failOpen      bool // the operation schema is missing or does not compile: let through
}

// bodyHooks reports whether any operation may need its body validated:
// only then does the plugin declare the body hooks (and the gateway
// buffer bodies for it).
func (c *config) bodyHooks() bool { return c.body || c.docValidators }

func parseConfig(data []byte) (*config, error) {
	var r rawConfig
	if len(bytes.TrimSpace(data)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("configuration is not valid JSON for request-validator: %w", err)
		}
	}
	c := &config{docValidators: true, maxBody: defaultMaxBody, maxDepth: defaultMaxDepth, maxValues: defaultMaxValues, maxErrors: defaultMaxErrors}
	switch r.Validate {
	case "", "all":
		c.body, c.params = true, true
	case "body":
		c.body = true
	case "params":
		c.params = true
	default:
		return nil, fmt.Errorf(`configuration: "validate" %q: want "all" (default), "body" or "params"`, r.Validate)
	}
	if r.DocumentValidators != nil {
		c.docValidators = *r.DocumentValidators
	}
	if v := r.MaxBodyBytes; v != nil {
		if *v < 1 || *v > maxMaxBody {
			return nil, fmt.Errorf(`configuration: "max_body_bytes" %d must be between 1 and %d`, *v, maxMaxBody)
		}
		c.maxBody = *v
	}
	if v := r.MaxDepth; v != nil {
		if *v < 1 || *v > maxMaxDepth {
			return nil, fmt.Errorf(`configuration: "max_depth" %d must be between 1 and %d`, *v, maxMaxDepth)
		}
		c.maxDepth = *v
	}
	if v := r.MaxValues; v != nil {
		if *v < 1 || *v > maxMaxValues {
			return nil, fmt.Errorf(`configuration: "max_values" %d must be between 1 and %d`, *v, maxMaxValues)
		}
		c.maxValues = *v
	}
	if v := r.MaxErrors; v != nil {
		if *v < 1 || *v > maxMaxErrors {
			return nil, fmt.Errorf(`configuration: "max_errors" %d must be between 1 and %d`, *v, maxMaxErrors)
		}
		c.maxErrors = *v
	}
	switch r.OnMissingSchema {
	case "", "fail_closed":
	case "fail_open":
		c.failOpen = true
	default:
		return nil, fmt.Errorf(`configuration: "on_missing_schema" %q: want "fail_closed" (default: 500) or "fail_open" (let the request through unvalidated)`, r.OnMissingSchema)
	}
	return c, nil
}

// scope is what is validated for one operation.
func (c *config) scope(v *docValidator) (body, params bool) {
	if v != nil && c.docValidators {
		return v.Body, v.Params
	}
	return c.body, c.params
}
