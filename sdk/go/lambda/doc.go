// Package lambda writes wasmgate "function" integrations the way AWS Lambda
// proxy integrations are written: the plugin receives the whole request as
// an API Gateway Lambda proxy event (payload format 1.0 or 2.0) and returns
// a proxy response, which becomes the HTTP response.
//
//	package main
//
//	import "github.com/wasmgate/wasmgate/sdk/go/lambda"
//
//	func main() {}
//
//	func init() {
//		lambda.Start(func(ctx lambda.Context, ev *lambda.Event) (*lambda.Response, error) {
//			return lambda.JSON(200, map[string]string{"path": ev.Path})
//		})
//	}
//
// Start registers a typed handler; StartJSON registers a handler of raw
// JSON (the event exactly as API Gateway would send it, and the proxy
// response JSON), so code written for Lambda, or a port of it, can run
// unchanged. Call one of them from an init function of package main and
// nothing else: the package registers the plugin's root context.
//
// The plugin is built like every wasmgate plugin:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o fn.wasm .
//
// # Configuration
//
// The plugin configuration (set by the gateway from the integration) is a
// JSON object with these fields, all optional:
//
//   - payload_version: "1.0" (default) or "2.0", the event format.
//   - binary_media_types: media types ("type/subtype", "type/*" or "*/*")
//     whose request bodies are passed base64-encoded (isBase64Encoded
//     true). Bodies that are not valid UTF-8 are always base64-encoded.
//   - stage_variables: names of the stage variables to put in the event
//     (an allowlist, to keep secrets out of it); without it the event has
//     every stage variable, as in API Gateway (read from the
//     wasmgate.stage_variables map property).
//
// For example:
//
//	{"payload_version": "2.0", "binary_media_types": ["image/*"], "stage_variables": ["greeting"]}
//
// Other fields are errors, unless the plugin registered Configure, which
// receives them.
//
// # Responses
//
// The handler's Response (or the JSON StartJSON's handler returns) is
// turned into the HTTP response as API Gateway does: statusCode, headers
// and multiValueHeaders merged (multiValueHeaders win for a name in both),
// cookies (2.0) as Set-Cookie headers, body decoded from base64 when
// isBase64Encoded. With payload 2.0 a JSON answer without statusCode is a
// 200 application/json response whose body is that JSON. A response with
// a body and no content-type gets content-type: application/json.
//
// # Errors
//
// A handler error, a panic in the handler or a malformed response becomes
// 502 {"message":"Internal server error"} (content-type application/json),
// as in API Gateway; the reason is logged at error level.
//
// # Custom authorizers
//
// A plugin that calls StartAuthorizer (or StartAuthorizerJSON) is a
// custom authorizer: the gateway runs it before an operation's pipeline
// on the API Gateway authorizer event (AuthorizerEvent, TOKEN or REQUEST)
// and reads its AuthorizerResponse, as API Gateway runs a Lambda
// authorizer. A security scheme of the API document names it:
//
//	x-amazon-apigateway-authtype: custom
//	x-amazon-apigateway-authorizer: {type: token, authorizerResultTtlInSeconds: 300}
//	x-wasmgate-plugin: {plugin: my-authorizer@1.0.0, config: {...}}
//
//	func init() {
//		lambda.StartAuthorizer(func(ctx lambda.Context, ev *lambda.AuthorizerEvent) (*lambda.AuthorizerResponse, error) {
//			if ev.AuthorizationToken != "Bearer let-me-in" {
//				return nil, lambda.ErrUnauthorized // 401
//			}
//			r := lambda.Allow("alice", "*")
//			r.Context = map[string]any{"tier": "gold"}
//			return r, nil
//		})
//	}
//
// Its configuration goes to Configure (without it, it must be empty). On
// the wire the gateway sends a POST whose body is the event JSON, and the
// plugin answers with a local response: 200 with the authorizer response
// JSON, 401 for ErrUnauthorized, 500 for any other error or a panic
// (logged). A plugin written with another Proxy-Wasm SDK can do the same.
package lambda
