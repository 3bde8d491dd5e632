package main

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/wasmgate/wasmgate/abi"
	hostconfig "github.com/wasmgate/wasmgate/host/config"
	"github.com/wasmgate/wasmgate/sdk/go/sdktest"
)

var (
	buildOnce sync.Once
	wasmBin   []byte
)

func pluginWasm(t testing.TB) []byte {
	t.Helper()
	buildOnce.Do(func() { wasmBin = sdktest.Build(t, ".") })
	return wasmBin
}

// The operation schemas come from a real document through host/config,
// as the gateway builds them.
const testDoc = `openapi: 3.0.3
info: {title: orders, version: "1"}
x-wasmgate-integration: {type: mock}
x-amazon-apigateway-request-validators:
  params-only: {validateRequestBody: false, validateRequestParameters: true}
paths:
  /orders/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: string, format: uuid}}
    put:
      parameters:
        - {name: limit, in: query, schema: {type: integer, format: int32, minimum: 1, maximum: 100}}
        - {name: dry_run, in: query, schema: {type: boolean}}
        - {name: tags, in: query, style: form, explode: false, schema: {type: array, maxItems: 3, items: {type: string, enum: [a, b, c]}}}
        - {name: ids, in: query, schema: {type: array, items: {type: integer, format: int64}}}
        - {name: X-Request-Id, in: header, required: true, schema: {type: string, pattern: '^[a-f0-9]{8}$'}}
        - {name: session, in: cookie, schema: {type: string, minLength: 4}}
        - {name: since, in: query, schema: {type: string, format: date-time}}
        - {name: email, in: query, schema: {type: string, format: email}}
      requestBody:
        required: true
        content:
          application/json: {schema: {$ref: '#/components/schemas/Order'}}
          text/plain: {schema: {type: string}}
      responses: {"200": {description: ok}}
  /notes:
    post:
      x-amazon-apigateway-request-validator: params-only
      parameters:
        - {name: q, in: query, required: true, schema: {type: string}}
      requestBody:
        content:
          application/json: {schema: {type: object, required: [text]}}
      responses: {"200": {description: ok}}
  /nested:
    post:
      requestBody:
        required: true
        content:
          application/json: {schema: {}}
      responses: {"200": {description: ok}}
components:
  schemas:
    Order:
      type: object
      required: [items]
      additionalProperties: false
      properties:
        note: {type: string, nullable: true, maxLength: 20}
        total: {type: number, minimum: 0, exclusiveMinimum: true}
        items:
          type: array
          maxItems: 1000
          items: {$ref: '#/components/schemas/Item'}
    Item:
      type: object
      required: [name, qty]
      properties:
        name: {type: string, minLength: 1}
        qty: {type: integer, minimum: 1}
`

func schemaOf(t testing.TB, method, path string) string {
	t.Helper()
	api, err := hostconfig.Parse("orders.yaml", []byte(testDoc))
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range api.Operations {
		if op.Method == method && op.Path == path {
			return string(op.Schema)
		}
	}
	t.Fatalf("no operation %s %s", method, path)
	return ""
}

const orderID = "9b2c43a1-7c0f-4f51-9d1e-2f7a8c0b1d11"

func harness(t testing.TB, cfg, method, route string, extra map[string]string) *sdktest.Harness {
	t.Helper()
	props := map[string]string{
		"wasmgate.deployment":       "d-1",
		"wasmgate.route.template":   route,
		"wasmgate.operation.schema": schemaOf(t, method, route),
		"wasmgate.route.params.id":  orderID,
	}
	for k, v := range extra {
		props[k] = v
	}
	return sdktest.New(t, pluginWasm(t), sdktest.Options{Config: cfg, Properties: props, LogLevel: 3})
}

func put(query, body string, hdr ...string) *sdktest.Request {
	r := &sdktest.Request{Method: "PUT", Path: "/orders/" + orderID + query, Body: []byte(body),
		Headers: [][2]string{{"x-request-id", "0a1b2c3d"}, {"content-type", "application/json"}}}
	for i := 0; i+1 < len(hdr); i += 2 {
		replaced := false
		for j := range r.Headers {
			if r.Headers[j][0] == hdr[i] {
				r.Headers[j][1], replaced = hdr[i+1], true
			}
		}
		if !replaced {
			r.Headers = append(r.Headers, [2]string{hdr[i], hdr[i+1]})
		}
	}
	return r
}

