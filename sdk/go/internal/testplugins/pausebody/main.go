// Command pausebody pauses every request with a body in its headers
// callback, as Envoy plugins that inspect the body before anything goes
// upstream do, and decides in its body callback: a body "deny" is
// answered 403, any other is let through with x-body-seen: <length>.
package main

import (
	"strconv"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &root{} })
	sdk.SetHooks(sdk.HookRequestHeaders | sdk.HookRequestBody)
}

type root struct{ sdk.DefaultRootContext }

func (*root) NewHTTPContext(uint32) sdk.HTTPContext { return &ctx{} }

type ctx struct{ sdk.DefaultHTTPContext }

func (*ctx) OnHTTPRequestHeaders(_ int, endOfStream bool) sdk.Action {
	if endOfStream {
		return sdk.ActionContinue
	}
	return sdk.ActionPause
}

func (*ctx) OnHTTPRequestBody(size int, endOfStream bool) sdk.Action {
	if !endOfStream {
		return sdk.ActionPause
	}
	body, err := sdk.GetHTTPRequestBody(0, size)
	if err != nil {
		panic(err)
	}
	if string(body) == "deny" {
		if err := sdk.SendHTTPResponse(403, nil, []byte("denied by body\n"), -1); err != nil {
			panic(err)
		}
		return sdk.ActionPause
	}
	if err := sdk.ReplaceHTTPRequestHeader("x-body-seen", strconv.Itoa(len(body))); err != nil {
		panic(err)
	}
	if err := sdk.ResumeHTTPRequest(); err != nil {
		panic(err)
	}
	return sdk.ActionContinue
}
