package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// bodyEchoUpstream answers 200 with the request body it received.
type bodyEchoUpstream struct {
	*httptest.Server
	mu    sync.Mutex
	calls int
}

func newBodyEchoUpstream(t *testing.T) *bodyEchoUpstream {
	u := &bodyEchoUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.calls++
		u.mu.Unlock()
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"upstream":%q,"query":%q,"body":%q}`, r.URL.Path, r.URL.RawQuery, b)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *bodyEchoUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls
}

func validatorOAS3(upstream string) string {
	return fmt.Sprintf(`openapi: 3.0.3
info: {title: orders, version: "1"}
x-wasmgate-stages: [{name: prod}]
x-wasmgate-pipeline: [{plugin: request-validator, config: {max_body_bytes: 4096}}]
paths:
  /orders/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, format: int64, minimum: 1}}
    post:
      x-wasmgate-integration: {type: http_proxy, uri: "%s/orders/{id}"}
      parameters:
        - {name: priority, in: query, schema: {type: string, enum: [low, high]}}
        - {name: X-Client, in: header, required: true, schema: {type: string, minLength: 3}}
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Order'}
      responses: {"200": {description: ok}}
components:
  schemas:
    Order:
      type: object
      required: [items]
      properties:
        coupon: {type: string, nullable: true}
        items:
          type: array
          minItems: 1
          items: {$ref: '#/components/schemas/Item'}
    Item:
      type: object
      required: [name, qty]
      properties:
        name: {type: string}
        qty: {type: integer, minimum: 1, maximum: 99}
`, upstream)
}

func validatorSwagger2(upstream string) string {
	return fmt.Sprintf(`swagger: "2.0"
info: {title: pets, version: "1"}
basePath: /v1
x-amazon-apigateway-request-validators:
  all: {validateRequestBody: true, validateRequestParameters: true}
x-amazon-apigateway-request-validator: all
x-wasmgate-pipeline: [{plugin: request-validator}]
paths:
  /pets:
    post:
      consumes: [application/json]
      x-amazon-apigateway-integration: {type: http_proxy, httpMethod: POST, uri: "%s/pets"}
      parameters:
        - {name: limit, in: query, type: integer, maximum: 10}
        - {name: tags, in: query, type: array, items: {type: string}, collectionFormat: csv, maxItems: 2}
        - {name: pet, in: body, required: true, schema: {$ref: '#/definitions/Pet'}}
      responses: {"200": {description: ok}}
definitions:
  Pet:
    type: object
    required: [name]
    properties:
      name: {type: string, minLength: 1}
      age: {type: integer, minimum: 0}
`, upstream)
}

func TestRequestValidatorOAS3(t *testing.T) {
	up := newBodyEchoUpstream(t)
	e := startGateway(t, validatorOAS3(up.URL), nil)
	url := e.base + "/prod/orders/"
	post := func(path, body string, hdr ...string) resp {
		h := append([]string{"Content-Type", "application/json", "X-Client", "web"}, hdr...)
		return do(t, nil, "POST", url+path, strings.NewReader(body), h...)
	}
	const good = `{"coupon":null,"items":[{"name":"tea","qty":2}]}`
	for _, c := range []struct {
		name   string
		r      resp
		status int
		body   string
	}{
		{"valid", post("7?priority=high", good), 200, `"body":"{\"coupon\":null,\"items\":[{\"name\":\"tea\",\"qty\":2}]}"`},
		{"path parameter type", post("seven", good), 400,
			`{"message":"Invalid request parameters","errors":[{"in":"path","name":"id","path":"","message":"\"seven\" is not an integer"}]}`},
		{"path parameter minimum", post("0", good), 400, `"name":"id","path":"","message":"must be >= 1"`},
		{"query enum", post("7?priority=urgent", good), 400, `"in":"query","name":"priority","path":""`},
		{"missing header", do(t, nil, "POST", url+"7", strings.NewReader(good), "Content-Type", "application/json"), 400,
			`{"message":"Missing required request parameters: [x-client]"}`},
		{"header too short", post("7", good, "X-Client", "x"), 400, `"in":"header","name":"x-client","path":"","message":"must be at least 3 characters long"`},
		{"body missing item field", post("7", `{"items":[{"qty":2}]}`), 400,
			`{"message":"Invalid request body","errors":[{"path":"/items/0/name","message":"is required"}]}`},
		{"body $ref'd bound", post("7", `{"items":[{"name":"tea","qty":100}]}`), 400,
			`{"message":"Invalid request body","errors":[{"path":"/items/0/qty","message":"must be <= 99"}]}`},
		{"body malformed", post("7", `{"items":[}`), 400, `malformed JSON at line 1, column 11`},
		{"body empty", post("7", ``), 400, `a request body is required`},
		{"body content type", post("7", good, "Content-Type", "text/plain"), 415, `{"message":"Unsupported Media Type"}`},
		{"body too large", post("7", `{"items":[],"pad":"`+strings.Repeat("x", 5000)+`"}`), 413, `{"message":"Request Too Long"}`},
	} {
		if c.r.status != c.status || !strings.Contains(c.r.body, c.body) {
			t.Errorf("%s: %d %s\nwant %d with %s", c.name, c.r.status, c.r.body, c.status, c.body)
		}
		if c.status != 200 && c.r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: content type %q", c.name, c.r.header.Get("Content-Type"))
		}
	}
	if n := up.count(); n != 1 {
		t.Errorf("the upstream was called %d times, want once (only the valid request)", n)
	}
	if s := e.errs.String(); strings.Contains(s, "request-validator") {
		t.Errorf("the plugin logged errors:\n%s", s)
	}
}

func TestRequestValidatorSwagger2(t *testing.T) {
	up := newBodyEchoUpstream(t)
	e := startGateway(t, validatorSwagger2(up.URL), nil)
	url := e.base + "/v1/pets"
	post := func(query, body string) resp {
		return do(t, nil, "POST", url+query, strings.NewReader(body), "Content-Type", "application/json")
	}
	for _, c := range []struct {
		name   string
		r      resp
		status int
		body   string
	}{
		{"valid", post("?limit=3&tags=a,b", `{"name":"Kit","age":2}`), 200, `"upstream":"/pets"`},
		{"query maximum", post("?limit=11", `{"name":"Kit"}`), 400, `{"in":"query","name":"limit","path":"","message":"must be <= 10"}`},
		{"csv array", post("?tags=a,b,c", `{"name":"Kit"}`), 400, `"name":"tags","path":"","message":"must have at most 2 items, not 3"`},
		{"body from definitions", post("", `{"name":"","age":-1}`), 400,
			`{"message":"Invalid request body","errors":[{"path":"/age","message":"must be >= 0"},{"path":"/name","message":"must be at least 1 characters long"}]}`},
	} {
		if c.r.status != c.status || !strings.Contains(c.r.body, c.body) {
			t.Errorf("%s: %d %s\nwant %d with %s", c.name, c.r.status, c.r.body, c.status, c.body)
		}
	}
}
