package config

import (
	"encoding/json"
	"testing"
)

const schemaDocOAS30 = `openapi: 3.0.3
info: {title: pets, version: "1"}
x-amazon-apigateway-request-validators:
  all: {validateRequestBody: true, validateRequestParameters: true}
  params-only: {validateRequestBody: false, validateRequestParameters: true}
x-amazon-apigateway-request-validator: all
x-wasmgate-integration: {type: mock}
paths:
  /pets/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: string, format: uuid}}
      - {name: trace, in: header, schema: {type: string}}
    put:
      x-amazon-apigateway-request-validator: params-only
      parameters:
        - $ref: '#/components/parameters/limit'
        - {name: trace, in: header, required: true, schema: {type: string, pattern: '^[a-f0-9]+$'}}
        - {name: tags, in: query, style: form, explode: false, schema: {type: array, items: {type: string}}}
        - {name: session, in: cookie, schema: {type: string}}
      requestBody:
        $ref: '#/components/requestBodies/Pet'
      responses: {"200": {description: ok}}
    get:
      responses: {"200": {description: ok}}
components:
  parameters:
    limit: {name: limit, in: query, schema: {type: integer, format: int32, minimum: 1, maximum: 100, exclusiveMaximum: true, description: page size}}
  requestBodies:
    Pet:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/Pet'}}
        text/plain: {schema: {type: string}}
  schemas:
    Pet:
      type: object
      required: [name]
      additionalProperties: false
      properties:
        name: {type: string, minLength: 1, example: Kit}
        tag: {type: string, nullable: true}
        description: {type: string}
        children: {type: array, items: {$ref: '#/components/schemas/Pet'}}
`

const schemaDocSwagger2 = `swagger: "2.0"
info: {title: pets, version: "1"}
basePath: /v1
x-wasmgate-integration: {type: mock}
paths:
  /pets/{proxy+}:
    post:
      consumes: [application/json]
      parameters:
        - {name: proxy, in: path, required: true, type: string}
        - {name: limit, in: query, type: integer, maximum: 10}
        - {name: ids, in: query, type: array, items: {type: integer}, collectionFormat: multi}
        - {name: pet, in: body, required: true, schema: {$ref: '#/definitions/Pet'}}
      responses: {"200": {description: ok}}
definitions:
  Pet:
    type: object
    required: [name]
    properties:
      name: {type: string}
      age: {type: integer, minimum: 0}
`

func TestOperationSchema(t *testing.T) {
	for _, c := range []struct {
		name, doc, method, path, want string
	}{
		{"oas 3.0", schemaDocOAS30, "PUT", "/pets/{id}", `{"parameters":[{"name":"limit","in":"query","required":false,"style":"form","explode":true,"schema":{"exclusiveMaximum":100,"format":"int32","minimum":1,"type":"integer"}},{"name":"trace","in":"header","required":true,"style":"simple","explode":false,"schema":{"pattern":"^[a-f0-9]+$","type":"string"}},{"name":"tags","in":"query","required":false,"style":"form","explode":false,"schema":{"items":{"type":"string"},"type":"array"}},{"name":"session","in":"cookie","required":false,"style":"form","explode":true,"schema":{"type":"string"}},{"name":"id","in":"path","required":true,"style":"simple","explode":false,"schema":{"format":"uuid","type":"string"}}],"body":{"required":true,"content":{"application/json":{"schema":{"$ref":"#/$defs/Pet"}},"text/plain":{}}},"validator":{"name":"params-only","body":false,"params":true},"$defs":{"Pet":{"additionalProperties":false,"properties":{"children":{"items":{"$ref":"#/$defs/Pet"},"type":"array"},"description":{"type":"string"},"name":{"minLength":1,"type":"string"},"tag":{"type":["string","null"]}},"required":["name"],"type":"object"}}}`},
		{"inherited only", schemaDocOAS30, "GET", "/pets/{id}", `{"parameters":[{"name":"id","in":"path","required":true,"style":"simple","explode":false,"schema":{"format":"uuid","type":"string"}},{"name":"trace","in":"header","required":false,"style":"simple","explode":false,"schema":{"type":"string"}}],"validator":{"name":"all","body":true,"params":true}}`},
		{"swagger 2.0", schemaDocSwagger2, "POST", "/pets/{proxy+}", `{"parameters":[{"name":"proxy","in":"path","required":true,"style":"simple","explode":false,"schema":{"type":"string"}},{"name":"limit","in":"query","required":false,"style":"form","explode":true,"schema":{"maximum":10,"type":"integer"}},{"name":"ids","in":"query","required":false,"style":"form","explode":true,"schema":{"items":{"type":"integer"},"type":"array"}}],"body":{"required":true,"content":{"application/json":{"schema":{"$ref":"#/$defs/Pet"}}}},"$defs":{"Pet":{"properties":{"age":{"minimum":0,"type":"integer"},"name":{"type":"string"}},"required":["name"],"type":"object"}}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			api, err := Parse("api.yaml", []byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range api.Operations {
				if op.Method == c.method && op.Path == c.path {
					if !json.Valid(op.Schema) {
						t.Fatalf("not JSON: %s", op.Schema)
					}
					if string(op.Schema) != c.want {
						t.Errorf("schema:\n%s\nwant\n%s", op.Schema, c.want)
					}
					return
				}
			}
			t.Fatalf("no operation %s %s", c.method, c.path)
		})
	}
}
