package main

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/wasm"
	"github.com/wasmgate/wasmgate/sdk/go/sdktest"
)

func gatewayProps() map[string]string {
	return map[string]string{
		"wasmgate.stage":                   "prod",
		"wasmgate.deployment":              "d-7",
		"wasmgate.route.template":          "/pets/{id}",
		"wasmgate.route.params.id":         "7",
		"wasmgate.stage_variables.backend": "http://b",
		"request.id":                       "req-1",
		"source.address":                   "203.0.113.9:5555",
		"request.time":                     string(abi.EncodeInt64(1583349317135 * 1e6)),
	}
}

const mappingConfig = `{"request":{
  "headers":{
    "x-user":"method.request.header.x-client", "x-id":"method.request.path.id", "x-stage":"context.stage",
    "x-lit":"'fixed'", "x-backend":"stageVariables.backend", "x-multi":"method.request.multivalueheader.x-m",
    "x-q":"method.request.querystring.q", "x-body-name":"method.request.body.name", "x-req":"context.requestId",
    "x-ip":"context.identity.sourceIp", "x-time":"context.requestTimeEpoch", "x-missing":"method.request.header.nope"
  },
  "query":{"user":"method.request.header.x-client", "tags":"method.request.multivaluequerystring.tag", "q":"'re placed'", "from-body":"method.request.body.name"}
}}`

func TestRequestMappings(t *testing.T) {
	t.Parallel()
	h := sdktest.New(t, sdktest.Build(t, "."), sdktest.Options{Config: mappingConfig, Properties: gatewayProps()})
	tests := []struct {
		name    string
		req     *sdktest.Request
		path    string
		headers map[string]string
		body    string
	}{
		{"headers and query", &sdktest.Request{Path: "/pets/7?q=orig&tag=a&tag=b&keep=1", Headers: [][2]string{
			{"x-client", "alice"}, {"x-m", "1"}, {"x-m", "2"}, {"x-user", "spoofed"}}},
			"/pets/7?tag=a&tag=b&keep=1&q=re+placed&tags=a&tags=b&user=alice",
			map[string]string{"x-user": "alice", "x-id": "7", "x-stage": "prod", "x-lit": "fixed", "x-backend": "http://b",
				"x-multi": "1,2", "x-q": "orig", "x-req": "req-1", "x-ip": "203.0.113.9", "x-time": "1583349317135", "x-body-name": "", "x-missing": ""}, ""},
		{"body sources", &sdktest.Request{Method: "POST", Path: "/pets/7", Headers: [][2]string{{"content-type", "application/json"}}, Body: []byte(`{"name":"rex & co"}`)},
			"/pets/7?q=re+placed&from-body=rex+%26+co",
			map[string]string{"x-body-name": "rex & co", "x-user": ""}, `{"name":"rex & co"}`},
		{"body not JSON", &sdktest.Request{Method: "POST", Path: "/pets/7", Body: []byte(`{"name":`)},
			"/pets/7?q=re+placed", map[string]string{"x-body-name": ""}, `{"name":`},
		{"hostile values", &sdktest.Request{Path: "/pets/7?tag=%26admin%3Dtrue", Headers: [][2]string{{"x-client", "a\r\nx-evil: 1"}}},
			"/pets/7?tag=%26admin%3Dtrue&q=re+placed&tags=%26admin%3Dtrue&user=a%0D%0Ax-evil%3A+1", map[string]string{"x-user": "", "x-evil": ""}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := h.Do(tt.req)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			up := res.Upstream
			if up == nil {
				t.Fatalf("not forwarded: %d %s", res.Status, res.Body)
			}
			if up.Path != tt.path {
				t.Errorf("path %q, want %q", up.Path, tt.path)
			}
			for k, v := range tt.headers {
				if got := up.Header(k); got != v {
					t.Errorf("upstream %s = %q, want %q", k, got, v)
				}
			}
			if string(up.Body) != tt.body {
				t.Errorf("body %q, want %q (mappings must not touch it)", up.Body, tt.body)
			}
		})
	}
}

const templateConfig = `{"request":{"templates":{
  "application/json":"{\"name\": $input.json('$.pet.name'), \"id\": \"$input.params('id')\", \"req\": \"$context.requestId\", \"method\": \"$context.httpMethod\", \"resource\": \"$context.resourcePath\", \"stage\": \"$context.stage\", \"backend\": \"$stageVariables.backend\", \"q\": \"$util.urlEncode($input.params('q'))\", \"note\": \"$util.escapeJavaScript($input.path('$.pet.note'))\", \"auth\": \"$input.params('x-token')\"}",
  "text/plain":"text:$input.body"
 }, "passthrough":"PASSTHROUGH"}}`

