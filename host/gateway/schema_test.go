package gateway

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/config"
)

// The matched operation's schema is answered as wasmgate.operation.schema:
// the bytes built with the document, not a per-request encoding.
func TestOperationSchemaProperty(t *testing.T) {
	api, err := config.Parse("schema.yaml", []byte(`openapi: 3.0.3
info: {title: schema, version: "1"}
x-wasmgate-integration: {type: http_proxy, uri: "http://127.0.0.1:1/"}
paths:
  /pets/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
    post:
      requestBody:
        required: true
        content:
          application/json: {schema: {$ref: '#/components/schemas/Pet'}}
      responses: {"200": {description: ok}}
    get:
      responses: {"200": {description: ok}}
components:
  schemas:
    Pet: {type: object, required: [name], properties: {name: {type: string, nullable: true}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	g := New(Options{})
	snap, err := g.Build(context.Background(), api, "d-1")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Retire()
	for _, c := range []struct{ method, want string }{
		{"POST", `{"parameters":[{"name":"id","in":"path","required":true,"style":"simple","explode":false,"schema":{"minimum":1,"type":"integer"}}],` +
			`"body":{"required":true,"content":{"application/json":{"schema":{"$ref":"#/$defs/Pet"}}}},` +
			`"$defs":{"Pet":{"properties":{"name":{"type":["string","null"]}},"required":["name"],"type":"object"}}}`},
		{"GET", `{"parameters":[{"name":"id","in":"path","required":true,"style":"simple","explode":false,"schema":{"minimum":1,"type":"integer"}}]}`},
	} {
		route, params, _ := snap.router.Match(c.method, "/pets/7", nil)
		if route == nil {
			t.Fatalf("%s /pets/7: no route", c.method)
		}
		rc := &reqCtx{r: httptest.NewRequest(c.method, "/pets/7", strings.NewReader("")), snap: snap, route: route, params: params}
		v, ok := rc.Property(abi.PropOperationSchema)
		if !ok || string(v) != c.want {
			t.Errorf("%s: %v %s\nwant %s", c.method, ok, v, c.want)
		}
		if v2, _ := rc.Property(abi.PropOperationSchema); len(v2) > 0 && &v2[0] != &v[0] {
			t.Errorf("%s: the schema is re-encoded per read", c.method)
		}
	}
	// An operation without a schema (not built by config.Parse) has no property.
	rc := &reqCtx{r: httptest.NewRequest("GET", "/", nil), route: &Route{Data: &operation{op: &config.Operation{}}}}
	if v, ok := rc.Property(abi.PropOperationSchema); ok {
		t.Errorf("no schema: got %q", v)
	}
}
