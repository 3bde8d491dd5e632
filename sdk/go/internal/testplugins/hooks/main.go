// Command hooks declares its callbacks from its configuration: request
// headers always, the request body and trailers only with config
// "bodies". It counts body callbacks in the x-body-calls response header
// and reports the body it read in the trailers callback in x-trailer-body.
package main

import (
	"strconv"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &root{} })
	sdk.SetHooks(sdk.HookRequestHeaders)
}

type root struct{ sdk.DefaultRootContext }

func (*root) OnPluginStart(int) bool {
	cfg, _ := sdk.GetPluginConfiguration()
	if string(cfg) == "bodies" {
		sdk.SetHooks(sdk.HookRequestHeaders | sdk.HookRequestBody | sdk.HookRequestTrailers | sdk.HookResponseHeaders)
	}
	return true
}

func (*root) NewHTTPContext(uint32) sdk.HTTPContext { return &ctx{} }

type ctx struct {
	sdk.DefaultHTTPContext
	bodyCalls   int
	trailerBody string
}

// OnHTTPRequestBody buffers the body until its end (or the trailers).
func (c *ctx) OnHTTPRequestBody(_ int, endOfStream bool) sdk.Action {
	c.bodyCalls++
	if !endOfStream {
		return sdk.ActionPause
	}
	return sdk.ActionContinue
}

// OnHTTPRequestTrailers reads the buffered body, as Envoy allows.
func (c *ctx) OnHTTPRequestTrailers(int) sdk.Action {
	b, err := sdk.GetHTTPRequestBody(0, 1<<20)
	if err != nil {
		c.trailerBody = "error: " + err.Error()
	} else {
		c.trailerBody = string(b)
	}
	return sdk.ActionContinue
}

func (c *ctx) OnHTTPResponseHeaders(int, bool) sdk.Action {
	_ = sdk.AddHTTPResponseHeader("x-body-calls", strconv.Itoa(c.bodyCalls))
	if c.trailerBody != "" {
		_ = sdk.AddHTTPResponseHeader("x-trailer-body", c.trailerBody)
	}
	return sdk.ActionContinue
}