func TestRequestTemplates(t *testing.T) {
	t.Parallel()
	w := sdktest.Build(t, ".")
	harness := func(passthrough string) *sdktest.Harness {
		return sdktest.New(t, w, sdktest.Options{Config: strings.Replace(templateConfig, "PASSTHROUGH", passthrough, 1), Properties: gatewayProps()})
	}
	noMatch, never, noTemplates := harness("when_no_match"), harness("never"), harness("when_no_templates")
	jsonBody := []byte(`{"pet":{"name":"rex","note":"say \"hi\"\n</script>"}}`)
	wantJSON := map[string]any{"name": "rex", "id": "7", "req": "req-1", "method": "POST", "resource": "/pets/{id}", "stage": "prod",
		"backend": "http://b", "q": "a+b%26", "note": "say \"hi\"\n</script>", "auth": "tok"}
	post := func(ct string, body []byte) *sdktest.Request {
		h := [][2]string{{"x-token", "tok"}, {"content-length", "999"}}
		if ct != "" {
			h = append(h, [2]string{"content-type", ct})
		}
		return &sdktest.Request{Method: "POST", Path: "/pets/7?q=a%20b%26", Headers: h, Body: body}
	}
	tests := []struct {
		name     string
		h        *sdktest.Harness
		req      *sdktest.Request
		status   int    // of a local reply; 0: forwarded
		body     string // upstream body, or the local reply
		wantJSON bool   // the upstream body is the JSON template's output
	}{
		{"json template", noMatch, post("application/json", jsonBody), 0, "", true},
		{"json with parameters", never, post("application/json; charset=utf-8", jsonBody), 0, "", true},
		{"no content type means json", noMatch, post("", jsonBody), 0, "", true},
		{"text template", noMatch, post("text/plain", []byte("hello")), 0, "text:hello", false},
		{"no match passes through", noMatch, post("application/xml", []byte("<a/>")), 0, "<a/>", false},
		{"never: 415", never, post("application/xml", []byte("<a/>")), 415, `{"message":"Unsupported Media Type"}`, false},
		{"when_no_templates: 415", noTemplates, post("application/xml", []byte("<a/>")), 415, `{"message":"Unsupported Media Type"}`, false},
		{"malformed JSON", noMatch, post("application/json", []byte(`{"pet":`)), 400, "", false},
		{"trailing garbage", noMatch, post("application/json", []byte(`{"pet":{}} x`)), 400, "", false},
		{"nesting bomb", noMatch, post("application/json", []byte(strings.Repeat("[", 100000))), 400, "", false},
		{"bodiless request stays bodiless", noMatch, &sdktest.Request{Method: "GET", Path: "/pets/7"}, 0, "", false},
		{"bodiless request, never", never, &sdktest.Request{Method: "GET", Path: "/pets/7"}, 0, "", false},
		{"bodiless xml request, never", never, &sdktest.Request{Method: "GET", Path: "/pets/7", Headers: [][2]string{{"content-type", "text/xml"}}}, 415, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.h.Do(tt.req)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if tt.status != 0 {
				if !res.Local || res.Status != tt.status || res.Header("content-type") != "application/json" {
					t.Fatalf("got %d (local %v) %s, want a local %d", res.Status, res.Local, res.Body, tt.status)
				}
				if tt.body != "" && string(res.Body) != tt.body {
					t.Errorf("body %s, want %s", res.Body, tt.body)
				}
				if tt.status == 400 && !strings.Contains(string(res.Body), "Could not parse request body into json") {
					t.Errorf("400 body %s", res.Body)
				}
				return
			}
			up := res.Upstream
			if up == nil {
				t.Fatalf("not forwarded: %d %s", res.Status, res.Body)
			}
			if tt.wantJSON {
				var got map[string]any
				if err := json.Unmarshal(up.Body, &got); err != nil {
					t.Fatalf("the template's output is not JSON: %v\n%s", err, up.Body)
				}
				if !reflect.DeepEqual(got, wantJSON) {
					t.Errorf("got %v\nwant %v", got, wantJSON)
				}
			} else if string(up.Body) != tt.body {
				t.Errorf("upstream body %q, want %q", up.Body, tt.body)
			}
			if tt.body != "<a/>" && up.Header("content-length") != "" {
				t.Errorf("a stale content-length reached the upstream: %q", up.Header("content-length"))
			}
		})
	}
}

