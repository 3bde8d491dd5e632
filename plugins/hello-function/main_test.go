package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/host/wasm"
	"github.com/wasmgate/wasmgate/sdk/go/sdktest"
)

func TestHello(t *testing.T) {
	t.Parallel()
	fn := sdktest.Build(t, ".")
	withParam := map[string]string{"wasmgate.stage": "dev", "wasmgate.route.template": "/hello/{name}", "wasmgate.route.params.name": "alice"}
	noParam := map[string]string{"wasmgate.stage": "prod", "wasmgate.route.template": "/hello"}
	tests := []struct {
		name, config string
		props        map[string]string
		path         string
		status       int
		message      string
		stage        string
	}{
		{"path parameter", `{}`, withParam, "/dev/hello/alice?name=bob", 200, "hello, alice", "dev"},
		{"query parameter", `{}`, noParam, "/prod/hello?name=bob", 200, "hello, bob", "prod"},
		{"query parameter 2.0", `{"payload_version":"2.0"}`, noParam, "/prod/hello?name=bob&name=carol", 200, "hello, bob", "prod"},
		{"escaped query", `{}`, noParam, "/hello?name=J%C3%BCrgen%20%22J%22", 200, `hello, Jürgen "J"`, "prod"},
		{"default", `{"payload_version":"2.0"}`, noParam, "/hello", 200, "hello, world", "prod"},
		{"too long", `{}`, noParam, "/hello?name=" + strings.Repeat("a", 129), 400, "name is too long (at most 128 characters)", ""},
		{"control characters", `{}`, noParam, "/hello?name=a%0D%0Ab", 400, "name must be printable text", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := sdktest.New(t, fn, sdktest.Options{Config: tt.config, Properties: tt.props})
			res := h.Do(&sdktest.Request{Path: tt.path})
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if !res.Local || res.Status != tt.status || res.Header("content-type") != "application/json" {
				t.Fatalf("got %d (local %v) %v %s", res.Status, res.Local, res.Headers, res.Body)
			}
			var got struct{ Message, Stage string }
			if err := json.Unmarshal(res.Body, &got); err != nil {
				t.Fatalf("%v: %s", err, res.Body)
			}
			if got.Message != tt.message || got.Stage != tt.stage {
				t.Errorf("got %+v, want message %q stage %q", got, tt.message, tt.stage)
			}
		})
	}
}

func TestHelloRejectsBadConfig(t *testing.T) {
	t.Parallel()
	_, err := sdktest.NewE(t, sdktest.Build(t, "."), sdktest.Options{Config: `{"payload_version":"9"}`})
	if !errors.Is(err, wasm.ErrPluginRejected) || !strings.Contains(err.Error(), "payload_version") {
		t.Fatalf("got %v", err)
	}
}
