package main

import (
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/sdk/go/sdktest"
)

func preflight(origin string) *sdktest.Request {
	return &sdktest.Request{Method: "OPTIONS", Path: "/pets", Headers: [][2]string{
		{"origin", origin}, {"access-control-request-method", "POST"}, {"access-control-request-headers", "content-type"}}}
}

func TestCORS(t *testing.T) {
	wasm := sdktest.Build(t, ".")
	listed := sdktest.New(t, wasm, sdktest.Options{Config: `{"allow_origins":["https://app.example"],"allow_headers":["Content-Type","X-Api-Key"],"expose_headers":["X-Request-Id"],"allow_credentials":true,"max_age_seconds":600}`})
	anyOrigin := sdktest.New(t, wasm, sdktest.Options{Config: `{"allow_origins":["*"]}`})

	tests := []struct {
		name    string
		h       *sdktest.Harness
		req     *sdktest.Request
		status  int
		local   bool
		headers map[string]string
	}{
		{"preflight allowed", listed, preflight("https://app.example"), 204, true, map[string]string{
			"access-control-allow-origin": "https://app.example", "access-control-allow-methods": "GET, HEAD, POST, PUT, PATCH, DELETE",
			"access-control-allow-headers": "content-type, x-api-key", "access-control-allow-credentials": "true",
			"access-control-max-age": "600", "vary": "Origin"}},
		{"preflight disallowed origin", listed, preflight("https://evil.example"), 403, true, map[string]string{
			"access-control-allow-origin": ""}},
		{"actual request allowed", listed, &sdktest.Request{Method: "GET", Path: "/pets", Headers: [][2]string{{"origin", "https://app.example"}}}, 200, false, map[string]string{
			"access-control-allow-origin": "https://app.example", "access-control-allow-credentials": "true",
			"access-control-expose-headers": "x-request-id", "vary": "Origin"}},
		{"actual request from another origin", listed, &sdktest.Request{Method: "GET", Path: "/pets", Headers: [][2]string{{"origin", "https://evil.example"}}}, 200, false, map[string]string{
			"access-control-allow-origin": ""}},
		{"no origin: not a CORS request", listed, &sdktest.Request{Method: "OPTIONS", Path: "/pets"}, 200, false, map[string]string{
			"access-control-allow-origin": ""}},
		{"any origin", anyOrigin, preflight("https://whoever.example"), 204, true, map[string]string{
			"access-control-allow-origin": "*", "access-control-allow-headers": "content-type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.h.Do(tt.req)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if res.Status != tt.status || res.Local != tt.local {
				t.Fatalf("status %d local %v, want %d %v", res.Status, res.Local, tt.status, tt.local)
			}
			for k, v := range tt.headers {
				if got := res.Header(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestCORSRejectsBadConfig(t *testing.T) {
	wasm := sdktest.Build(t, ".")
	tests := map[string]string{
		``:                     "configuration is empty",
		`{"allow_origins":[]}`: "at least one origin",
		`{"allow_origins":["*"],"allow_credentials":true}`: "cannot be combined",
		`{"allow_origins":["app.example"]}`:                "must look like",
		`{"allow_origins":["https://a.example/"]}`:         "must look like",
		`{"allow_origins":["*"],"max_age_seconds":-1}`:     "max_age_seconds",
		`{"allow_origins":["*"],"allow_headers":["a b"]}`:  "not a method or header name",
		`{"allow_origins":["*"],"allow_orgins":["x"]}`:     "unknown field",
	}
	for config, want := range tests {
		_, err := sdktest.NewE(t, wasm, sdktest.Options{Config: config})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want an error mentioning %q, got %v", config, want, err)
		}
	}
}

func TestCORSPolicy(t *testing.T) {
	t.Parallel()
	wasm := sdktest.Build(t, ".")
	strict := sdktest.New(t, wasm, sdktest.Options{Config: `{"allow_origins":["https://app.example","https://*.example.com:8443"],"allow_methods":["get","PUT"],"allow_headers":["X-Api-Key"],"allow_credentials":true}`})
	open := sdktest.New(t, wasm, sdktest.Options{Config: `{"allow_origins":["*"],"allow_methods":["*"],"allow_headers":["*"],"expose_headers":["*"],"max_age_seconds":0}`,
		Upstream: func(*sdktest.Request) *sdktest.Response {
			return &sdktest.Response{Status: 200, Headers: [][2]string{{"vary", "Accept-Encoding, origin"}, {"access-control-allow-origin", "https://stale.example"}}}
		}})
	pf := func(origin, method, headers string) *sdktest.Request {
		h := [][2]string{{"origin", origin}, {"access-control-request-method", method}}
		if headers != "" {
			h = append(h, [2]string{"access-control-request-headers", headers})
		}
		return &sdktest.Request{Method: "OPTIONS", Path: "/pets", Headers: h}
	}
	tests := []struct {
		name    string
		h       *sdktest.Harness
		req     *sdktest.Request
		status  int
		headers map[string]string
		body    string
	}{
		{"listed method and header", strict, pf("https://app.example", "PUT", "x-api-key, Accept"), 204, map[string]string{
			"access-control-allow-origin": "https://app.example", "access-control-allow-methods": "GET, PUT",
			"access-control-allow-headers": "x-api-key", "access-control-allow-credentials": "true", "access-control-max-age": ""}, ""},
		{"safelisted method", strict, pf("https://app.example", "POST", ""), 204, nil, ""},
		{"method not allowed", strict, pf("https://app.example", "DELETE", ""), 403, map[string]string{"access-control-allow-origin": ""},
			`{"message":"CORS preflight rejected: method not allowed"}`},
		{"header not allowed", strict, pf("https://app.example", "PUT", "x-api-key, x-admin"), 403, nil,
			`{"message":"CORS preflight rejected: header x-admin not allowed"}`},
		{"malformed request headers", strict, pf("https://app.example", "PUT", "x-api-key, a b"), 403, nil, ""},
		{"wildcard subdomain", strict, pf("https://a.b.example.com:8443", "GET", ""), 204, map[string]string{"access-control-allow-origin": "https://a.b.example.com:8443"}, ""},
		{"wildcard needs the port", strict, pf("https://a.example.com", "GET", ""), 403, nil, ""},
		{"wildcard is not the apex", strict, pf("https://example.com:8443", "GET", ""), 403, nil, ""},
		{"suffix trick", strict, pf("https://evilexample.com:8443", "GET", ""), 403, nil, ""},
		{"prefix trick", strict, pf("https://app.example.evil.com", "GET", ""), 403, nil, ""},
		{"scheme matters", strict, pf("http://app.example", "GET", ""), 403, nil, ""},
		{"null origin", strict, pf("null", "GET", ""), 403, nil, ""},
		{"header injection in a wildcard origin", strict, pf("https://x.example.com:8443\r\nx-evil: 1", "GET", ""), 403, nil, ""},
		{"case-insensitive origin", strict, pf("HTTPS://APP.EXAMPLE", "GET", ""), 204, map[string]string{"access-control-allow-origin": "HTTPS://APP.EXAMPLE"}, ""},
		{"open preflight", open, pf("https://any.example", "PATCH", "x-whatever"), 204, map[string]string{
			"access-control-allow-origin": "*", "access-control-allow-methods": "*", "access-control-allow-headers": "*", "access-control-max-age": "0"}, ""},
		{"open actual request", open, &sdktest.Request{Path: "/", Headers: [][2]string{{"origin", "https://any.example"}}}, 200, map[string]string{
			"access-control-allow-origin": "*", "access-control-expose-headers": "*", "access-control-allow-credentials": ""}, ""},
		{"OPTIONS that is not a preflight", strict, &sdktest.Request{Method: "OPTIONS", Path: "/", Headers: [][2]string{{"origin", "https://app.example"}}}, 200, map[string]string{
			"access-control-allow-origin": "https://app.example", "vary": "Origin"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.h.Do(tt.req)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if res.Status != tt.status {
				t.Fatalf("status %d, want %d (%s)", res.Status, tt.status, res.Body)
			}
			for k, v := range tt.headers {
				if got := res.Header(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tt.body != "" && string(res.Body) != tt.body {
				t.Errorf("body %s, want %s", res.Body, tt.body)
			}
		})
	}
	// Vary is not duplicated when the upstream already varies on Origin.
	listed := sdktest.New(t, wasm, sdktest.Options{Config: `{"allow_origins":["https://any.example"]}`, Upstream: func(*sdktest.Request) *sdktest.Response {
		return &sdktest.Response{Status: 200, Headers: [][2]string{{"vary", "Accept-Encoding, origin"}}}
	}})
	res := listed.Do(&sdktest.Request{Path: "/", Headers: [][2]string{{"origin", "https://any.example"}}})
	if res.Header("access-control-allow-origin") != "https://any.example" {
		t.Errorf("allow-origin %q", res.Header("access-control-allow-origin"))
	}
	var vary []string
	for _, h := range res.Headers {
		if h[0] == "vary" {
			vary = append(vary, h[1])
		}
	}
	if strings.Join(vary, "|") != "Accept-Encoding, origin" {
		t.Errorf("vary %q", vary)
	}
}

func TestCORSVaryAdded(t *testing.T) {
	t.Parallel()
	h := sdktest.New(t, sdktest.Build(t, "."), sdktest.Options{Config: `{"allow_origins":["https://app.example"]}`,
		Upstream: func(*sdktest.Request) *sdktest.Response {
			return &sdktest.Response{Status: 201, Headers: [][2]string{{"vary", "Accept-Encoding"}}, Body: []byte("made")}
		}})
	res := h.Do(&sdktest.Request{Method: "POST", Path: "/", Headers: [][2]string{{"origin", "https://app.example"}}})
	var vary []string
	for _, p := range res.Headers {
		if p[0] == "vary" {
			vary = append(vary, p[1])
		}
	}
	if res.Status != 201 || string(res.Body) != "made" || strings.Join(vary, "|") != "Accept-Encoding|Origin" {
		t.Fatalf("got %d %s vary %q", res.Status, res.Body, vary)
	}
}

func TestCORSRejectsMoreBadConfig(t *testing.T) {
	t.Parallel()
	wasm := sdktest.Build(t, ".")
	tests := map[string]string{
		`{"allow_origins":["null"]}`:                                                              "sandboxed",
		`{"allow_origins":["ftp://a.example"]}`:                                                   "scheme must be http or https",
		`{"allow_origins":["https://a.example:99999"]}`:                                           "bad host or port",
		`{"allow_origins":["https://user@a.example"]}`:                                            "no path",
		`{"allow_origins":["https://a.*.example"]}`:                                               "bad host or port",
		`{"allow_origins":["https://a.example"],"allow_methods":["*"],"allow_credentials":true}`:  "taken literally",
		`{"allow_origins":["https://a.example"],"allow_headers":["*"],"allow_credentials":true}`:  "taken literally",
		`{"allow_origins":["https://a.example"],"expose_headers":["*"],"allow_credentials":true}`: "taken literally",
		`{"allow_origins":["https://a.example"],"allow_methods":["GET POST"]}`:                    "not a method",
		`{"allow_origins":["https://a.example"],"max_age_seconds":86401}`:                         "max_age_seconds",
		`{"allow_origins":"https://a.example"}`:                                                   "not valid JSON",
		`{"allow_origins":["https://a.example"]} {}`:                                              "unexpected data",
	}
	for config, want := range tests {
		_, err := sdktest.NewE(t, wasm, sdktest.Options{Config: config})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want an error mentioning %q, got %v", config, want, err)
		}
	}
}
