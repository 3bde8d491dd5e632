// Command deny answers 403 with a JSON body to requests without an
// x-api-key header, and lets the others through.
package main

import (
	"errors"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return root{} })
}

type root struct{ sdk.DefaultRootContext }

func (root) NewHTTPContext(uint32) sdk.HTTPContext { return ctx{} }

type ctx struct{ sdk.DefaultHTTPContext }

func (ctx) OnHTTPRequestHeaders(int, bool) sdk.Action {
	_, err := sdk.GetHTTPRequestHeader("x-api-key")
	switch {
	case err == nil:
		return sdk.ActionContinue
	case errors.Is(err, sdk.ErrNotFound):
		sdk.LogInfo("deny: no api key")
		if err := sdk.SendHTTPResponse(403, [][2]string{{"content-type", "application/json"}},
			[]byte(`{"message":"Forbidden"}`), -1); err != nil {
			sdk.LogErrorf("deny: %v", err)
		}
		return sdk.ActionPause
	default:
		sdk.LogErrorf("deny: %v", err)
		return sdk.ActionContinue
	}
}
