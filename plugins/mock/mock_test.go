package main

import (
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/sdk/go/sdktest"
)

func TestMockAnswers(t *testing.T) {
	wasm := sdktest.Build(t, ".")
	tests := []struct {
		name, config string
		req          sdktest.Request
		status       int
		body         string
		header       [2]string
	}{
		{name: "defaults", config: `{}`, status: 200, body: ""},
		{name: "static", config: `{"status":201,"headers":{"Content-Type":"application/json"},"body":"{\"ok\":true}"}`,
			status: 201, body: `{"ok":true}`, header: [2]string{"content-type", "application/json"}},
		{name: "placeholders", config: `{"body":"${request.method} ${request.path} id=${route.id} env=${stage.env} on ${stage} ua=${header.User-Agent}"}`,
			req:    sdktest.Request{Method: "POST", Path: "/pets/7?x=1", Headers: [][2]string{{"user-agent", "curl"}}},
			status: 200, body: "POST /pets/7?x=1 id=7 env=test on prod ua=curl"},
		{name: "hostile header value echoed verbatim", config: `{"body":"[${header.x}]"}`,
			req:    sdktest.Request{Method: "GET", Path: "/", Headers: [][2]string{{"x", "${route.id}<script>"}}},
			status: 200, body: "[${route.id}<script>]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sdktest.New(t, wasm, sdktest.Options{Config: tt.config, Properties: map[string]string{
				"wasmgate.stage": "prod", "wasmgate.route.params.id": "7", "wasmgate.stage_variables.env": "test",
			}})
			req := tt.req
			if req.Method == "" {
				req.Method, req.Path = "GET", "/"
			}
			res := h.Do(&req)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if !res.Local || res.Upstream != nil {
				t.Fatalf("the mock must answer itself (local %v, upstream %v)", res.Local, res.Upstream)
			}
			if res.Status != tt.status || string(res.Body) != tt.body {
				t.Fatalf("got %d %q, want %d %q", res.Status, res.Body, tt.status, tt.body)
			}
			if tt.header[0] != "" && res.Header(tt.header[0]) != tt.header[1] {
				t.Fatalf("header %s = %q", tt.header[0], res.Header(tt.header[0]))
			}
		})
	}
}

func TestMockRejectsBadConfig(t *testing.T) {
	wasm := sdktest.Build(t, ".")
	tests := map[string]string{
		`{"status":42}`:                 "not an HTTP status",
		`{"stauts":200}`:                "unknown field",
		`{"body":"${nope}"}`:            "unknown placeholder",
		`{"body":"${route.id"}`:         "unterminated",
		`{"headers":{"x":"a\r\nb: c"}}`: "not a valid header",
		`not json`:                      "not valid JSON",
		`{"headers":{":status":"200"}}`: "not a valid header",
	}
	for config, want := range tests {
		_, err := sdktest.NewE(t, wasm, sdktest.Options{Config: config})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want an error mentioning %q, got %v", config, want, err)
		}
	}
}
