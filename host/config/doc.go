// Package config turns an API document into what the gateway serves, and
// loads the gateway server's settings.
//
// Parse (or Load) reads a Swagger 2.0 or OpenAPI 3.x document, YAML or
// JSON, validates it with kin-openapi (Swagger is converted to OpenAPI 3
// with openapi2conv first) and resolves every operation into an Operation:
// its method and path template, its declared parameters, its plugin
// Pipeline and its terminal Integration. Export writes an API back, with
// the resolved pipelines and integrations on each operation. LoadSettings
// reads Settings from defaults, a file, WASMGATE_* environment variables
// and flags (koanf).
//
// The package depends on no other host package: the gateway, the deploy
// store and the CLI import it.
//
// # Extensions
//
// Pipelines, at the document root (the default of every operation), on a
// path item (the default of its operations) or on an operation; the most
// specific one wins, and an empty list means no plugins:
//
//	x-wasmgate-pipeline:
//	  - plugin: cors@1.2.0               # see PluginRef.Ref for the forms
//	    config: {allow_origins: ["*"]}   # an object, given to on_configure
//	    on_error: fail_open              # or fail_closed, the default
//
// Integrations, at the same three levels (x-amazon-apigateway-integration
// at the operation level only):
//
//	x-wasmgate-integration:
//	  type: http_proxy | http | mock | function | service
//	  uri: https://backend/pets/{id}  # http_proxy, http: {param}, {proxy}, ${stageVariables.name}
//	  method: POST                    # http_proxy, http: upstream method; ANY or absent = the request's
//	  timeout_ms: 5000                # 1 to 300000; default 29000
//	  transform: {request: {...}, responses: [...]}   # http: see TransformSpec
//	  mock: {status: 200, headers: {...}, body: "..."}
//	  function: {plugin: name@version, config: {...}, payload_version: "1.0" | "2.0"}
//	  service: {table: pets, action: get | put | delete | scan, key: "{id}"}
//
// Stages, at the root:
//
//	x-wasmgate-stages:
//	  - name: prod
//	    hosts: [api.example.com]
//	    variables: {backend: https://prod.internal}
//
// x-amazon-apigateway-integration (types http_proxy, http, mock and
// aws_proxy, in any case) is translated: http_proxy stays http_proxy (or
// becomes http when its requestParameters set headers or query
// parameters), http gets a Transform built from
// requestParameters, requestTemplates, responses and passthroughBehavior,
// mock answers with the status of its request template and the headers and
// body of the matching response, and aws_proxy becomes a function
// integration whose plugin is named after the Lambda function in the URI
// ARN (payload 1.0 unless payloadFormatVersion says 2.0). A path mapping
// (integration.request.path.A from method.request.path.B) renames {A} to
// {B} in the uri. Fields with no meaning here (cacheKeyParameters,
// cacheNamespace, connectionId, connectionType, contentHandling,
// credentials, tlsConfig) are accepted and ignored.
// x-amazon-apigateway-any-method declares an operation whose Method is
// "ANY".
//
// Custom authorizers, as API Gateway declares Lambda authorizers, with
// the Wasm plugin that runs in the Lambda's place: a security scheme of
// type apiKey with x-amazon-apigateway-authtype: custom,
// x-amazon-apigateway-authorizer (type token or request, identitySource,
// authorizerResultTtlInSeconds, identityValidationExpression) and
// x-wasmgate-plugin: {plugin, config}; an operation whose security
// requirement (its own, else the document's) names it gets
// Operation.Authorizer (see Authorizer). An authorizerUri alone is an
// error that says to add x-wasmgate-plugin.
//
// Gateway responses, at the root: x-amazon-apigateway-gateway-responses,
// keyed by response type, with statusCode, responseParameters
// (gatewayresponse.header.NAME) and responseTemplates using
// $context variables (see GatewayResponse and ParseGatewayTemplate).
//
// # Validation
//
// Parse reports, each at its JSON pointer:
//   - YAML and JSON syntax errors, duplicate keys, runaway aliases;
//   - what kin-openapi finds wrong with the document;
//   - unknown fields in x-wasmgate-* objects and x-amazon-apigateway-integration,
//     and unknown x-wasmgate-* extensions on the root, path items and operations;
//   - values of the wrong type, unknown integration types, a missing or
//     non-http(s) uri, members that the integration type does not use, out
//     of range timeouts and status codes, bad methods, patterns and
//     transform sources;
//   - bad plugin references and on_error values;
//   - malformed ${stageVariables.name} references and {param} placeholders;
//   - path templates that the router cannot serve: no leading slash, an
//     empty segment, a parameter that is not a whole segment, a greedy
//     {name+} that is not the last segment, different parameter names at
//     the same position in two templates;
//   - duplicate operations (the same method on templates that differ only
//     in a trailing slash);
//   - template parameters that are not declared as in: path parameters, and
//     declared path parameters missing from the template (errors, not
//     warnings: kin-openapi rejects them as well);
//   - {param}s of a uri or service key that are not parameters of the
//     operation's path;
//   - operations with no integration at any level.
//
// # Errors
//
// Parse returns Errors: every problem found, sorted by position, each an
// *Error with the file, line, column, JSON pointer and reason, printed one
// per line as "petstore.yaml:42:7: /paths/~1pets/get/x-wasmgate-pipeline/0/on_error:
// must be fail_closed or fail_open, not "ignore"". Line and column point
// at the key of the member named by the pointer (or the array element),
// found by walking the pointer through the document's YAML node tree, or
// at its nearest existing ancestor. Errors of kin-openapi are located
// through its typed error chain (section, path, operation, component,
// parameter); an error it does not locate points at the document root.
//
// # Notes
//
//   - Operation paths do not include API.BasePath; the router joins them.
//   - External $refs are never followed: a deployment is one
//     self-contained document, and its Digest covers all of it.
//   - Unquoted version numbers (version: 1.0, openapi: 3.0) are read as the
//     text written.
//   - PluginRef.Config is canonical JSON (sorted keys): equal configs are
//     equal bytes, usable as a cache key.
//   - Stage variables that a uri references but no stage defines are not
//     reported; they render empty.
package config
