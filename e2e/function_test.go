package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/host/config"
)

// functionDoc serves function integrations: hello-function
// (plugins/hello-function), testfn (sdk/go/lambda/internal/testfn: echoes
// the proxy event, or answers with the proxy response it is sent) and
// panics (a plugin that never answers, or panics), in the native form and
// in the AWS form (aws_proxy).
func functionDoc() string {
	return `openapi: 3.0.3
info: {title: e2e functions, version: "1"}
x-wasmgate-stages:
  - name: dev
    variables: {tier: dev-tier, secret: not-in-the-event}
  - name: prod
    hosts: [fn.example.test]
    variables: {tier: prod-tier}
paths:
  /hello:
    get:
      x-wasmgate-integration:
        type: function
        function: {plugin: hello-function}
      responses: {"200": {description: a greeting}}
  /hello/{name}:
    parameters: [{name: name, in: path, required: true, schema: {type: string}}]
    get:
      x-wasmgate-integration:
        type: function
        function: {plugin: hello-function, payload_version: "2.0"}
      responses: {"200": {description: a greeting}}
    post:
      x-wasmgate-integration:
        type: function
        function: {plugin: hello-function, payload_version: "2.0"}
      responses: {"200": {description: a greeting}}
  /hello1/{name}:
    parameters: [{name: name, in: path, required: true, schema: {type: string}}]
    post:
      x-wasmgate-integration:
        type: function
        function: {plugin: hello-function, payload_version: "1.0"}
      responses: {"200": {description: a greeting}}
  /v1/items/{id}:
    x-amazon-apigateway-any-method:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      x-wasmgate-integration:
        type: function
        function: {plugin: testfn, config: {stage_variables: [tier]}}
      responses: {"200": {description: the event}}
  /v2/items/{id}:
    x-amazon-apigateway-any-method:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      x-wasmgate-integration:
        type: function
        function: {plugin: testfn, payload_version: "2.0", config: {stage_variables: [tier]}}
      responses: {"200": {description: the event}}
  /piped/{id}:
    get:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      x-wasmgate-pipeline:
        - plugin: template
          config: {header: x-template, value: from-pipeline}
      x-wasmgate-integration:
        type: function
        function: {plugin: testfn, payload_version: "2.0"}
      responses: {"200": {description: the event}}
  /aws/hello/{name}:
    get:
      parameters: [{name: name, in: path, required: true, schema: {type: string}}]
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:hello-function/invocations
        payloadFormatVersion: "2.0"
      responses: {"200": {description: a greeting}}
  /aws/items/{itemId}:
    x-amazon-apigateway-any-method:
      parameters: [{name: itemId, in: path, required: true, schema: {type: string}}]
      x-amazon-apigateway-integration:
        type: AWS_PROXY
        httpMethod: POST
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:testfn:live/invocations
        timeoutInMillis: 5000
        passthroughBehavior: when_no_match
      responses: {"200": {description: the event}}
  /panic:
    get:
      x-wasmgate-pipeline: []
      x-wasmgate-integration: {type: function, function: {plugin: panics}}
      responses: {"500": {description: the plugin panics}}
  /quiet:
    get:
      x-wasmgate-pipeline: []
      x-wasmgate-integration: {type: function, function: {plugin: panics}}
      responses: {"502": {description: the plugin does not answer}}
`
}

// send does req and reads the whole answer.
func send(t testing.TB, req *http.Request) resp {
	t.Helper()
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp{status: r.StatusCode, header: r.Header, body: string(b), proto: r.Proto}
}

// newRequest builds a request; hdr holds name, value pairs (a name may
// repeat) and "Host" sets the Host header.
func newRequest(t testing.TB, method, url string, body io.Reader, hdr ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return req
}

// jsonValue decodes a JSON text (numbers as json.Number).
func jsonValue(t testing.TB, what, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s is not JSON: %v: %q", what, err, s)
	}
	return v
}

