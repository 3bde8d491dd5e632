// Command claimsecho is a test plugin for the jwt plugin's e2e tests: it
// runs after jwt and copies the claims jwt recorded as properties into
// request headers, so a test upstream can see what later plugins see:
// wasmgate.jwt.claims → x-claims-json, wasmgate.jwt.claims.sub →
// x-claim-sub.
package main

import sdk "github.com/wasmgate/wasmgate/sdk/go"

func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return root{} })
}

type root struct{ sdk.DefaultRootContext }

func (root) NewHTTPContext(uint32) sdk.HTTPContext { return ctx{} }

type ctx struct{ sdk.DefaultHTTPContext }

func (ctx) OnHTTPRequestHeaders(int, bool) sdk.Action {
	if v, err := sdk.GetPropertyString("wasmgate", "jwt", "claims"); err == nil {
		_ = sdk.ReplaceHTTPRequestHeader("x-claims-json", v)
	}
	if v, err := sdk.GetPropertyString("wasmgate", "jwt", "claims", "sub"); err == nil {
		_ = sdk.ReplaceHTTPRequestHeader("x-claim-sub", v)
	}
	return sdk.ActionContinue
}
