// Command testtyped is a function plugin for the lambda package's tests,
// built on Start. By the request header x-test-mode it
//
//   - echo (default): answers 200 with the Event it received, as JSON
//     with Go field names, plus the Context;
//   - multi: answers with single- and multi-value headers and cookies;
//   - binary: answers with a binary body;
//   - error: returns an error;
//   - panic: panics;
//   - nil: returns neither a response nor an error;
//   - bad-status: returns status 99.
//
// It registers lambda.Configure and accepts {"greeting": "..."}.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wasmgate/wasmgate/sdk/go/lambda"
)

func main() {}

var greeting = "hi"

func init() {
	lambda.Configure(func(extra []byte) error {
		var c struct {
			Greeting *string `json:"greeting"`
		}
		dec := json.NewDecoder(bytes.NewReader(extra))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return fmt.Errorf("testtyped: %w", err)
		}
		if c.Greeting != nil {
			greeting = *c.Greeting
		}
		return nil
	})
	lambda.Start(handle)
}

func handle(ctx lambda.Context, ev *lambda.Event) (*lambda.Response, error) {
	switch ev.Headers["x-test-mode"] {
	case "multi":
		return &lambda.Response{
			StatusCode:        201,
			Headers:           map[string]string{"x-single": "one", "X-Both": "from-headers"},
			MultiValueHeaders: map[string][]string{"x-multi": {"a", "b"}, "x-both": {"m1", "m2"}},
			Cookies:           []string{"a=1; Path=/", "b=2"},
			Body:              "multi",
		}, nil
	case "binary":
		return lambda.Binary(200, "image/png", []byte{0x89, 'P', 'N', 'G', 0, 0xff}), nil
	case "error":
		return nil, errors.New("boom")
	case "panic":
		panic("boom")
	case "nil":
		return nil, nil
	case "bad-status":
		return &lambda.Response{StatusCode: 99}, nil
	}
	body, err := ev.BodyBytes()
	if err != nil {
		return nil, err
	}
	return lambda.JSON(200, map[string]any{"greeting": greeting, "context": ctx, "event": ev, "fields": map[string]any{
		"Version": ev.Version, "Path": ev.Path, "RawPath": ev.RawPath, "Resource": ev.Resource, "RouteKey": ev.RouteKey,
		"Headers": ev.Headers, "MultiValueHeaders": ev.MultiValueHeaders, "Query": ev.QueryStringParameters,
		"MultiQuery": ev.MultiValueQueryStringParameters, "Cookies": ev.Cookies, "PathParameters": ev.PathParameters,
		"StageVariables": ev.StageVariables, "Body": string(body), "IsBase64Encoded": ev.IsBase64Encoded,
		"RequestContext": ev.RequestContext,
	}})
}