// checkEvent compares the proxy event that testfn echoed with want (JSON),
// after checking and removing the members that change with every request:
// the request id (the X-Request-Id of the answer) and the request time.
func checkEvent(t testing.TB, r resp, want string) {
	t.Helper()
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content-type %q: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	got, ok := jsonValue(t, "the echoed event", r.body).(map[string]any)
	if !ok {
		t.Fatalf("the event is not an object: %s", r.body)
	}
	rc, ok := got["requestContext"].(map[string]any)
	if !ok {
		t.Fatalf("no requestContext: %s", r.body)
	}
	if id := r.header.Get("X-Request-Id"); id == "" || rc["requestId"] != id {
		t.Errorf("requestContext.requestId %v, X-Request-Id %q", rc["requestId"], id)
	}
	timeKey, epochKey := "requestTime", "requestTimeEpoch"
	if got["version"] == "2.0" {
		timeKey, epochKey = "time", "timeEpoch"
	}
	ts, err := time.Parse("02/Jan/2006:15:04:05 -0700", rc[timeKey].(string))
	if err != nil || time.Since(ts) > time.Minute || time.Since(ts) < -time.Minute {
		t.Errorf("requestContext.%s %v: not the request time (%v)", timeKey, rc[timeKey], err)
	}
	ms, err := rc[epochKey].(json.Number).Int64()
	if err != nil || ms/1000 != ts.Unix() {
		t.Errorf("requestContext.%s %v does not match %s %v", epochKey, rc[epochKey], timeKey, rc[timeKey])
	}
	delete(rc, "requestId")
	delete(rc, timeKey)
	delete(rc, epochKey)
	if w := jsonValue(t, "want", want); !reflect.DeepEqual(got, w) {
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(w)
		t.Errorf("event\n got %s\nwant %s", gb, wb)
	}
}

