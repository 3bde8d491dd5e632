package lambda_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/wasm"
	"github.com/wasmgate/wasmgate/sdk/go/sdktest"
)

// requestTimeMillis is the arrival time the tests give the requests.
const requestTimeMillis = 1583349317135 // 04/Mar/2020:19:15:17 +0000

// props are the gateway properties of the test requests.
func props() map[string]string {
	return map[string]string{
		"wasmgate.stage":                    "prod",
		"wasmgate.deployment":               "d-7",
		"wasmgate.route.template":           "/pets/{id}",
		"wasmgate.route.params.id":          "42",
		"wasmgate.stage_variables.greeting": "hello",
		"wasmgate.stage_variables.secret":   "not listed",
		"request.id":                        "req-1",
		"source.address":                    "203.0.113.9:5555",
		"request.time":                      string(abi.EncodeInt64(requestTimeMillis * 1e6)),
	}
}

// petRequest is a request with every kind of input: repeated headers and
// query parameters, cookies, a body.
func petRequest() *sdktest.Request {
	return &sdktest.Request{
		Method: "POST", Path: "/prod/pets/42?limit=5&tag=a&tag=b%20c", Authority: "api.example.com",
		Headers: [][2]string{
			{"content-type", "application/json"}, {"user-agent", "test/1.0"},
			{"cookie", "a=1; b=2"}, {"x-multi", "1"}, {"x-multi", "2"},
		},
		Body: []byte(`{"name":"rex"}`),
	}
}

const wantV1 = `{
  "resource": "/pets/{id}",
  "path": "/pets/42",
  "httpMethod": "POST",
  "headers": {"content-type": "application/json", "user-agent": "test/1.0", "cookie": "a=1; b=2", "x-multi": "2"},
  "multiValueHeaders": {"content-type": ["application/json"], "user-agent": ["test/1.0"], "cookie": ["a=1; b=2"], "x-multi": ["1", "2"]},
  "queryStringParameters": {"limit": "5", "tag": "b c"},
  "multiValueQueryStringParameters": {"limit": ["5"], "tag": ["a", "b c"]},
  "pathParameters": {"id": "42"},
  "stageVariables": {"greeting": "hello"},
  "requestContext": {
    "resourcePath": "/pets/{id}", "httpMethod": "POST", "path": "/prod/pets/42", "protocol": "HTTP/1.1",
    "requestId": "req-1", "stage": "prod", "deploymentId": "d-7",
    "domainName": "api.example.com", "domainPrefix": "api",
    "requestTime": "04/Mar/2020:19:15:17 +0000", "requestTimeEpoch": 1583349317135,
    "identity": {"sourceIp": "203.0.113.9", "userAgent": "test/1.0"}
  },
  "body": "{\"name\":\"rex\"}",
  "isBase64Encoded": false
}`

const wantV2 = `{
  "version": "2.0",
  "routeKey": "POST /pets/{id}",
  "rawPath": "/prod/pets/42",
  "rawQueryString": "limit=5&tag=a&tag=b%20c",
  "cookies": ["a=1", "b=2"],
  "headers": {"content-type": "application/json", "user-agent": "test/1.0", "x-multi": "1,2"},
  "queryStringParameters": {"limit": "5", "tag": "a,b c"},
  "pathParameters": {"id": "42"},
  "stageVariables": {"greeting": "hello"},
  "requestContext": {
    "routeKey": "POST /pets/{id}", "stage": "prod", "deploymentId": "d-7", "requestId": "req-1",
    "domainName": "api.example.com", "domainPrefix": "api",
    "http": {"method": "POST", "path": "/prod/pets/42", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "test/1.0"},
    "time": "04/Mar/2020:19:15:17 +0000", "timeEpoch": 1583349317135
  },
  "body": "{\"name\":\"rex\"}",
  "isBase64Encoded": false
}`

// A GET without body, query, cookies or parameters.
const wantV1Bare = `{
  "resource": "/health", "path": "/health", "httpMethod": "GET",
  "headers": null, "multiValueHeaders": null,
  "queryStringParameters": null, "multiValueQueryStringParameters": null,
  "pathParameters": null, "stageVariables": null,
  "requestContext": {
    "resourcePath": "/health", "httpMethod": "GET", "path": "/health", "protocol": "HTTP/1.1",
    "requestId": "", "stage": "", "domainName": "example.com", "domainPrefix": "example",
    "requestTime": "04/Mar/2020:19:15:17 +0000", "requestTimeEpoch": 1583349317135,
    "identity": {"sourceIp": "", "userAgent": ""}
  },
  "body": null, "isBase64Encoded": false
}`

