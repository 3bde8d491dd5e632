package lambda

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

// AuthorizerEvent is the event of a custom authorizer, as API Gateway
// sends it to a Lambda authorizer. A TOKEN event has Type,
// AuthorizationToken and MethodArn only; a REQUEST event has the rest.
// Header names are lower case.
type AuthorizerEvent struct {
	// Type is "TOKEN" or "REQUEST".
	Type string `json:"type"`
	// AuthorizationToken is the token (TOKEN events): the value of the
	// identity source header, e.g. "Bearer abc".
	AuthorizationToken string `json:"authorizationToken,omitempty"`
	// MethodArn is the ARN of the method called:
	// arn:aws:execute-api:local:000000000000:wasmgate/{stage}/{METHOD}/{path}.
	MethodArn string `json:"methodArn"`

	Resource                        string                  `json:"resource,omitempty"`
	Path                            string                  `json:"path,omitempty"`
	HTTPMethod                      string                  `json:"httpMethod,omitempty"`
	Headers                         map[string]string       `json:"headers,omitempty"`
	MultiValueHeaders               map[string][]string     `json:"multiValueHeaders,omitempty"`
	QueryStringParameters           map[string]string       `json:"queryStringParameters,omitempty"`
	MultiValueQueryStringParameters map[string][]string     `json:"multiValueQueryStringParameters,omitempty"`
	PathParameters                  map[string]string       `json:"pathParameters,omitempty"`
	StageVariables                  map[string]string       `json:"stageVariables,omitempty"`
	RequestContext                  *AuthorizerEventContext `json:"requestContext,omitempty"`
}

// AuthorizerEventContext is the requestContext of a REQUEST event.
type AuthorizerEventContext struct {
	Path             string `json:"path"`
	AccountID        string `json:"accountId"`
	APIID            string `json:"apiId"`
	Stage            string `json:"stage"`
	DeploymentID     string `json:"deploymentId"`
	RequestID        string `json:"requestId"`
	ResourcePath     string `json:"resourcePath"`
	HTTPMethod       string `json:"httpMethod"`
	DomainName       string `json:"domainName"`
	Protocol         string `json:"protocol"`
	RequestTimeEpoch int64  `json:"requestTimeEpoch"`
	Identity         struct {
		SourceIP  string `json:"sourceIp"`
		UserAgent string `json:"userAgent"`
	} `json:"identity"`
}

// AuthorizerResponse is a Lambda authorizer's answer: who the caller is
// (PrincipalID), what it may call (PolicyDocument, evaluated by the
// gateway against each request's method ARN, Deny winning) and values for
// the plugins after it (Context: strings, numbers and booleans, readable
// as the wasmgate.authorizer.<key> properties).
type AuthorizerResponse struct {
	PrincipalID    string         `json:"principalId"`
	PolicyDocument PolicyDocument `json:"policyDocument"`
	Context        map[string]any `json:"context,omitempty"`
}

// PolicyDocument is an IAM policy.
type PolicyDocument struct {
	Version   string            `json:"Version"`
	Statement []PolicyStatement `json:"Statement"`
}

// PolicyStatement is one statement of a policy: Effect "Allow" or "Deny"
// of Action (execute-api:Invoke) on Resource (method ARNs; "*" matches any
// run of characters, "?" one).
type PolicyStatement struct {
	Action   []string `json:"Action"`
	Effect   string   `json:"Effect"`
	Resource []string `json:"Resource"`
}

// Allow returns a response allowing principal to invoke resources (method
// ARNs, with wildcards: "*" allows every method of every stage).
func Allow(principal string, resources ...string) *AuthorizerResponse {
	return policy(principal, "Allow", resources)
}

// Deny returns a response denying principal the resources (an explicit
// deny: 403 even if another statement allows them).
func Deny(principal string, resources ...string) *AuthorizerResponse {
	return policy(principal, "Deny", resources)
}

func policy(principal, effect string, resources []string) *AuthorizerResponse {
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	return &AuthorizerResponse{
		PrincipalID: principal,
		PolicyDocument: PolicyDocument{
			Version:   "2012-10-17",
			Statement: []PolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: resources}},
		},
	}
}

// ErrUnauthorized is the error an authorizer returns for a caller it
// cannot authenticate (a Lambda authorizer's "Unauthorized"): the client
// gets 401 {"message":"Unauthorized"}. Any other error is a failure of
// the authorizer (500).
var ErrUnauthorized = errors.New("Unauthorized")

// AuthorizerHandler is a typed authorizer.
type AuthorizerHandler func(ctx Context, ev *AuthorizerEvent) (*AuthorizerResponse, error)

