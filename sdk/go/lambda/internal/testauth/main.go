// Command testauth is a REQUEST custom authorizer for the gateway's tests,
// built on StartAuthorizerJSON. By the event's x-user header it
//
//   - unauthorized: returns lambda.ErrUnauthorized (401);
//   - fail: returns an error (500);
//   - panic: panics (500);
//   - malformed: answers a response whose principalId is a number;
//   - simple-yes, simple-no: answers the simple format {isAuthorized};
//   - anything else: allows that principal every method when the query
//     parameter key is "open-sesame", else denies it explicitly, with a
//     context echoing the event (user, method, resource, path, stage,
//     arn, tenant (stage variable), id (path parameter)).
//
// It counts its calls in the counter metric testauth_calls.
package main

import (
	"encoding/json"
	"errors"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
	"github.com/wasmgate/wasmgate/sdk/go/lambda"
)

func main() {}

func init() { lambda.StartAuthorizerJSON(handle) }

var calls *sdk.Counter

func handle(event []byte) ([]byte, error) {
	if calls == nil {
		c, err := sdk.DefineCounterMetric("testauth_calls")
		if err != nil {
			return nil, err
		}
		calls = &c
	}
	_ = calls.Increment(1) // best effort
	var ev lambda.AuthorizerEvent
	if err := json.Unmarshal(event, &ev); err != nil {
		return nil, err
	}
	user := ev.Headers["x-user"]
	switch user {
	case "unauthorized":
		return nil, lambda.ErrUnauthorized
	case "fail":
		return nil, errors.New("the identity service is down")
	case "panic":
		panic("testauth: asked to panic")
	case "malformed":
		return []byte(`{"principalId": 5, "policyDocument": {"Statement": []}}`), nil
	case "simple-yes", "simple-no":
		return json.Marshal(map[string]any{"isAuthorized": user == "simple-yes", "context": map[string]any{"user": user}})
	}
	r := lambda.Deny(user, "*")
	if ev.QueryStringParameters["key"] == "open-sesame" {
		r = lambda.Allow(user, "*")
	}
	r.Context = map[string]any{
		"user": user, "method": ev.HTTPMethod, "resource": ev.Resource, "path": ev.Path, "arn": ev.MethodArn,
		"tenant": ev.StageVariables["tenant"], "id": ev.PathParameters["id"],
	}
	if ev.RequestContext != nil {
		r.Context["stage"] = ev.RequestContext.Stage
	}
	return json.Marshal(r)
}