const wantV2Bare = `{
  "version": "2.0", "routeKey": "GET /health", "rawPath": "/health", "rawQueryString": "",
  "headers": {},
  "requestContext": {
    "routeKey": "GET /health", "stage": "", "requestId": "", "domainName": "example.com", "domainPrefix": "example",
    "http": {"method": "GET", "path": "/health", "protocol": "HTTP/1.1", "sourceIp": "", "userAgent": ""},
    "time": "04/Mar/2020:19:15:17 +0000", "timeEpoch": 1583349317135
  },
  "isBase64Encoded": false
}`

func TestEventShapes(t *testing.T) {
	t.Parallel()
	fn := sdktest.Build(t, "internal/testfn")
	bare := map[string]string{
		"wasmgate.route.template": "/health",
		"request.time":            string(abi.EncodeInt64(requestTimeMillis * 1e6)),
	}
	tests := []struct {
		name, config string
		props        map[string]string
		req          *sdktest.Request
		want         string
	}{
		{"v1.0", `{"payload_version":"1.0","stage_variables":["greeting"]}`, props(), petRequest(), wantV1},
		{"v2.0", `{"payload_version":"2.0","stage_variables":["greeting"]}`, props(), petRequest(), wantV2},
		{"v1.0 bare GET", `{}`, bare, &sdktest.Request{Path: "/health"}, wantV1Bare},
		{"v2.0 bare GET", `{"payload_version":"2.0"}`, bare, &sdktest.Request{Path: "/health"}, wantV2Bare},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := sdktest.New(t, fn, sdktest.Options{Config: tt.config, Properties: tt.props})
			res := h.Do(tt.req)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if !res.Local || res.Status != 200 {
				t.Fatalf("got %d (local %v) %s; logs %v", res.Status, res.Local, res.Body, h.Logs())
			}
			assertJSON(t, res.Body, tt.want)
		})
	}
}

func TestEventBodies(t *testing.T) {
	t.Parallel()
	fn := sdktest.Build(t, "internal/testfn")
	binary := []byte{0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0x00}
	tests := []struct {
		name, config, contentType string
		body                      []byte
		wantB64                   bool
	}{
		{"text", `{}`, "text/plain", []byte("héllo"), false},
		{"invalid UTF-8 is base64", `{}`, "application/octet-stream", binary, true},
		{"binary media type", `{"binary_media_types":["image/*"]}`, "image/svg+xml", []byte("<svg/>"), true},
		{"not a binary media type", `{"binary_media_types":["image/*"]}`, "text/xml", []byte("<svg/>"), false},
		{"any media type", `{"payload_version":"2.0","binary_media_types":["*/*"]}`, "application/json", []byte(`{}`), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := sdktest.New(t, fn, sdktest.Options{Config: tt.config})
			res := h.Do(&sdktest.Request{Method: "PUT", Path: "/f", Headers: [][2]string{{"content-type", tt.contentType}}, Body: tt.body})
			if res.Err != nil || res.Status != 200 {
				t.Fatalf("got %d %s, %v; logs %v", res.Status, res.Body, res.Err, h.Logs())
			}
			var ev struct {
				Body            string `json:"body"`
				IsBase64Encoded bool   `json:"isBase64Encoded"`
			}
			if err := json.Unmarshal(res.Body, &ev); err != nil {
				t.Fatal(err)
			}
			want := string(tt.body)
			if tt.wantB64 {
				want = base64.StdEncoding.EncodeToString(tt.body)
			}
			if ev.IsBase64Encoded != tt.wantB64 || ev.Body != want {
				t.Fatalf("body %q base64 %v, want %q %v", ev.Body, ev.IsBase64Encoded, want, tt.wantB64)
			}
		})
	}
}

