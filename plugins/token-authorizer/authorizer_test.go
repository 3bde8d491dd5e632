package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/host/wasm"
	"github.com/wasmgate/wasmgate/sdk/go/sdktest"
)

const testConfig = `{"tokens": {
  "Bearer alice-token": {"principal": "alice", "context": {"tier": "gold", "quota": 10, "admin": false}},
  "Bearer bob-token": {"principal": "bob", "allow": ["arn:aws:execute-api:*:*:*/prod/GET/*"], "deny": ["*/GET/admin/*"]}
}}`

// event sends an authorizer event as the gateway does.
func event(h *sdktest.Harness, ev string) *sdktest.Result {
	return h.Do(&sdktest.Request{Method: "POST", Path: "/", Headers: [][2]string{{"content-type", "application/json"}}, Body: []byte(ev)})
}

func tokenEvent(tok string) string {
	b, _ := json.Marshal(map[string]string{"type": "TOKEN", "authorizationToken": tok, "methodArn": "arn:aws:execute-api:local:000000000000:wasmgate/prod/GET/pets/1"})
	return string(b)
}

type answer struct {
	PrincipalID    string
	PolicyDocument struct {
		Version   string
		Statement []struct {
			Action   []string
			Effect   string
			Resource []string
		}
	}
	Context map[string]any
}

func TestTokenAuthorizer(t *testing.T) {
	t.Parallel()
	wasmBytes := sdktest.Build(t, ".")
	tests := []struct {
		name, config, event string
		status              int
		principal           string
		effects             string // Effect:Resource, ...
		context             map[string]any
	}{
		{"allowed with context", testConfig, tokenEvent("Bearer alice-token"), 200, "alice", "Allow:*", map[string]any{"tier": "gold", "quota": 10.0, "admin": false}},
		{"allowed with a deny", testConfig, tokenEvent("Bearer bob-token"), 200, "bob", "Allow:arn:aws:execute-api:*:*:*/prod/GET/*, Deny:*/GET/admin/*", nil},
		{"unknown token: explicit deny", testConfig, tokenEvent("Bearer nope"), 200, "anonymous", "Deny:*", nil},
		{"unknown token: unauthorized", `{"tokens": {}, "unknown": "unauthorized"}`, tokenEvent("Bearer nope"), 401, "", "", nil},
		{"empty token", testConfig, tokenEvent(""), 200, "anonymous", "Deny:*", nil},
		{"not an event", testConfig, `not json`, 500, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := sdktest.New(t, wasmBytes, sdktest.Options{Config: tt.config})
			res := event(h, tt.event)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if !res.Local || res.Status != tt.status {
				t.Fatalf("got %d (local %v) %s", res.Status, res.Local, res.Body)
			}
			if tt.status != 200 {
				return
			}
			var a answer
			if err := json.Unmarshal(res.Body, &a); err != nil {
				t.Fatalf("%v: %s", err, res.Body)
			}
			var effects []string
			for _, s := range a.PolicyDocument.Statement {
				if len(s.Action) != 1 || s.Action[0] != "execute-api:Invoke" {
					t.Errorf("action %v", s.Action)
				}
				effects = append(effects, s.Effect+":"+strings.Join(s.Resource, " "))
			}
			if a.PrincipalID != tt.principal || strings.Join(effects, ", ") != tt.effects || a.PolicyDocument.Version != "2012-10-17" {
				t.Errorf("got %s", res.Body)
			}
			if tt.context != nil {
				if len(a.Context) != len(tt.context) {
					t.Errorf("context %v, want %v", a.Context, tt.context)
				}
				for k, v := range tt.context {
					if a.Context[k] != v {
						t.Errorf("context.%s = %v, want %v", k, a.Context[k], v)
					}
				}
			}
		})
	}
}

// TestCallsMetric counts the decisions, as the gateway's cache tests do.
func TestCallsMetric(t *testing.T) {
	t.Parallel()
	h := sdktest.New(t, sdktest.Build(t, "."), sdktest.Options{Config: testConfig})
	for i := 0; i < 3; i++ {
		if res := event(h, tokenEvent("Bearer alice-token")); res.Err != nil || res.Status != 200 {
			t.Fatalf("%d %v %s", res.Status, res.Err, res.Body)
		}
	}
	if n, ok := h.Metric("token_authorizer_calls"); !ok || n != 3 {
		t.Errorf("token_authorizer_calls = %d, %t; want 3", n, ok)
	}
}

// TestNoEvent: a request without a body is not an authorizer call.
func TestNoEvent(t *testing.T) {
	t.Parallel()
	h := sdktest.New(t, sdktest.Build(t, "."), sdktest.Options{Config: testConfig})
	if res := h.Do(&sdktest.Request{}); res.Err != nil || !res.Local || res.Status != 500 {
		t.Fatalf("%d %v %s", res.Status, res.Err, res.Body)
	}
}

func TestRejectsBadConfig(t *testing.T) {
	t.Parallel()
	wasmBytes := sdktest.Build(t, ".")
	for _, c := range []struct{ config, want string }{
		{`{"tokens": {"t": {}}}`, `has no "principal"`},
		{`{"tokens": {"Bearer x": {"principal": "p", "context": {"o": {"a": 1}}}}}`, "context.o must be a string, a number or a boolean"},
		{`{"unknown": "allow"}`, `"unknown" must be "deny" or "unauthorized"`},
		{`{"token": {}}`, `unknown field "token"`},
	} {
		_, err := sdktest.NewE(t, wasmBytes, sdktest.Options{Config: c.config})
		if !errors.Is(err, wasm.ErrPluginRejected) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.config, err, c.want)
		}
	}
}
