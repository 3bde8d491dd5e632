package main

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"

	wasmhost "github.com/wasmgate/wasmgate/host/wasm"
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

// TestMockEscaping: request values cannot break a JSON or HTML body.
func TestMockEscaping(t *testing.T) {
	t.Parallel()
	wasm := sdktest.Build(t, ".")
	hostile := `"}<script>alert(1)</script>{"` + "\x01"
	tests := []struct {
		name, config, body string
	}{
		{"json", `{"headers":{"content-type":"application/json; charset=utf-8"},"body":"{\"q\":\"${query.q}\",\"h\":\"${header.x}\"}"}`,
			`{"q":"\"}<script>alert(1)</script>{\"\u0001","h":"\"}<script>alert(1)</script>{\"\u0001"}`},
		{"problem+json", `{"headers":{"Content-Type":"application/problem+json"},"body":"{\"q\":\"${query.q}\"}"}`,
			`{"q":"\"}<script>alert(1)</script>{\"\u0001"}`},
		{"html", `{"headers":{"content-type":"text/html"},"body":"<p>${query.q}</p>"}`,
			`<p>&#34;}&lt;script&gt;alert(1)&lt;/script&gt;{&#34;` + "\x01" + `</p>`},
		{"text is verbatim", `{"headers":{"content-type":"text/plain"},"body":"${query.q}"}`, hostile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := sdktest.New(t, wasm, sdktest.Options{Config: tt.config})
			res := h.Do(&sdktest.Request{Path: "/?q=" + url.QueryEscape(hostile), Headers: [][2]string{{"x", hostile}}})
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if string(res.Body) != tt.body {
				t.Fatalf("got  %s\nwant %s", res.Body, tt.body)
			}
			if strings.Contains(tt.name, "json") && !json.Valid(res.Body) {
				t.Fatalf("not JSON: %s", res.Body)
			}
		})
	}
}

func TestMockMore(t *testing.T) {
	t.Parallel()
	wasm := sdktest.Build(t, ".")
	tests := []struct {
		name, config string
		req          sdktest.Request
		status       int
		body         string
		headers      [][2]string
	}{
		{"empty config", ``, sdktest.Request{}, 200, "", nil},
		{"query, escapes and missing values", `{"body":"q=${query.q} all=${query.tag} none=[${query.none}] [${header.none}] [${route.none}] [${stage.none}] $${literal} $5 $"}`,
			sdktest.Request{Path: "/p?q=a%20b&tag=1&tag=2"}, 200, "q=a b all=1 none=[] [] [] [] ${literal} $5 $", nil},
		{"header placeholders, sorted headers", `{"status":503,"headers":{"X-Req":"${request.id}","retry-after":"5","x-echo":"${header.x}"},"body":"down"}`,
			sdktest.Request{Headers: [][2]string{{"x", "a\tb"}}}, 503, "down",
			[][2]string{{"retry-after", "5"}, {"x-echo", "a\tb"}, {"x-req", "req-1"}}},
		{"request details", `{"body":"${request.method} ${request.path} ${request.id} ${stage}"}`,
			sdktest.Request{Method: "DELETE", Path: "/a/b?c=d"}, 200, "DELETE /a/b?c=d req-1 prod", nil},
		{"body with a request body", `{"status":202}`, sdktest.Request{Method: "POST", Body: []byte("ignored")}, 202, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := sdktest.New(t, wasm, sdktest.Options{Config: tt.config, Properties: map[string]string{"request.id": "req-1", "wasmgate.stage": "prod"}})
			res := h.Do(&tt.req)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if !res.Local || res.Status != tt.status || string(res.Body) != tt.body {
				t.Fatalf("got %d (local %v) %q, want %d %q", res.Status, res.Local, res.Body, tt.status, tt.body)
			}
			if tt.headers != nil && !reflect.DeepEqual(res.Headers, tt.headers) {
				t.Errorf("headers %q, want %q", res.Headers, tt.headers)
			}
		})
	}
}

func TestMockRejectsMoreBadConfig(t *testing.T) {
	t.Parallel()
	wasm := sdktest.Build(t, ".")
	tests := map[string]string{
		`{"status":0}`:                                  "not an HTTP status",
		`{"status":600}`:                                "not an HTTP status",
		`{"status":101}`:                                "informational",
		`{"status":"200"}`:                              "not valid JSON",
		`{"headers":{"X-A":"1","x-a":"2"}}`:             "given twice",
		`{"headers":{"content-length":"5"}}`:            "set by the gateway",
		`{"headers":{"x":"${header.a b}"}}`:             "not a valid header name",
		`{"body":"${route.}"}`:                          "unknown placeholder",
		`{"body":"${request.body}"}`:                    "unknown placeholder",
		`{} {}`:                                         "unexpected data",
		`{"body":"ok","headers":{"x":"${header.y"}}`:    "unterminated",
		`{"headers":{"x":"${stage.a}b\u0000"}}`:         "not a valid header value",
		`{"headers":{"x":"ok"},"body":"${query.a{}"}`:   "not a valid name",
		`{"headers":{"x":"ok"},"body":"${Request.id}"}`: "unknown placeholder",
	}
	for config, want := range tests {
		_, err := sdktest.NewE(t, wasm, sdktest.Options{Config: config})
		if !errors.Is(err, wasmhost.ErrPluginRejected) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want a rejection mentioning %q, got %v", config, want, err)
		}
	}
}