// TestJSONResponses feeds response JSON to the testfn plugin ("respond"
// mode returns the request body as the proxy response).
func TestJSONResponses(t *testing.T) {
	t.Parallel()
	fn := sdktest.Build(t, "internal/testfn")
	v1 := sdktest.New(t, fn, sdktest.Options{Config: `{"payload_version":"1.0"}`})
	v2 := sdktest.New(t, fn, sdktest.Options{Config: `{"payload_version":"2.0"}`})
	internal := `{"message":"Internal server error"}`
	tests := []struct {
		name     string
		h        *sdktest.Harness
		response string
		status   int
		headers  [][2]string // expected, in order, besides none other
		body     string
	}{
		{"multi-value headers win", v1,
			`{"statusCode":201,"headers":{"x-a":"1","X-B":"h","content-type":"text/plain"},"multiValueHeaders":{"x-b":["m1","m2"],"X-C":["c1","c2"]},"body":"hi"}`,
			201, [][2]string{{"content-type", "text/plain"}, {"x-a", "1"}, {"x-b", "m1"}, {"x-b", "m2"}, {"x-c", "c1"}, {"x-c", "c2"}}, "hi"},
		{"base64 body", v1, `{"statusCode":200,"headers":{"content-type":"image/png"},"body":"iVBORw0KGgo=","isBase64Encoded":true}`,
			200, [][2]string{{"content-type", "image/png"}}, "\x89PNG\r\n\x1a\n"},
		{"default content type", v1, `{"statusCode":200,"body":"{}"}`, 200, [][2]string{{"content-type", "application/json"}}, "{}"},
		{"no body", v1, `{"statusCode":204}`, 204, nil, ""},
		{"string status and scalar headers", v1, `{"statusCode":"404","headers":{"x-n":7,"x-b":true},"body":"nf"}`,
			404, [][2]string{{"x-b", "true"}, {"x-n", "7"}, {"content-type", "application/json"}}, "nf"},
		{"hop-by-hop headers dropped", v1, `{"statusCode":200,"headers":{"content-length":"999","connection":"close","x-ok":"1"}}`,
			200, [][2]string{{"x-ok", "1"}}, ""},
		{"cookies", v2, `{"statusCode":200,"cookies":["a=1; Path=/","b=2"],"body":"c","headers":{"content-type":"text/plain"}}`,
			200, [][2]string{{"content-type", "text/plain"}, {"set-cookie", "a=1; Path=/"}, {"set-cookie", "b=2"}}, "c"},
		{"v2 inferred object", v2, `{"message":"hi"}`, 200, [][2]string{{"content-type", "application/json"}}, `{"message":"hi"}`},
		{"v2 inferred string", v2, `"hello"`, 200, [][2]string{{"content-type", "application/json"}}, `"hello"`},
		{"v2 structured", v2, `{"statusCode":418,"body":"teapot","headers":{"content-type":"text/plain"}}`, 418, [][2]string{{"content-type", "text/plain"}}, "teapot"},
		{"v1 without statusCode", v1, `{"body":"x"}`, 502, nil, internal},
		{"v1 not an object", v1, `"hello"`, 502, nil, internal},
		{"not JSON", v1, `{"statusCode":200,`, 502, nil, internal},
		{"v2 not JSON", v2, `hello`, 502, nil, internal},
		{"bad base64", v1, `{"statusCode":200,"body":"***","isBase64Encoded":true}`, 502, nil, internal},
		{"header injection", v1, `{"statusCode":200,"headers":{"x-a":"a\r\nx-evil: 1"}}`, 502, nil, internal},
		{"bad header name", v1, `{"statusCode":200,"headers":{"x a":"1"}}`, 502, nil, internal},
		{"pseudo-header", v1, `{"statusCode":200,"headers":{":status":"200"}}`, 502, nil, internal},
		{"status out of range", v1, `{"statusCode":700}`, 502, nil, internal},
		{"informational status", v1, `{"statusCode":101}`, 502, nil, internal},
		{"body not a string", v1, `{"statusCode":200,"body":{"a":1}}`, 502, nil, internal},
		{"headers not strings", v1, `{"statusCode":200,"headers":{"x":{"a":1}}}`, 502, nil, internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.h.Do(&sdktest.Request{Method: "POST", Path: "/r", Headers: [][2]string{{"x-test-mode", "respond"}, {"content-type", "application/json"}}, Body: []byte(tt.response)})
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if res.Status != tt.status || string(res.Body) != tt.body {
				t.Fatalf("got %d %q, want %d %q; logs %v", res.Status, res.Body, tt.status, tt.body, tt.h.Logs())
			}
			if tt.status == 502 {
				if res.Header("content-type") != "application/json" {
					t.Errorf("502 content-type %q", res.Header("content-type"))
				}
				return
			}
			if !reflect.DeepEqual(res.Headers, tt.headers) && !(len(res.Headers) == 0 && len(tt.headers) == 0) {
				t.Errorf("headers %q, want %q", res.Headers, tt.headers)
			}
		})
	}
}