const responseConfig = `{"responses":[
  {"pattern":"2\\d\\d", "headers":{"x-up":"integration.response.header.x-upstream", "x-lit":"'yes'", "x-from-body":"integration.response.body.id", "x-ctx":"context.requestId", "x-multi":"integration.response.multivalueheader.x-m"},
   "templates":{"application/json":"{\"pet\": $input.json('$'), \"name\": \"$input.path('$.name')\", \"asked\": \"$input.params('id')\", \"q\": \"$input.params('q')\"}", "application/xml":"<pet>$input.path('$.name')</pet>"}},
  {"pattern":"4\\d\\d", "status":400, "templates":{"application/json":"{\"error\": \"$input.path('$.message')\"}"}},
  {"pattern":"default", "status":502, "headers":{"x-default":"'1'"}}
]}`

func TestResponseMappings(t *testing.T) {
	t.Parallel()
	upstream := func(req *sdktest.Request) *sdktest.Response {
		p, _, _ := strings.Cut(req.Path, "?")
		switch p {
		case "/ok":
			return &sdktest.Response{Status: 200, Headers: [][2]string{{"x-upstream", "u1"}, {"x-m", "a"}, {"x-m", "b"}, {"content-length", "24"}, {"content-type", "text/plain"}},
				Body: []byte(`{"id":7,"name":"rex"}`)}
		case "/empty":
			return &sdktest.Response{Status: 204}
		case "/missing":
			return &sdktest.Response{Status: 404, Body: []byte(`{"message":"no pet"}`)}
		case "/boom":
			return &sdktest.Response{Status: 500, Body: []byte("oops")}
		case "/bad":
			return &sdktest.Response{Status: 200, Body: []byte("not json")}
		}
		return nil
	}
	h := sdktest.New(t, sdktest.Build(t, "."), sdktest.Options{Config: responseConfig, Properties: gatewayProps(), Upstream: upstream})
	get := func(path, accept string) *sdktest.Request {
		return &sdktest.Request{Path: path, Headers: [][2]string{{"accept", accept}}}
	}
	tests := []struct {
		name        string
		req         *sdktest.Request
		status      int
		contentType string
		body        string
		headers     map[string]string
	}{
		{"2xx json", get("/ok?q=x", "application/json"), 200, "application/json",
			`{"pet": {"id":7,"name":"rex"}, "name": "rex", "asked": "7", "q": "x"}`,
			map[string]string{"x-up": "u1", "x-lit": "yes", "x-from-body": "7", "x-ctx": "req-1", "x-multi": "a,b", "x-upstream": "u1", "content-length": ""}},
		{"2xx xml by Accept", get("/ok", "application/xml"), 200, "application/xml", `<pet>rex</pet>`, nil},
		{"2xx unknown Accept", get("/ok", "text/html"), 200, "application/json", `{"pet": {"id":7,"name":"rex"}, "name": "rex", "asked": "7", "q": ""}`, nil},
		{"2xx empty body", get("/empty", ""), 204, "", "", map[string]string{"x-from-body": "", "x-lit": "yes"}},
		{"4xx mapped", get("/missing", ""), 400, "application/json", `{"error": "no pet"}`, nil},
		{"default", get("/boom", ""), 502, "", "oops", map[string]string{"x-default": "1"}},
		{"malformed upstream JSON", get("/bad", ""), 500, "application/json", `{"message":"Internal server error"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := h.Do(tt.req)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if res.Status != tt.status || string(res.Body) != tt.body || res.Header("content-type") != tt.contentType {
				t.Fatalf("got %d %q %q, want %d %q %q", res.Status, res.Header("content-type"), res.Body, tt.status, tt.contentType, tt.body)
			}
			for k, v := range tt.headers {
				if got := res.Header(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
	if logs := strings.Join(h.Logs(), "\n"); !strings.Contains(logs, "unable to transform the response") {
		t.Errorf("the malformed upstream body is not logged: %s", logs)
	}
}

func TestRejectsBadConfig(t *testing.T) {
	t.Parallel()
	w := sdktest.Build(t, ".")
	tests := []struct{ config, reason string }{
		{``, "configuration is empty"},
		{`{`, "not valid JSON"},
		{`{"request":{"header":{}}}`, `unknown field "header"`},
		{`{"requests":{}}`, `unknown field "requests"`},
		{`{} []`, "unexpected data"},
		{`{"request":{"passthrough":"sometimes"}}`, "passthrough must be"},
		{`{"request":{"headers":{"x":"method.request.cookie.a"}}}`, "unsupported source"},
		{`{"request":{"headers":{"x a":"'v'"}}}`, "not a valid header name"},
		{`{"request":{"headers":{"content-length":"'1'"}}}`, "managed by the gateway"},
		{`{"request":{"headers":{"x":"context.nope"}}}`, "context.nope is not supported"},
		{`{"request":{"query":{"":"'v'"}}}`, "empty query parameter name"},
		{`{"request":{"templates":{"application/json":"#set($a = 1)$a"}}}`, "#set is not supported"},
		{`{"request":{"templates":{"application/json":"#foreach($p in $input.path('$'))x#end"}}}`, "#foreach is not supported"},
		{`{"request":{"templates":{"application/json":"$input.path('$.a').toUpperCase()"}}}`, "method calls"},
		{`{"request":{"templates":{"application/json":"$foo"}}}`, "$foo is not supported"},
		{`{"request":{"templates":{"application/json":"$input.json('$..a')"}}}`, "recursive descent"},
		{`{"request":{"templates":{"json":"x"}}}`, "not a media type"},
		{`{"responses":[{"pattern":"(","status":200}]}`, "bad pattern"},
		{`{"responses":[{"status":200}]}`, `"pattern" is required`},
		{`{"responses":[{"pattern":"default"},{"pattern":"default"}]}`, `second "default"`},
		{`{"responses":[{"pattern":"200","status":99}]}`, "not a final HTTP status"},
		{`{"responses":[{"pattern":"200","headers":{"x":"method.request.header.a"}}]}`, "unsupported source"},
		{`{"responses":[{"pattern":"200","templates":{"application/json":"$util.toJson($input.body)"}}]}`, "$util.toJson is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			t.Parallel()
			_, err := sdktest.NewE(t, w, sdktest.Options{Config: tt.config})
			if !errors.Is(err, wasm.ErrPluginRejected) {
				t.Fatalf("%s: got %v, want an error wrapping wasm.ErrPluginRejected", tt.config, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not give the reason %q", err, tt.reason)
			}
		})
	}
}

// TestTrailers: a request body followed by trailers. The template is
// rendered in the trailers callback, where wasmgate (unlike Envoy) does not
// let a plugin replace the body: the request fails with a 500 and a log
// line saying why, rather than reaching the upstream untransformed.
func TestTrailers(t *testing.T) {
	t.Parallel()
	h := sdktest.New(t, sdktest.Build(t, "."), sdktest.Options{Config: `{"request":{"templates":{"application/json":"{\"n\": $input.json('$.n')}"}}}`})
	res := h.Do(&sdktest.Request{Method: "POST", Path: "/t", Body: []byte(`{"n": 5}`), Trailers: [][2]string{{"x-checksum", "abc"}}})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	switch {
	case res.Upstream != nil:
		// A host that allows it: the body must be the template's output.
		if string(res.Upstream.Body) != `{"n": 5}` {
			t.Fatalf("upstream body %q", res.Upstream.Body)
		}
	case res.Status != 500 || !strings.Contains(strings.Join(h.Logs(), "\n"), "trailers callback"):
		t.Fatalf("got %d %s; logs %v", res.Status, res.Body, h.Logs())
	}
}

// TestAuthorizerContext: context.authorizer.* sources and $context.authorizer.*
// variables read a custom authorizer's answer from the
// wasmgate.authorizer properties.
func TestAuthorizerContext(t *testing.T) {
	t.Parallel()
	props := gatewayProps()
	props["wasmgate.authorizer.principal_id"] = "alice"
	props["wasmgate.authorizer.tier"] = "gold"
	cfg := `{"request":{"headers":{"x-principal":"context.authorizer.principalId","x-tier":"context.authorizer.tier","x-none":"context.authorizer.nope"},
  "templates":{"application/json":"{\"who\":\"$context.authorizer.principalId\",\"tier\":\"${context.authorizer.tier}\"}"}}}`
	h := sdktest.New(t, sdktest.Build(t, "."), sdktest.Options{Config: cfg, Properties: props})
	res := h.Do(&sdktest.Request{Method: "POST", Path: "/pets/7", Headers: [][2]string{{"content-type", "application/json"}}, Body: []byte(`{}`)})
	if res.Err != nil || res.Upstream == nil {
		t.Fatalf("%v %d %s", res.Err, res.Status, res.Body)
	}
	up := res.Upstream
	if up.Header("x-principal") != "alice" || up.Header("x-tier") != "gold" || up.Header("x-none") != "" || string(up.Body) != `{"who":"alice","tier":"gold"}` {
		t.Errorf("upstream %v %s", up.Headers, up.Body)
	}
}