const goodBody = `{"note":null,"total":3.5,"items":[{"name":"tea","qty":2}]}`

func TestValidation(t *testing.T) {
	h := harness(t, `{}`, "PUT", "/orders/{id}", nil)
	cases := []struct {
		name   string
		req    *sdktest.Request
		status int
		want   string // a substring of the answer, "" for a request let through
	}{
		{"valid", put("?limit=10&dry_run=true&tags=a,b&ids=1&ids=2&since=2026-01-02T03:04:05Z&email=a@b.example", goodBody, "cookie", "session=abcd; x=1"), 200, ""},
		{"valid, no query", put("", goodBody), 200, ""},
		{"text/plain is declared, no JSON schema", put("", "hello", "content-type", "text/plain; charset=utf-8"), 200, ""},
		{"JSON with charset", put("", goodBody, "content-type", "application/json; charset=utf-8"), 200, ""},
		{"no content type is JSON", put("", `{}`, "content-type", ""), 400, `"path":"/items","message":"is required"`},

		{"missing header", &sdktest.Request{Method: "PUT", Path: "/orders/" + orderID, Body: []byte(goodBody)}, 400, `"message":"Missing required request parameters: [x-request-id]"`},
		{"integer", put("?limit=ten", goodBody), 400, `{"in":"query","name":"limit","path":"","message":"\"ten\" is not an integer"}`},
		{"maximum", put("?limit=101", goodBody), 400, `"name":"limit","path":"","message":"must be <= 100`},
		{"int32 range", put("?ids=1&ids=9223372036854775808", goodBody), 400, `out of the 64-bit integer range`},
		{"boolean", put("?dry_run=yes", goodBody), 400, `"name":"dry_run","path":"","message":"\"yes\" is not a boolean (true or false)"`},
		{"enum item", put("?tags=a,z", goodBody), 400, `"name":"tags","path":"/1","message":"value must be one of`},
		{"maxItems", put("?tags=a,b,c,a", goodBody), 400, `"name":"tags","path":"","message":"must have at most 3 items, not 4"`},
		{"pattern", put("", goodBody, "x-request-id", "XYZ"), 400, `"in":"header","name":"x-request-id","path":"","message":"'XYZ' does not match pattern`},
		{"cookie", put("", goodBody, "cookie", "session=ab"), 400, `"in":"cookie","name":"session"`},
		{"date-time", put("?since=yesterday", goodBody), 400, `"name":"since","path":"","message":"'yesterday' is not valid date-time`},
		{"email", put("?email=nobody", goodBody), 400, `"name":"email","path":"","message":"'nobody' is not valid email`},

		{"no body", put("", ""), 400, `{"message":"Invalid request body","errors":[{"path":"","message":"a request body is required"}]}`},
		{"wrong content type", put("", goodBody, "content-type", "application/xml"), 415, `{"message":"Unsupported Media Type"}`},
		{"malformed", put("", "{\n  \"items\": [1,}\n"), 400, `malformed JSON at line 2, column 15: invalid character '}' looking for beginning of value`},
		{"truncated", put("", `{"items": [`), 400, `malformed JSON at line 1, column 12: unexpected end of JSON input`},
		{"trailing data", put("", `{"items":[]} {}`), 400, `unexpected data after the JSON value`},
		{"required nested", put("", `{"items":[{"name":"tea","qty":1},{"qty":2}]}`), 400, `{"message":"Invalid request body","errors":[{"path":"/items/1/name","message":"is required"}]}`},
		{"type nested", put("", `{"items":[{"name":"tea","qty":"2"}]}`), 400, `{"path":"/items/0/qty","message":"must be integer, not string"}`},
		{"additional property", put("", `{"items":[],"extra":1}`), 400, `{"path":"/extra","message":"is not allowed (additional property)"}`},
		{"exclusive minimum", put("", `{"items":[],"total":0}`), 400, `{"path":"/total","message":"must be > 0"}`},
		{"maxLength", put("", `{"items":[],"note":"`+strings.Repeat("n", 21)+`"}`), 400, `{"path":"/note","message":"must be at most 20 characters long"}`},
		{"nullable", put("", `{"items":[],"note":null}`), 200, ""},
		{"not nullable", put("", `{"items":[null]}`), 400, `{"path":"/items/0","message":"must be object, not null"}`},
		{"errors capped", put("", `{"items":[{},{},{},{}]}`), 400, ``},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.Do(c.req)
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if r.Status != c.status || !strings.Contains(string(r.Body), c.want) {
				t.Fatalf("%d %s\nwant %d with %s", r.Status, r.Body, c.status, c.want)
			}
			if c.status != 200 {
				if !r.Local || r.Upstream != nil || r.Header("content-type") != "application/json" {
					t.Fatalf("a refusal must be answered by the plugin as JSON: local=%v upstream=%v %v", r.Local, r.Upstream, r.Headers)
				}
				var a answer
				if err := json.Unmarshal(r.Body, &a); err != nil || a.Message == "" {
					t.Fatalf("answer %q: %v", r.Body, err)
				}
				if len(a.Errors) > 5 {
					t.Fatalf("%d errors, want at most 5 (max_errors)", len(a.Errors))
				}
			}
		})
	}
	if n, _ := h.Metric("request_validator_rejected_total"); n == 0 {
		t.Error("rejections are not counted")
	}
}