func TestHandlerFailures(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"internal/testfn", "internal/testtyped"} {
		wasmBytes := sdktest.Build(t, dir)
		for _, mode := range []string{"error", "panic"} {
			t.Run(dir+"/"+mode, func(t *testing.T) {
				h := sdktest.New(t, wasmBytes, sdktest.Options{Properties: map[string]string{"request.id": "req-9"}})
				for i := 0; i < 2; i++ { // the instance keeps serving
					res := h.Do(&sdktest.Request{Headers: [][2]string{{"x-test-mode", mode}}})
					if res.Err != nil {
						t.Fatal(res.Err)
					}
					if res.Status != 502 || string(res.Body) != `{"message":"Internal server error"}` || res.Header("content-type") != "application/json" {
						t.Fatalf("got %d %q %v", res.Status, res.Body, res.Headers)
					}
				}
				res := h.Do(&sdktest.Request{})
				if res.Status != 200 {
					t.Fatalf("after a failure: %d %s", res.Status, res.Body)
				}
				logs := strings.Join(h.Logs(), "\n")
				if !strings.Contains(logs, "boom") {
					t.Errorf("the reason is not logged: %s", logs)
				}
			})
		}
	}
}

func TestTypedHandler(t *testing.T) {
	t.Parallel()
	fn := sdktest.Build(t, "internal/testtyped")
	h := sdktest.New(t, fn, sdktest.Options{
		Config:       `{"payload_version":"2.0","greeting":"yo","stage_variables":["greeting"]}`,
		Properties:   props(),
		PluginConfig: wasm.PluginConfig{Name: "pets-fn"},
	})

	res := h.Do(petRequest())
	if res.Err != nil || res.Status != 200 {
		t.Fatalf("got %d %s %v; logs %v", res.Status, res.Body, res.Err, h.Logs())
	}
	var got struct {
		Greeting string          `json:"greeting"`
		Context  map[string]any  `json:"context"`
		Event    json.RawMessage `json:"event"`
		Fields   map[string]any  `json:"fields"`
	}
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatalf("%v: %s", err, res.Body)
	}
	if got.Greeting != "yo" {
		t.Errorf("Configure did not see the extra field: greeting %q", got.Greeting)
	}
	wantCtx := map[string]any{"FunctionName": "pets-fn", "RequestID": "req-1", "Stage": "prod", "Deployment": "d-7", "PayloadVersion": "2.0"}
	if !reflect.DeepEqual(got.Context, wantCtx) {
		t.Errorf("context %v, want %v", got.Context, wantCtx)
	}
	// An Event marshals as the event JSON of its version.
	assertJSON(t, got.Event, wantV2)
	f := got.Fields
	checks := map[string]any{
		"Path": "/pets/42", "RawPath": "/prod/pets/42", "Resource": "/pets/{id}", "RouteKey": "POST /pets/{id}",
		"Body": `{"name":"rex"}`, "IsBase64Encoded": false,
		"Cookies":           []any{"a=1", "b=2"},
		"MultiValueHeaders": map[string]any{"content-type": []any{"application/json"}, "user-agent": []any{"test/1.0"}, "cookie": []any{"a=1; b=2"}, "x-multi": []any{"1", "2"}},
		"MultiQuery":        map[string]any{"limit": []any{"5"}, "tag": []any{"a", "b c"}},
		"PathParameters":    map[string]any{"id": "42"},
	}
	for k, want := range checks {
		if !reflect.DeepEqual(f[k], want) {
			t.Errorf("%s = %#v, want %#v", k, f[k], want)
		}
	}
}

