package sdk_test

import (
	"errors"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

// A plugin that rejects requests without an API key. In a real plugin the
// registration is in func init of package main, and main is empty.
func Example() {
	sdk.SetNewRootContext(func(contextID uint32) sdk.RootContext { return exampleRoot{} })
}

type exampleRoot struct{ sdk.DefaultRootContext }

func (exampleRoot) NewHTTPContext(contextID uint32) sdk.HTTPContext { return exampleHTTP{} }

type exampleHTTP struct{ sdk.DefaultHTTPContext }

func (exampleHTTP) OnHTTPRequestHeaders(numHeaders int, endOfStream bool) sdk.Action {
	_, err := sdk.GetHTTPRequestHeader("x-api-key")
	if errors.Is(err, sdk.ErrNotFound) {
		_ = sdk.SendHTTPResponse(403, [][2]string{{"content-type", "application/json"}},
			[]byte(`{"message":"Forbidden"}`), -1)
		return sdk.ActionPause
	}
	return sdk.ActionContinue
}

// Counting requests across every instance of a plugin with shared data and
// compare-and-swap. (Create the key in OnPluginStart: while it is missing
// the CAS token is 0 and writes are unconditional.)
func ExampleSetSharedData() {
	for {
		value, cas, err := sdk.GetSharedData("hits")
		if err != nil && !errors.Is(err, sdk.ErrNotFound) {
			return
		}
		next := []byte{1}
		if len(value) == 1 {
			next[0] = value[0] + 1
		}
		err = sdk.SetSharedData("hits", next, cas)
		if !errors.Is(err, sdk.ErrCASMismatch) {
			return // stored, or a real error
		}
		// Another instance wrote first: read again.
	}
}
