package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/host/wasm"
	"github.com/wasmgate/wasmgate/sdk/go/sdktest"
)

const goodConfig = `{"header":"x-hello","value":"world"}`

func TestTemplate(t *testing.T) {
	t.Parallel()
	h := sdktest.New(t, sdktest.Build(t, "."), sdktest.Options{Config: goodConfig})
	for i := 0; i < 3; i++ {
		res := h.Do(&sdktest.Request{Path: "/pets", Headers: [][2]string{{"x-hello", "overwritten"}}})
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if res.Upstream == nil {
			t.Fatalf("the request did not reach the upstream: %d %q", res.Status, res.Body)
		}
		if got := res.Upstream.Header("x-hello"); got != "world" {
			t.Errorf("upstream x-hello = %q, want world", got)
		}
		if got := res.Header("x-wasmgate-plugin"); got != "template" {
			t.Errorf("response x-wasmgate-plugin = %q, want template", got)
		}
		if res.Status != 200 || string(res.Body) != "ok" {
			t.Errorf("response %d %q", res.Status, res.Body)
		}
	}
	if n, ok := h.Metric("template_requests_total"); !ok || n != 3 {
		t.Errorf("template_requests_total = %d (defined %v), want 3", n, ok)
	}
}

func TestTemplateRejectsBadConfig(t *testing.T) {
	t.Parallel()
	wasmBytes := sdktest.Build(t, ".")
	tests := []struct {
		name, config, reason string
	}{
		{"empty", "", "configuration is empty"},
		{"not json", "{", "not valid JSON"},
		{"unknown field", `{"header":"x-a","value":"b","hedaer":"typo"}`, `unknown field "hedaer"`},
		{"no header", `{"value":"b"}`, `"header" is required`},
		{"bad header name", `{"header":"x a","value":"b"}`, "not a valid header name"},
		{"pseudo-header", `{"header":":path","value":"/"}`, "not a valid header name"},
		{"newline in value", `{"header":"x-a","value":"a\nb"}`, "must not contain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := sdktest.NewE(t, wasmBytes, sdktest.Options{Config: tt.config})
			if !errors.Is(err, wasm.ErrPluginRejected) {
				t.Fatalf("got %v, want an error wrapping wasm.ErrPluginRejected", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not give the reason %q", err, tt.reason)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	c, err := parseConfig([]byte(` {"header":"X-Hello","value":"world"} `))
	if err != nil || c.Header != "x-hello" || c.Value != "world" {
		t.Fatalf("got %+v, %v", c, err)
	}
}
