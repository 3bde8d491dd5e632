// Command token-authorizer is an example custom authorizer (a TOKEN
// authorizer in API Gateway's terms) written with sdk/go/lambda: it allows
// the tokens listed in its configuration, each with its principal and
// context, and denies every other token with an explicit Deny policy (or
// answers 401, with "unknown": "unauthorized"). See README.md.
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o token-authorizer.wasm .
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
	"github.com/wasmgate/wasmgate/sdk/go/lambda"
)

// main is never called: the plugin is a WASI reactor (-buildmode=c-shared).
func main() {}

func init() {
	lambda.Configure(configure)
	lambda.StartAuthorizer(authorize)
}

// config is the plugin configuration.
type config struct {
	// Tokens maps a token, as sent (e.g. "Bearer abc"), to its grant.
	Tokens map[string]grant `json:"tokens"`
	// Unknown is what other tokens get: "deny" (an explicit Deny policy:
	// 403, cached like an allow) or "unauthorized" (401, not cached).
	Unknown string `json:"unknown"`
}

// grant is what one token is allowed.
type grant struct {
	// Principal is the principalId.
	Principal string `json:"principal"`
	// Allow are the method ARN patterns the token may invoke (default
	// "*": everything).
	Allow []string `json:"allow"`
	// Deny are method ARN patterns explicitly denied (they win).
	Deny []string `json:"deny"`
	// Context is given to the plugins after the authorizer: strings,
	// numbers and booleans.
	Context map[string]any `json:"context"`
}

var (
	cfg   config
	calls sdk.Counter
)

func configure(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c config
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf(`want {"tokens": {"TOKEN": {"principal": "...", "allow": [...], "deny": [...], "context": {...}}}, "unknown": "deny"|"unauthorized"}: %w`, err)
	}
	switch c.Unknown {
	case "":
		c.Unknown = "deny"
	case "deny", "unauthorized":
	default:
		return fmt.Errorf(`"unknown" must be "deny" or "unauthorized", not %q`, c.Unknown)
	}
	for _, tok := range sortedKeys(c.Tokens) {
		g := c.Tokens[tok]
		if tok == "" {
			return errors.New(`"tokens": a token is empty`)
		}
		if g.Principal == "" {
			return fmt.Errorf(`"tokens": the token ending in %q has no "principal"`, suffix(tok))
		}
		for _, k := range sortedKeys(g.Context) {
			switch g.Context[k].(type) {
			case string, float64, bool:
			default:
				return fmt.Errorf(`"tokens": the token ending in %q: context.%s must be a string, a number or a boolean`, suffix(tok), k)
			}
		}
	}
	cfg = c
	var err error
	calls, err = sdk.DefineCounterMetric("token_authorizer_calls")
	return err
}

func authorize(_ lambda.Context, ev *lambda.AuthorizerEvent) (*lambda.AuthorizerResponse, error) {
	_ = calls.Increment(1) // a metric for operators and tests; never fails the decision
	g, ok := cfg.Tokens[ev.AuthorizationToken]
	if !ok {
		if cfg.Unknown == "unauthorized" {
			return nil, lambda.ErrUnauthorized
		}
		return lambda.Deny("anonymous", "*"), nil
	}
	allow := g.Allow
	if len(allow) == 0 {
		allow = []string{"*"}
	}
	r := lambda.Allow(g.Principal, allow...)
	if len(g.Deny) > 0 {
		r.PolicyDocument.Statement = append(r.PolicyDocument.Statement, lambda.Deny(g.Principal, g.Deny...).PolicyDocument.Statement...)
	}
	r.Context = g.Context
	return r, nil
}

// suffix names a token in errors without revealing it.
func suffix(tok string) string {
	if len(tok) <= 4 {
		return strings.Repeat("*", len(tok))
	}
	return "…" + tok[len(tok)-4:]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
