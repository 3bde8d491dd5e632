// Command httpcall asks the "auth" upstream about every request before
// letting it through: it dispatches GET /check with the request's
// authorization header and pauses; the callback copies the answer's
// x-user header and body into the request (x-user, x-auth-body) and
// resumes it, or answers 401 when auth said so and 503 when the call
// failed.
package main

import (
	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return root{} })
}

type root struct{ sdk.DefaultRootContext }

func (root) NewHTTPContext(uint32) sdk.HTTPContext { return &ctx{} }

type ctx struct{ sdk.DefaultHTTPContext }

func (c *ctx) OnHTTPRequestHeaders(int, bool) sdk.Action {
	authz, _ := sdk.GetHTTPRequestHeader("authorization")
	_, err := sdk.DispatchHTTPCall("auth", [][2]string{
		{":method", "GET"}, {":path", "/check"}, {":authority", "auth.internal"},
		{"authorization", authz},
	}, nil, nil, 1000, c.onAuth)
	if err != nil {
		sdk.LogErrorf("httpcall: dispatch: %v", err)
		_ = sdk.SendHTTPResponse(500, nil, []byte("dispatch failed"), -1)
		return sdk.ActionPause
	}
	return sdk.ActionPause
}

func (c *ctx) onAuth(numHeaders, bodySize, numTrailers int) {
	if numHeaders == 0 {
		_ = sdk.SendHTTPResponse(503, nil, []byte("auth unavailable"), -1)
		return
	}
	status, err := sdk.GetHTTPCallResponseHeader(":status")
	if err != nil {
		panic(err)
	}
	if status != "200" {
		_ = sdk.SendHTTPResponse(401, [][2]string{{"www-authenticate", "Bearer"}}, nil, -1)
		return
	}
	user, _ := sdk.GetHTTPCallResponseHeader("x-user")
	body, err := sdk.GetHTTPCallResponseBody(0, bodySize)
	if err != nil {
		panic(err)
	}
	if err := sdk.AddHTTPRequestHeader("x-user", user); err != nil {
		panic(err)
	}
	if err := sdk.AddHTTPRequestHeader("x-auth-body", string(body)); err != nil {
		panic(err)
	}
	if err := sdk.ResumeHTTPRequest(); err != nil {
		panic(err)
	}
}