func TestHostileBodies(t *testing.T) {
	h := harness(t, `{"max_body_bytes": 65536, "max_depth": 16, "max_values": 5000}`, "POST", "/nested", nil)
	post := func(body string) *sdktest.Result {
		return h.Do(&sdktest.Request{Method: "POST", Path: "/nested", Body: []byte(body), Headers: [][2]string{{"content-type", "application/json"}}})
	}
	for _, c := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"depth at the limit", strings.Repeat("[", 16) + strings.Repeat("]", 16), 200, ""},
		{"too deep", strings.Repeat("[", 17) + strings.Repeat("]", 17), 400, "JSON nested deeper than 16 levels at line 1, column 17"},
		{"deep bomb", strings.Repeat(`{"a":`, 12000), 400, "nested deeper than 16"},
		{"brackets in strings do not count", `["` + strings.Repeat("[", 100) + `\"]"]`, 200, ""},
		{"array within max_values", "[" + strings.Repeat("1,", 4990) + "1]", 200, ""},
		{"huge array over max_values", "[" + strings.Repeat("1,", 30000) + "1]", 400, "JSON has more than 5000 values"},
		{"many members over max_values", "{" + strings.Repeat(`"a":{},`, 3000) + `"b":1}`, 400, "JSON has more than 5000 values"},
		{"commas in strings do not count", `["` + strings.Repeat(",", 20000) + `"]`, 200, ""},
		{"oversized", `"` + strings.Repeat("x", 70000) + `"`, 413, `{"message":"Request Too Long"}`},
		{"not UTF-8 JSON", "\xff\xfe", 400, "malformed JSON"},
		{"only whitespace", "  \n", 400, "a request body is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := post(c.body)
			if r.Err != nil || r.Status != c.status || !strings.Contains(string(r.Body), c.want) {
				t.Fatalf("%v %d %.300s\nwant %d with %q", r.Err, r.Status, r.Body, c.status, c.want)
			}
		})
	}
	// A Content-Length over the limit is refused before the body is read.
	r := h.Do(&sdktest.Request{Method: "POST", Path: "/nested", Body: []byte("{}"), Headers: [][2]string{{"content-length", "1000000"}}})
	if r.Status != 413 {
		t.Fatalf("content-length over the limit: %d %s", r.Status, r.Body)
	}
}

func TestScope(t *testing.T) {
	bad := func(body string) *sdktest.Request {
		return &sdktest.Request{Method: "POST", Path: "/notes?q=x", Body: []byte(body), Headers: [][2]string{{"content-type", "application/json"}}}
	}
	for _, c := range []struct {
		name, cfg  string
		route      string
		req        *sdktest.Request
		wantStatus int
	}{
		// /notes names the params-only validator: its body is not checked...
		{"document validator: body not checked", `{}`, "/notes", bad(`{}`), 200},
		{"document validator: params checked", `{}`, "/notes", &sdktest.Request{Method: "POST", Path: "/notes"}, 400},
		// ...unless the document's validators are ignored.
		{"document validators off", `{"document_validators": false}`, "/notes", bad(`{}`), 400},
		{"validate params only", `{"validate": "params", "document_validators": false}`, "/orders/{id}", put("?limit=1", `{"bad":1}`), 200},
		{"validate params only, bad param", `{"validate": "params", "document_validators": false}`, "/orders/{id}", put("?limit=0", `{}`), 400},
		{"validate body only", `{"validate": "body"}`, "/orders/{id}", put("?limit=0", goodBody), 200},
		{"validate body only, bad body", `{"validate": "body"}`, "/orders/{id}", put("?limit=0", `{}`), 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			method := "POST"
			if c.route == "/orders/{id}" {
				method = "PUT"
			}
			h := harness(t, c.cfg, method, c.route, nil)
			if r := h.Do(c.req); r.Err != nil || r.Status != c.wantStatus {
				t.Fatalf("%v %d %s, want %d", r.Err, r.Status, r.Body, c.wantStatus)
			}
		})
	}
}