// StartAuthorizer makes the plugin a custom authorizer served by h. Call
// it from an init function of package main.
func StartAuthorizer(h AuthorizerHandler) {
	if h == nil {
		panic("lambda: StartAuthorizer with a nil handler")
	}
	registerAuthorizer(func(ctx Context, event []byte) ([]byte, error) {
		var ev AuthorizerEvent
		if err := json.Unmarshal(event, &ev); err != nil {
			return nil, fmt.Errorf("decoding the event: %w", err)
		}
		r, err := h(ctx, &ev)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, errors.New("the handler returned no response and no error")
		}
		return json.Marshal(r)
	})
}

// StartAuthorizerJSON makes the plugin a custom authorizer served by a raw
// JSON handler: it receives the event JSON and returns the authorizer
// response JSON (the IAM policy format, or HTTP APIs' simple format
// {"isAuthorized": true, "context": {...}}). Return ErrUnauthorized (or an
// error whose text is "Unauthorized") for a 401. Call it from an init
// function of package main.
func StartAuthorizerJSON(h JSONHandler) {
	if h == nil {
		panic("lambda: StartAuthorizerJSON with a nil handler")
	}
	registerAuthorizer(func(_ Context, event []byte) ([]byte, error) { return h(event) })
}

var authorize func(ctx Context, event []byte) ([]byte, error)

func registerAuthorizer(fn func(ctx Context, event []byte) ([]byte, error)) {
	authorize = fn
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &authRoot{} })
	sdk.SetHooks(sdk.HookRequestHeaders | sdk.HookRequestBody)
}

type authRoot struct {
	sdk.DefaultRootContext
	name string
}

// OnPluginStart checks the configuration: an authorizer's settings are
// its own, given to Configure; without Configure it must be empty.
func (r *authRoot) OnPluginStart(int) bool {
	data, err := sdk.GetPluginConfiguration()
	if err != nil && !errors.Is(err, sdk.ErrNotFound) {
		sdk.LogErrorf("lambda: cannot read the configuration: %v", err)
		return false
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		data = []byte("{}")
	}
	if configure != nil {
		if err := configure(data); err != nil {
			sdk.LogErrorf("lambda: configuration: %v", err)
			return false
		}
	} else if string(data) != "{}" {
		sdk.LogErrorf("lambda: configuration: this authorizer takes no settings (one that does registers lambda.Configure)")
		return false
	}
	r.name, _ = sdk.GetPropertyString("plugin_name")
	return true
}

func (r *authRoot) NewHTTPContext(uint32) sdk.HTTPContext { return &authContext{root: r} }

type authContext struct {
	sdk.DefaultHTTPContext
	root *authRoot
	body []byte
	done bool
}

func (c *authContext) OnHTTPRequestHeaders(_ int, endOfStream bool) sdk.Action {
	if endOfStream {
		sdk.LogError("lambda: an authorizer request without an event")
		return c.answer(500, nil)
	}
	return sdk.ActionContinue
}

func (c *authContext) OnHTTPRequestBody(bodySize int, endOfStream bool) sdk.Action {
	if c.done {
		return sdk.ActionPause
	}
	if bodySize > len(c.body) {
		more, err := sdk.GetHTTPRequestBody(len(c.body), bodySize-len(c.body))
		if err != nil {
			sdk.LogErrorf("lambda: reading the event: %v", err)
			return c.answer(500, nil)
		}
		c.body = append(c.body, more...)
	}
	if !endOfStream {
		return sdk.ActionPause
	}
	prop := func(path ...string) string { v, _ := sdk.GetPropertyString(path...); return v }
	ctx := Context{
		FunctionName: c.root.name,
		RequestID:    prop("request", "id"),
		Stage:        prop("wasmgate", "stage"),
		Deployment:   prop("wasmgate", "deployment"),
	}
	out, err := callAuthorizer(ctx, c.body)
	switch {
	case err == nil:
		return c.answer(200, out)
	case errors.Is(err, ErrUnauthorized) || err.Error() == "Unauthorized":
		return c.answer(401, []byte(`{"message":"Unauthorized"}`))
	}
	sdk.LogErrorf("lambda: authorizer, request %s: %v", ctx.RequestID, err)
	return c.answer(500, []byte(`{"message":"Internal server error"}`))
}

func callAuthorizer(ctx Context, event []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the handler panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return authorize(ctx, event)
}

func (c *authContext) answer(status uint32, body []byte) sdk.Action {
	c.done = true
	if err := sdk.SendHTTPResponse(status, [][2]string{{"content-type", "application/json"}}, body, -1); err != nil {
		sdk.LogErrorf("lambda: sending the answer: %v", err)
		return sdk.ActionContinue
	}
	return sdk.ActionPause
}
