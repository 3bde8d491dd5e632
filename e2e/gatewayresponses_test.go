package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// gatewayResponsesDoc customizes the responses the gateway generates
// (x-amazon-apigateway-gateway-responses); its mock integration's 404 is
// the plugin's own and stays as sent.
const gatewayResponsesDoc = `openapi: 3.0.3
info: {title: e2e gateway responses, version: "1"}
x-wasmgate-stages:
  - name: prod
components:
  securitySchemes:
    tokenAuth:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer: {type: token, authorizerResultTtlInSeconds: 60}
      x-wasmgate-plugin:
        plugin: token-authorizer
        config: {tokens: {"Bearer alice-token": {principal: alice}}}
paths:
  /pets:
    get:
      security: [{tokenAuth: []}]
      x-wasmgate-integration: {type: mock, mock: {status: 200, body: pets}}
      responses: {"200": {description: ok}}
  /teapot:
    get:
      x-wasmgate-integration: {type: mock, mock: {status: 404, body: "the plugin's own 404"}}
      responses: {"404": {description: not customized}}
  /down:
    get:
      x-wasmgate-integration: {type: http_proxy, uri: "http://127.0.0.1:1/"}
      responses: {"503": {description: customized INTEGRATION_FAILURE}}
x-amazon-apigateway-gateway-responses:
  DEFAULT_4XX:
    responseParameters:
      gatewayresponse.header.Access-Control-Allow-Origin: "'*'"
      gatewayresponse.header.X-Echo: method.request.header.X-Echo
  RESOURCE_NOT_FOUND:
    statusCode: "404"
    responseParameters:
      gatewayresponse.header.Access-Control-Allow-Origin: "'https://app.example.com'"
    responseTemplates:
      application/json: '{"error":"$context.error.responseType","message":$context.error.messageString,"path":"$context.path","stage":"$context.stage","id":"$context.requestId"}'
  UNAUTHORIZED:
    statusCode: 401
    responseParameters:
      gatewayresponse.header.WWW-Authenticate: "'Bearer realm=\"pets\"'"
    responseTemplates:
      application/json: '{"message":$context.error.messageString,"hint":"send a bearer token"}'
  ACCESS_DENIED:
    responseTemplates:
      application/json: '{"denied":"$context.authorizer.principalId","method":"$context.httpMethod","resource":"$context.resourcePath"}'
  INTEGRATION_FAILURE:
    statusCode: 503
    responseTemplates:
      text/plain: "backend down, request $context.requestId"
`

func TestGatewayResponsesTemplated(t *testing.T) {
	e := startGateway(t, gatewayResponsesDoc, nil)
	tests := []struct {
		name, method, path string
		hdr                []string
		status             int
		contentType        string
		body               string // "" skips; "{id}" is replaced by the request id
		headers            map[string]string
	}{
		{name: "RESOURCE_NOT_FOUND template", method: "GET", path: "/prod/nothing", status: 404, contentType: "application/json",
			body:    `{"error":"RESOURCE_NOT_FOUND","message":"Not Found","path":"/prod/nothing","stage":"prod","id":"{id}"}`,
			headers: map[string]string{"Access-Control-Allow-Origin": "https://app.example.com"}},
		{name: "DEFAULT_4XX for 405: CORS header and the built-in body", method: "POST", path: "/prod/pets", hdr: []string{"X-Echo", "hi"}, status: 405, contentType: "application/json",
			body:    `{"message":"Method Not Allowed","requestId":"{id}"}` + "\n",
			headers: map[string]string{"Access-Control-Allow-Origin": "*", "X-Echo": "hi", "Allow": "GET"}},
		{name: "UNAUTHORIZED from the authorizer", method: "GET", path: "/prod/pets", status: 401, contentType: "application/json",
			body:    `{"message":"Unauthorized","hint":"send a bearer token"}`,
			headers: map[string]string{"WWW-Authenticate": `Bearer realm="pets"`, "Access-Control-Allow-Origin": ""}},
		{name: "ACCESS_DENIED with the principal", method: "GET", path: "/prod/pets", hdr: []string{"Authorization", "Bearer nope"}, status: 403, contentType: "application/json",
			body: `{"denied":"anonymous","method":"GET","resource":"/pets"}`},
		{name: "allowed: not a gateway response", method: "GET", path: "/prod/pets", hdr: []string{"Authorization", "Bearer alice-token"}, status: 200, body: "pets",
			headers: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "a plugin's own 404 stays as sent", method: "GET", path: "/prod/teapot", status: 404, body: "the plugin's own 404",
			headers: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "INTEGRATION_FAILURE with its status", method: "GET", path: "/prod/down", status: 503, contentType: "text/plain",
			body: "backend down, request {id}"},
		{name: "no stage: no API, the built-in response", method: "GET", path: "/nostage/x", status: 404, contentType: "application/json",
			headers: map[string]string{"Access-Control-Allow-Origin": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, nil, tt.method, e.base+tt.path, nil, tt.hdr...)
			id := r.header.Get("X-Request-Id")
			if r.status != tt.status || id == "" {
				t.Fatalf("%d %s (X-Request-Id %q)", r.status, r.body, id)
			}
			if tt.contentType != "" && r.header.Get("Content-Type") != tt.contentType {
				t.Errorf("Content-Type %q, want %q", r.header.Get("Content-Type"), tt.contentType)
			}
			if want := strings.ReplaceAll(tt.body, "{id}", id); tt.body != "" && r.body != want {
				t.Errorf("body %q\n want %q", r.body, want)
			}
			if strings.HasPrefix(tt.contentType, "application/json") && !json.Valid([]byte(r.body)) {
				t.Errorf("not JSON: %q", r.body)
			}
			for k, v := range tt.headers {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}