// With validate "params" (and the document's validators ignored) the
// plugin does not declare the body hooks: bodies stream past it.
func TestBodyHooksOnlyWhenNeeded(t *testing.T) {
	for _, c := range []struct {
		cfg  string
		body bool
	}{
		{`{}`, true},
		{`{"validate": "params"}`, true}, // a document validator may ask for the body
		{`{"validate": "params", "document_validators": false}`, false},
	} {
		h := sdktest.New(t, pluginWasm(t), sdktest.Options{Config: c.cfg})
		if got := h.Plugin().Handles(abi.ExportOnRequestBody); got != c.body {
			t.Errorf("%s: handles the request body = %v, want %v", c.cfg, got, c.body)
		}
	}
}

func TestMissingSchema(t *testing.T) {
	for _, c := range []struct {
		cfg    string
		schema string
		status int
	}{
		{`{}`, "", 500},
		{`{"on_missing_schema": "fail_open"}`, "", 200},
		{`{}`, `{"parameters": [{"name": "x", "in": "query", "schema": {"pattern": "(?<=a)b"}}]}`, 500}, // does not compile
		{`{"on_missing_schema": "fail_open"}`, `not json`, 200},
	} {
		props := map[string]string{"wasmgate.deployment": "d-1", "wasmgate.route.template": "/x"}
		if c.schema != "" {
			props["wasmgate.operation.schema"] = c.schema
		}
		h := sdktest.New(t, pluginWasm(t), sdktest.Options{Config: c.cfg, Properties: props})
		for i := 0; i < 3; i++ {
			if r := h.Do(&sdktest.Request{Path: "/x?x=1"}); r.Err != nil || r.Status != c.status {
				t.Fatalf("%s %q: %v %d %s, want %d", c.cfg, c.schema, r.Err, r.Status, r.Body, c.status)
			}
		}
		logged := 0
		for _, l := range h.Logs() {
			if strings.Contains(l, "request-validator: d-1 GET /x:") {
				logged++
			}
		}
		if logged != 1 {
			t.Errorf("%s %q: logged %d times, want once per operation:\n%s", c.cfg, c.schema, logged, strings.Join(h.Logs(), "\n"))
		}
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []string{``, `{}`, `{"validate": "all"}`, `{"validate": "body", "max_body_bytes": 10485760}`,
		`{"validate": "params", "document_validators": false, "max_depth": 1, "max_errors": 100, "on_missing_schema": "fail_open"}`} {
		if _, err := parseConfig([]byte(c)); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
	for _, c := range []struct{ config, want string }{
		{`{"validate": "headers"}`, `want "all" (default), "body" or "params"`},
		{`{"max_body_bytes": 0}`, `"max_body_bytes" 0 must be between 1 and 10485760`},
		{`{"max_depth": 1000}`, `"max_depth" 1000 must be between 1 and 512`},
		{`{"max_errors": 0}`, `"max_errors" 0 must be between 1 and 100`},
		{`{"max_values": 0}`, `"max_values" 0 must be between 1 and 1000000`},
		{`{"on_missing_schema": "ignore"}`, `want "fail_closed"`},
		{`{"validate": "all", "strict": true}`, `unknown field "strict"`},
		{`[]`, `not valid JSON for request-validator`},
	} {
		_, err := parseConfig([]byte(c.config))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.config, err, c.want)
		}
	}
	if _, err := sdktest.NewE(t, pluginWasm(t), sdktest.Options{Config: `{"validate": "nothing"}`}); err == nil || !strings.Contains(err.Error(), "validate") {
		t.Fatalf("the host accepted a bad configuration: %v", err)
	}
}
