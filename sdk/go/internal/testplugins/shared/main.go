// Command shared counts requests in shared data with a compare-and-swap
// loop, answers the count in x-count, and checks that a write with a stale
// CAS token fails with ErrCASMismatch (x-cas-mismatch: true).
//
// Proxy-Wasm has no "create if absent": a write with CAS token 0 always
// succeeds, so two requests that both find the key missing would both
// store 1. The counter is therefore created in OnPluginStart (instances
// start one after the other), and requests always write with a token.
package main

import (
	"encoding/binary"
	"errors"
	"strconv"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return root{} })
}

type root struct{ sdk.DefaultRootContext }

func (root) OnPluginStart(int) bool {
	_, _, err := sdk.GetSharedData(key)
	if errors.Is(err, sdk.ErrNotFound) {
		err = sdk.SetSharedData(key, make([]byte, 8), 0)
	}
	if err != nil {
		sdk.LogErrorf("shared: creating the counter: %v", err)
		return false
	}
	return true
}

func (root) NewHTTPContext(uint32) sdk.HTTPContext { return &ctx{} }

type ctx struct {
	sdk.DefaultHTTPContext
	count uint64
	stale bool
}

const key = "requests"

func (c *ctx) OnHTTPRequestHeaders(int, bool) sdk.Action {
	for attempt := 0; attempt < 10; attempt++ {
		value, cas, err := sdk.GetSharedData(key)
		if err != nil {
			panic(err)
		}
		if len(value) != 8 || cas == 0 {
			panic("shared: bad counter")
		}
		n := binary.LittleEndian.Uint64(value) + 1
		err = sdk.SetSharedData(key, binary.LittleEndian.AppendUint64(nil, n), cas)
		if errors.Is(err, sdk.ErrCASMismatch) {
			continue
		}
		if err != nil {
			panic(err)
		}
		c.count = n
		// The token we used is stale now: a second write must fail.
		err = sdk.SetSharedData(key, []byte("stale"), cas)
		c.stale = errors.Is(err, sdk.ErrCASMismatch)
		return sdk.ActionContinue
	}
	panic("too many CAS retries")
}

func (c *ctx) OnHTTPResponseHeaders(int, bool) sdk.Action {
	_ = sdk.AddHTTPResponseHeader("x-count", strconv.FormatUint(c.count, 10))
	_ = sdk.AddHTTPResponseHeader("x-cas-mismatch", strconv.FormatBool(c.stale))
	return sdk.ActionContinue
}