func TestTypedResponses(t *testing.T) {
	t.Parallel()
	h := sdktest.New(t, sdktest.Build(t, "internal/testtyped"), sdktest.Options{})
	tests := []struct {
		mode    string
		status  int
		headers [][2]string
		body    string
	}{
		{"multi", 201, [][2]string{{"x-both", "m1"}, {"x-both", "m2"}, {"x-multi", "a"}, {"x-multi", "b"}, {"x-single", "one"},
			{"set-cookie", "a=1; Path=/"}, {"set-cookie", "b=2"}, {"content-type", "application/json"}}, "multi"},
		{"binary", 200, [][2]string{{"content-type", "image/png"}}, "\x89PNG\x00\xff"},
		{"nil", 502, nil, `{"message":"Internal server error"}`},
		{"bad-status", 502, nil, `{"message":"Internal server error"}`},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			res := h.Do(&sdktest.Request{Headers: [][2]string{{"x-test-mode", tt.mode}}})
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if res.Status != tt.status || string(res.Body) != tt.body {
				t.Fatalf("got %d %q, want %d %q", res.Status, res.Body, tt.status, tt.body)
			}
			if tt.headers != nil && !reflect.DeepEqual(res.Headers, tt.headers) {
				t.Errorf("headers %q, want %q", res.Headers, tt.headers)
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	fn := sdktest.Build(t, "internal/testfn")
	typed := sdktest.Build(t, "internal/testtyped")
	tests := []struct {
		name   string
		wasm   []byte
		config string
		reason string
	}{
		{"not json", fn, `{`, "not a JSON object"},
		{"not an object", fn, `[1]`, "not a JSON object"},
		{"trailing data", fn, `{} {}`, "unexpected data"},
		{"payload version", fn, `{"payload_version":"3.0"}`, `"payload_version" must be "1.0" or "2.0"`},
		{"payload version type", fn, `{"payload_version":2}`, `"payload_version" must be`},
		{"unknown field", fn, `{"payload_versoin":"2.0"}`, "unknown field(s) payload_versoin"},
		{"binary media type", fn, `{"binary_media_types":["png"]}`, "is not a media type"},
		{"binary media wildcard", fn, `{"binary_media_types":["*/png"]}`, "is not a media type"},
		{"stage variable name", fn, `{"stage_variables":["a.b"]}`, "is not a stage variable name"},
		{"configure rejects", typed, `{"greting":"x"}`, `unknown field "greting"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := sdktest.NewE(t, tt.wasm, sdktest.Options{Config: tt.config})
			if !errors.Is(err, wasm.ErrPluginRejected) {
				t.Fatalf("got %v, want an error wrapping wasm.ErrPluginRejected", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not give the reason %q", err, tt.reason)
			}
		})
	}
}

// TestHostileRequests: odd inputs still give a well-formed event.
func TestHostileRequests(t *testing.T) {
	t.Parallel()
	// A function's callback runs under the host's call deadline (100ms by
	// default), which a cold instance can spend on a few hundred KB of
	// JSON: give the large body room (see the README).
	h := sdktest.New(t, sdktest.Build(t, "internal/testfn"), sdktest.Options{
		Config:       `{"payload_version":"2.0"}`,
		PluginConfig: wasm.PluginConfig{CallTimeout: 5 * time.Second},
	})
	big := strings.Repeat("x\"", 128<<10)
	tests := []*sdktest.Request{
		{Path: "/a?%zz=%&&=&k=%E2%82%AC&k"},
		{Path: "/a", Headers: [][2]string{{"cookie", ";;; ; =;"}, {"x-quote", `"}{\`}}},
		{Method: "POST", Path: "/big", Body: []byte(big)},
		{Method: "POST", Path: "/nul", Body: []byte("a\x00b\"\\")},
	}
	for i, req := range tests {
		res := h.Do(req)
		if res.Err != nil || res.Status != 200 {
			t.Fatalf("request %d: %d %.200s %v", i, res.Status, res.Body, res.Err)
		}
		var ev map[string]any
		if err := json.Unmarshal(res.Body, &ev); err != nil {
			t.Fatalf("request %d: the event is not JSON: %v", i, err)
		}
		if req.Body != nil && ev["body"] != string(req.Body) {
			t.Errorf("request %d: body not passed intact", i)
		}
	}
}

func assertJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got invalid JSON %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		gi, _ := json.MarshalIndent(g, "", "  ")
		wi, _ := json.MarshalIndent(w, "", "  ")
		t.Fatalf("event JSON differs\ngot:  %s\nwant: %s", gi, wi)
	}
}

// TestTrailers: a body followed by trailers still reaches the handler whole.
func TestTrailers(t *testing.T) {
	t.Parallel()
	h := sdktest.New(t, sdktest.Build(t, "internal/testfn"), sdktest.Options{})
	res := h.Do(&sdktest.Request{Method: "POST", Path: "/t", Body: []byte("part one, part two"), Trailers: [][2]string{{"x-checksum", "abc"}}})
	if res.Err != nil || res.Status != 200 {
		t.Fatalf("got %d %s %v; logs %v", res.Status, res.Body, res.Err, h.Logs())
	}
	var ev struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(res.Body, &ev); err != nil || ev.Body != "part one, part two" {
		t.Fatalf("body %q, %v", ev.Body, err)
	}
}