// TestFunctionIntegrationEvent checks the proxy event a function plugin
// receives, field by field, for payload 1.0 and 2.0: method, paths with
// and without the stage prefix, path parameters, query strings (repeated,
// escaped), headers, cookies, bodies (JSON, malformed JSON, binary),
// stage variables and the request context, in both stages.
func TestFunctionIntegrationEvent(t *testing.T) {
	e := startGateway(t, functionDoc(), nil)
	ua := "Go-http-client/1.1"
	tests := []struct {
		name   string
		method string
		url    string // after e.base
		body   string
		hdr    []string
		want   string
	}{
		{"1.0 POST with query, headers and a JSON body", "POST", "/dev/v1/items/a%20b?x=1&x=2&y=%C3%BC", `{"a":1}`,
			[]string{"Content-Type", "application/json", "X-Custom", "c1", "X-Multi", "m1", "X-Multi", "m2"},
			`{"resource":"/v1/items/{id}","path":"/v1/items/a b","httpMethod":"POST",
			  "headers":{"accept-encoding":"gzip","content-length":"7","content-type":"application/json","user-agent":"` + ua + `","x-custom":"c1","x-multi":"m2"},
			  "multiValueHeaders":{"accept-encoding":["gzip"],"content-length":["7"],"content-type":["application/json"],"user-agent":["` + ua + `"],"x-custom":["c1"],"x-multi":["m1","m2"]},
			  "queryStringParameters":{"x":"2","y":"ü"},"multiValueQueryStringParameters":{"x":["1","2"],"y":["ü"]},
			  "pathParameters":{"id":"a b"},"stageVariables":{"tier":"dev-tier"},
			  "requestContext":{"resourcePath":"/v1/items/{id}","httpMethod":"POST","path":"/dev/v1/items/a b","protocol":"HTTP/1.1",
			    "stage":"dev","deploymentId":"d-1","domainName":"127.0.0.1","domainPrefix":"127",
			    "identity":{"sourceIp":"127.0.0.1","userAgent":"` + ua + `"}},
			  "body":"{\"a\":1}","isBase64Encoded":false}`},
		{"1.0 GET without body or query", "GET", "/dev/v1/items/7", "", nil,
			`{"resource":"/v1/items/{id}","path":"/v1/items/7","httpMethod":"GET",
			  "headers":{"accept-encoding":"gzip","user-agent":"` + ua + `"},
			  "multiValueHeaders":{"accept-encoding":["gzip"],"user-agent":["` + ua + `"]},
			  "queryStringParameters":null,"multiValueQueryStringParameters":null,
			  "pathParameters":{"id":"7"},"stageVariables":{"tier":"dev-tier"},
			  "requestContext":{"resourcePath":"/v1/items/{id}","httpMethod":"GET","path":"/dev/v1/items/7","protocol":"HTTP/1.1",
			    "stage":"dev","deploymentId":"d-1","domainName":"127.0.0.1","domainPrefix":"127",
			    "identity":{"sourceIp":"127.0.0.1","userAgent":"` + ua + `"}},
			  "body":null,"isBase64Encoded":false}`},
		{"1.0 DELETE in the prod stage chosen by host", "DELETE", "/v1/items/9?a=%26b%3Dc", "", []string{"Host", "fn.example.test:8080"},
			`{"resource":"/v1/items/{id}","path":"/v1/items/9","httpMethod":"DELETE",
			  "headers":{"accept-encoding":"gzip","user-agent":"` + ua + `"},
			  "multiValueHeaders":{"accept-encoding":["gzip"],"user-agent":["` + ua + `"]},
			  "queryStringParameters":{"a":"&b=c"},"multiValueQueryStringParameters":{"a":["&b=c"]},
			  "pathParameters":{"id":"9"},"stageVariables":{"tier":"prod-tier"},
			  "requestContext":{"resourcePath":"/v1/items/{id}","httpMethod":"DELETE","path":"/v1/items/9","protocol":"HTTP/1.1",
			    "stage":"prod","deploymentId":"d-1","domainName":"fn.example.test","domainPrefix":"fn",
			    "identity":{"sourceIp":"127.0.0.1","userAgent":"` + ua + `"}},
			  "body":null,"isBase64Encoded":false}`},
		{"1.0 binary body is base64", "PUT", "/dev/v1/items/b", "\x89PNG\x00\xff", []string{"Content-Type", "image/png"},
			`{"resource":"/v1/items/{id}","path":"/v1/items/b","httpMethod":"PUT",
			  "headers":{"accept-encoding":"gzip","content-length":"6","content-type":"image/png","user-agent":"` + ua + `"},
			  "multiValueHeaders":{"accept-encoding":["gzip"],"content-length":["6"],"content-type":["image/png"],"user-agent":["` + ua + `"]},
			  "queryStringParameters":null,"multiValueQueryStringParameters":null,
			  "pathParameters":{"id":"b"},"stageVariables":{"tier":"dev-tier"},
			  "requestContext":{"resourcePath":"/v1/items/{id}","httpMethod":"PUT","path":"/dev/v1/items/b","protocol":"HTTP/1.1",
			    "stage":"dev","deploymentId":"d-1","domainName":"127.0.0.1","domainPrefix":"127",
			    "identity":{"sourceIp":"127.0.0.1","userAgent":"` + ua + `"}},
			  "body":"iVBORwD/","isBase64Encoded":true}`},
		{"2.0 POST with cookies and a repeated query parameter", "POST", "/dev/v2/items/a%20b?x=1&x=2&y=%C3%BC", `{"a":1}`,
			[]string{"Content-Type", "application/json", "X-Custom", "c1", "X-Multi", "m1", "X-Multi", "m2", "Cookie", "a=1; b=2"},
			`{"version":"2.0","routeKey":"POST /v2/items/{id}","rawPath":"/dev/v2/items/a b","rawQueryString":"x=1&x=2&y=%C3%BC",
			  "cookies":["a=1","b=2"],
			  "headers":{"accept-encoding":"gzip","content-length":"7","content-type":"application/json","user-agent":"` + ua + `","x-custom":"c1","x-multi":"m1,m2"},
			  "queryStringParameters":{"x":"1,2","y":"ü"},"pathParameters":{"id":"a b"},"stageVariables":{"tier":"dev-tier"},
			  "requestContext":{"routeKey":"POST /v2/items/{id}","stage":"dev","deploymentId":"d-1","domainName":"127.0.0.1","domainPrefix":"127",
			    "http":{"method":"POST","path":"/dev/v2/items/a b","protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":"` + ua + `"}},
			  "body":"{\"a\":1}","isBase64Encoded":false}`},
		{"2.0 GET without body or query", "GET", "/dev/v2/items/7", "", nil,
			`{"version":"2.0","routeKey":"GET /v2/items/{id}","rawPath":"/dev/v2/items/7","rawQueryString":"",
			  "headers":{"accept-encoding":"gzip","user-agent":"` + ua + `"},
			  "pathParameters":{"id":"7"},"stageVariables":{"tier":"dev-tier"},
			  "requestContext":{"routeKey":"GET /v2/items/{id}","stage":"dev","deploymentId":"d-1","domainName":"127.0.0.1","domainPrefix":"127",
			    "http":{"method":"GET","path":"/dev/v2/items/7","protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":"` + ua + `"}},
			  "isBase64Encoded":false}`},
		{"2.0 malformed JSON body passes verbatim", "PATCH", "/v2/items/7", `{"a":`, []string{"Host", "fn.example.test", "Content-Type", "application/json"},
			`{"version":"2.0","routeKey":"PATCH /v2/items/{id}","rawPath":"/v2/items/7","rawQueryString":"",
			  "headers":{"accept-encoding":"gzip","content-length":"5","content-type":"application/json","user-agent":"` + ua + `"},
			  "pathParameters":{"id":"7"},"stageVariables":{"tier":"prod-tier"},
			  "requestContext":{"routeKey":"PATCH /v2/items/{id}","stage":"prod","deploymentId":"d-1","domainName":"fn.example.test","domainPrefix":"fn",
			    "http":{"method":"PATCH","path":"/v2/items/7","protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":"` + ua + `"}},
			  "body":"{\"a\":","isBase64Encoded":false}`},
		// Without a stage_variables allowlist, every stage variable (as in
		// API Gateway).
		{"2.0 behind a pipeline plugin", "GET", "/dev/piped/5", "", nil,
			`{"version":"2.0","routeKey":"GET /piped/{id}","rawPath":"/dev/piped/5","rawQueryString":"",
			  "headers":{"accept-encoding":"gzip","user-agent":"` + ua + `","x-template":"from-pipeline"},
			  "pathParameters":{"id":"5"},"stageVariables":{"secret":"not-in-the-event","tier":"dev-tier"},
			  "requestContext":{"routeKey":"GET /piped/{id}","stage":"dev","deploymentId":"d-1","domainName":"127.0.0.1","domainPrefix":"127",
			    "http":{"method":"GET","path":"/dev/piped/5","protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":"` + ua + `"}},
			  "isBase64Encoded":false}`},
		{"aws_proxy: 1.0, the request's method, the function from the ARN", "POST", "/dev/aws/items/42?q=1", "hi", []string{"Content-Type", "text/plain"},
			`{"resource":"/aws/items/{itemId}","path":"/aws/items/42","httpMethod":"POST",
			  "headers":{"accept-encoding":"gzip","content-length":"2","content-type":"text/plain","user-agent":"` + ua + `"},
			  "multiValueHeaders":{"accept-encoding":["gzip"],"content-length":["2"],"content-type":["text/plain"],"user-agent":["` + ua + `"]},
			  "queryStringParameters":{"q":"1"},"multiValueQueryStringParameters":{"q":["1"]},
			  "pathParameters":{"itemId":"42"},"stageVariables":{"secret":"not-in-the-event","tier":"dev-tier"},
			  "requestContext":{"resourcePath":"/aws/items/{itemId}","httpMethod":"POST","path":"/dev/aws/items/42","protocol":"HTTP/1.1",
			    "stage":"dev","deploymentId":"d-1","domainName":"127.0.0.1","domainPrefix":"127",
			    "identity":{"sourceIp":"127.0.0.1","userAgent":"` + ua + `"}},
			  "body":"hi","isBase64Encoded":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			r := send(t, newRequest(t, tt.method, e.base+tt.url, body, tt.hdr...))
			checkEvent(t, r, tt.want)
		})
	}
	// The pipeline plugin before the function saw its local response.
	if r := do(t, nil, "GET", e.base+"/dev/piped/5", nil); r.header.Get("X-Wasmgate-Plugin") != "template" {
		t.Errorf("the template plugin did not see the function's answer: %v", r.header)
	}
}

// TestFunctionIntegrationResponse feeds testfn proxy responses (it answers
// with the JSON it receives as the request body) and checks what the
// client gets: status, headers (multi-value, cookies, hop-by-hop dropped),
// base64 bodies, payload 2.0 inference, and API Gateway's 502 for every
// malformed response, handler error and panic.
func TestFunctionIntegrationResponse(t *testing.T) {
	e := startGateway(t, functionDoc(), nil)
	const fnError = `{"message":"Internal server error"}`
	tests := []struct {
		name     string
		version  string // "v1" or "v2"
		mode     string // x-test-mode
		response string // the proxy response JSON testfn returns
		status   int
		headers  map[string][]string // exact values; nil entries must be absent
		body     string
		log      string // in the gateway log, with the request id
	}{
		{"full response", "v1", "respond",
			`{"statusCode":201,"headers":{"x-a":"1","Connection":"close","Content-Length":"999","X-Both":"h"},
			  "multiValueHeaders":{"x-m":["a","b"],"x-both":["m1","m2"]},"cookies":["c=1; Path=/","d=2"],"body":"aGk=","isBase64Encoded":true}`,
			201, map[string][]string{"X-A": {"1"}, "X-M": {"a", "b"}, "X-Both": {"m1", "m2"}, "Set-Cookie": {"c=1; Path=/", "d=2"},
				"Content-Type": {"application/json"}, "Content-Length": {"2"}, "Connection": nil}, "hi", ""},
		{"status as a string, text body", "v2", "respond", `{"statusCode":"404","headers":{"content-type":"text/plain"},"body":"no such item"}`,
			404, map[string][]string{"Content-Type": {"text/plain"}, "Content-Length": {"12"}}, "no such item", ""},
		{"no body", "v1", "respond", `{"statusCode":204}`, 204, map[string][]string{"Content-Type": nil}, "", ""},
		{"2.0 infers a 200 from a JSON object without statusCode", "v2", "respond", `{"a":[1,2]}`,
			200, map[string][]string{"Content-Type": {"application/json"}}, `{"a":[1,2]}`, ""},
		{"2.0 infers a 200 from a JSON array", "v2", "respond", `[1,2]`, 200, map[string][]string{"Content-Type": {"application/json"}}, `[1,2]`, ""},
		{"1.0 needs statusCode", "v1", "respond", `[1,2]`, 502, map[string][]string{"Content-Type": {"application/json"}}, fnError, "not a JSON object"},
		{"malformed JSON 1.0", "v1", "respond", `{"statusCode":201`, 502, nil, fnError, "not valid JSON"},
		{"malformed JSON 2.0", "v2", "respond", `{"statusCode":201`, 502, nil, fnError, "not valid JSON"},
		{"status out of range", "v1", "respond", `{"statusCode":99}`, 502, nil, fnError, "malformed response"},
		{"CRLF in a header value", "v2", "respond", `{"statusCode":200,"headers":{"x-evil":"a\r\nset-cookie: b=1"}}`,
			502, map[string][]string{"X-Evil": nil, "Set-Cookie": nil}, fnError, "malformed response"},
		{"body that is not a string", "v1", "respond", `{"statusCode":200,"body":{"a":1}}`, 502, nil, fnError, "malformed response"},
		{"bad base64", "v2", "respond", `{"statusCode":200,"body":"!!","isBase64Encoded":true}`, 502, nil, fnError, "malformed response"},
		{"handler error 1.0", "v1", "error", `{}`, 502, nil, fnError, "the handler failed: boom"},
		{"handler error 2.0", "v2", "error", `{}`, 502, nil, fnError, "the handler failed: boom"},
		{"handler panic", "v1", "panic", `{}`, 502, nil, fnError, "the handler panicked: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := send(t, newRequest(t, "POST", e.base+"/dev/"+tt.version+"/items/1", strings.NewReader(tt.response),
				"X-Test-Mode", tt.mode, "Content-Type", "application/json"))
			if r.status != tt.status || r.body != tt.body {
				t.Fatalf("got %d %q, want %d %q", r.status, r.body, tt.status, tt.body)
			}
			for k, want := range tt.headers {
				if got := r.header.Values(k); !reflect.DeepEqual(got, want) && (len(got) != 0 || len(want) != 0) {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			id := r.header.Get("X-Request-Id")
			if id == "" {
				t.Fatal("no X-Request-Id")
			}
			if tt.log != "" && !strings.Contains(e.errs.String(), tt.log) {
				t.Errorf("the gateway log does not say %q:\n%s", tt.log, e.errs)
			}
			if tt.mode == "error" && !strings.Contains(e.errs.String(), "lambda: request "+id+": the handler failed") {
				t.Errorf("the handler error is not logged with the request id %s", id)
			}
		})
	}
	// The function's instance survived every failure: nothing was discarded.
	for _, p := range e.gw.Current().Plugins() {
		if st := p.Stats(); st.Discarded != 0 {
			t.Errorf("plugin %s: %+v: an instance was discarded", p.Info().Name, st)
		}
	}
}

// TestFunctionIntegrationHello runs the hello-function plugin, payload 1.0
// (/hello) and 2.0 (/hello/{name}, also in the aws_proxy form), with
// hostile names.
func TestFunctionIntegrationHello(t *testing.T) {
	e := startGateway(t, functionDoc(), nil)
	long := strings.Repeat("é", 128)
	tests := []struct {
		name, method, url string
		hdr               []string
		status            int
		body              string
	}{
		{"1.0 default name", "GET", "/dev/hello", nil, 200, `{"message":"hello, world","stage":"dev"}`},
		{"1.0 query name", "GET", "/dev/hello?name=bob", nil, 200, `{"message":"hello, bob","stage":"dev"}`},
		{"1.0 prod by host", "GET", "/hello?name=bob", []string{"Host", "fn.example.test"}, 200, `{"message":"hello, bob","stage":"prod"}`},
		{"2.0 path name", "GET", "/dev/hello/alice?name=bob", nil, 200, `{"message":"hello, alice","stage":"dev"}`},
		{"2.0 prod by host", "GET", "/hello/alice", []string{"Host", "fn.example.test"}, 200, `{"message":"hello, alice","stage":"prod"}`},
		{"2.0 escaped name", "GET", "/dev/hello/J%C3%BCrgen%20%22J%22", nil, 200, `{"message":"hello, Jürgen \"J\"","stage":"dev"}`},
		{"2.0 markup in JSON", "GET", "/dev/hello/%3Cscript%3E&", nil, 200, `{"message":"hello, <script>&","stage":"dev"}`},
		{"2.0 128 characters", "GET", "/dev/hello/" + long, nil, 200, `{"message":"hello, ` + long + `","stage":"dev"}`},
		{"2.0 too long", "GET", "/dev/hello/" + long + "x", nil, 400, `{"message":"name is too long (at most 128 characters)"}`},
		{"1.0 too long", "GET", "/dev/hello?name=" + strings.Repeat("a", 129), nil, 400, `{"message":"name is too long (at most 128 characters)"}`},
		{"1.0 control characters", "GET", "/dev/hello?name=a%0D%0Ab", nil, 400, `{"message":"name must be printable text"}`},
		{"2.0 NUL in the path", "GET", "/dev/hello/a%00b", nil, 400, `{"message":"name must be printable text"}`},
		{"2.0 invalid UTF-8", "GET", "/dev/hello/a%FFb", nil, 400, `{"message":"name must be printable text"}`},
		{"2.0 blank name", "GET", "/dev/hello/%20%20?name=carol", nil, 200, `{"message":"hello, world","stage":"dev"}`},
		{"aws_proxy 2.0", "GET", "/dev/aws/hello/zoe?name=x", nil, 200, `{"message":"hello, zoe","stage":"dev"}`},
		{"method not routed", "DELETE", "/dev/hello/alice", nil, 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := send(t, newRequest(t, tt.method, e.base+tt.url, nil, tt.hdr...))
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.body == "" {
				return
			}
			if r.body != tt.body {
				t.Errorf("body %s, want %s", r.body, tt.body)
			}
			if r.header.Get("Content-Type") != "application/json" || r.header.Get("Content-Length") != strconv.Itoa(len(tt.body)) || r.header.Get("X-Request-Id") == "" {
				t.Errorf("headers %v", r.header)
			}
		})
	}
}

// TestFunctionIntegrationLargeBody sends large bodies to function
// plugins. The whole body is buffered and handed to the plugin in the
// event; the gateway's 10 MiB cap answers 413 before any plugin runs.
func TestFunctionIntegrationLargeBody(t *testing.T) {
	e := startGateway(t, functionDoc(), nil)
	mb := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	for _, path := range []string{"/dev/hello/big", "/dev/hello1/big"} {
		r := do(t, nil, "POST", e.base+path, strings.NewReader(mb), "Content-Type", "text/plain")
		if r.status != 200 || r.body != `{"message":"hello, big","stage":"dev"}` {
			t.Errorf("POST %s with 1 MiB: %d %s", path, r.status, r.body)
		}
	}

	// testfn echoes a 16 KiB body inside the event JSON.
	small := mb[:16<<10]
	r := do(t, nil, "POST", e.base+"/dev/v2/items/1", strings.NewReader(small), "Content-Type", "text/plain")
	if r.status != 200 {
		t.Fatalf("16 KiB through testfn: %d %.200s", r.status, r.body)
	}
	var ev struct{ Body string }
	if err := json.Unmarshal([]byte(r.body), &ev); err != nil || ev.Body != small {
		t.Errorf("16 KiB through testfn: the event body differs (%d bytes, %v)", len(ev.Body), err)
	}

	// 1 MiB through testfn: the event JSON is encoded, then echoed back
	// inside the response JSON; the function runs under the integration's
	// timeout, not the pipeline's 100ms per-call deadline.
	r = do(t, nil, "POST", e.base+"/dev/v1/items/1", strings.NewReader(mb), "Content-Type", "text/plain")
	ev.Body = ""
	if err := json.Unmarshal([]byte(r.body), &ev); r.status != 200 || err != nil || ev.Body != mb {
		t.Errorf("1 MiB through testfn: %d, the event body differs (%d bytes, %v)", r.status, len(ev.Body), err)
	}
	if r := do(t, nil, "GET", e.base+"/dev/v1/items/after", nil); r.status != 200 || !strings.Contains(r.body, `"pathParameters":{"id":"after"}`) {
		t.Errorf("the function does not serve after a large body: %d %.300s", r.status, r.body)
	}

	// Over the gateway's cap: 413, with a declared length and chunked.
	over := strings.Repeat("x", 10<<20+1)
	if r := do(t, nil, "POST", e.base+"/dev/hello/big", strings.NewReader(over)); r.status != 413 || !strings.Contains(r.body, "Request Too Long") {
		t.Errorf("11 MiB with Content-Length: %d %s", r.status, r.body)
	}
	chunked := io.MultiReader(strings.NewReader(over)) // no length: sent chunked
	if r := do(t, nil, "POST", e.base+"/dev/hello/big", chunked); r.status != 413 || !strings.Contains(r.body, "Request Too Long") {
		t.Errorf("11 MiB chunked: %d %s", r.status, r.body)
	}
	// A chunked body under the cap is buffered for the function.
	if r := do(t, nil, "POST", e.base+"/dev/v2/items/c", io.MultiReader(strings.NewReader(`{"chunked":true}`))); r.status != 200 ||
		!strings.Contains(r.body, `"body":"{\"chunked\":true}"`) {
		t.Errorf("chunked body: %d %.400s", r.status, r.body)
	}
}

// TestFunctionIntegrationFailures: a function plugin that panics before
// answering, one that never answers, and function configurations the
// plugin rejects at build time.
func TestFunctionIntegrationFailures(t *testing.T) {
	e := startGateway(t, functionDoc(), nil)
	host := "fn.example.test" // no stage prefix: the panics plugin matches on :path

	// The SDK turns the panic into a local 500.
	r := send(t, newRequest(t, "GET", e.base+"/panic", nil, "Host", host))
	if r.status != 500 || r.body != `{"message":"plugin panic"}` || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("panicking function: %d %q %v", r.status, r.body, r.header)
	}
	// A function plugin that lets the request through: nothing answers.
	r = send(t, newRequest(t, "GET", e.base+"/quiet", nil, "Host", host))
	var ge struct{ Message, RequestID string }
	if r.status != 502 || json.Unmarshal([]byte(r.body), &ge) != nil || ge.Message != "Bad Gateway: the integration did not answer" || ge.RequestID != r.header.Get("X-Request-Id") {
		t.Errorf("silent function: %d %q", r.status, r.body)
	}
	if r.header.Get("X-Wasmgate-Error") != "Bad Gateway" || r.header.Get("X-Ok") != "" {
		t.Errorf("silent function: a gateway response, not the plugin's: %v", r.header)
	}

	// Bad function configurations are rejected when the deployment is
	// built; what was serving still serves.
	tests := []struct{ name, from, to, want string }{
		{"payload version in the config", "function: {plugin: hello-function}", `function: {plugin: hello-function, config: {payload_version: "3.0"}}`, `GET /hello: plugin hello-function (/paths/~1hello/get/x-wasmgate-integration/function): plugin[hello-function@sha256:`},
		{"payload version in the config, the reason", "function: {plugin: hello-function}", `function: {plugin: hello-function, config: {payload_version: "3.0"}}`, `lambda: configuration: "payload_version" must be "1.0" or "2.0", not "3.0"`},
		{"unknown config field", "function: {plugin: hello-function}", `function: {plugin: hello-function, config: {greeting: hi}}`, "unknown field(s) greeting"},
		{"bad binary media type", "function: {plugin: hello-function}", `function: {plugin: hello-function, config: {binary_media_types: ["png"]}}`, `"binary_media_types": "png" is not a media type`},
		{"unknown function", "function:hello-function/invocations", "function:no-such-function/invocations", `GET /aws/hello/{name}: plugin no-such-function: plugin "no-such-function" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(functionDoc(), tt.from, tt.to, 1)
			if doc == functionDoc() {
				t.Fatalf("%q is not in the document", tt.from)
			}
			api, err := config.Parse("test.yaml", []byte(doc))
			if err == nil {
				_, err = e.gw.Build(context.Background(), api, "d-2")
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want an error mentioning %q, got %v", tt.want, err)
			}
			if r := do(t, nil, "GET", e.base+"/dev/hello/x", nil); r.status != 200 {
				t.Fatalf("serving broke: %d", r.status)
			}
		})
	}
	// payload_version is validated by host/config.
	_, err := config.Parse("test.yaml", []byte(strings.Replace(functionDoc(), `payload_version: "2.0", config: {stage_variables`, `payload_version: "3.0", config: {stage_variables`, 1)))
	var perr config.Errors
	if !errors.As(err, &perr) || !strings.Contains(err.Error(), `payload_version: must be "1.0" or "2.0", not "3.0"`) {
		t.Errorf("payload_version 3.0: %v", err)
	}
}
