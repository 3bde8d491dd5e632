// Command panics fails on purpose: it panics in the request phase of
// /panic (a nil map write) and /panic-value (panic with a string), in the
// response phase of /panic-response, and in NewHTTPContext for the
// request after /arm-create-panic. Other requests get an x-ok response
// header and x-served, the number of requests this instance has seen,
// proving its state survived the panics. With the configuration "shared"
// every request runs on one shared context (sdk.HTTPContextSharer).
package main

import (
	"strconv"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &root{} })
}

type root struct {
	sdk.DefaultRootContext
	served    int
	panicNext bool
	shared    bool
}

func (r *root) OnPluginStart(int) bool {
	cfg, _ := sdk.GetPluginConfiguration()
	r.shared = string(cfg) == "shared"
	return true
}

// SharedHTTPContext is nil (a context per request) unless configured.
func (r *root) SharedHTTPContext() sdk.HTTPContext {
	if !r.shared {
		return nil
	}
	return &ctx{root: r}
}

func (r *root) NewHTTPContext(uint32) sdk.HTTPContext {
	if r.panicNext {
		r.panicNext = false
		r.served++
		panic("NewHTTPContext failed on purpose")
	}
	return &ctx{root: r}
}

type ctx struct {
	sdk.DefaultHTTPContext
	root *root
}

func (c *ctx) OnHTTPRequestHeaders(int, bool) sdk.Action {
	c.root.served++
	path, err := sdk.GetHTTPRequestHeader(":path")
	if err != nil {
		panic(err)
	}
	switch path {
	case "/panic":
		var m map[string]int
		m["boom"]++ // assignment to entry in nil map
	case "/panic-value":
		panic("handler failed on purpose")
	case "/arm-create-panic":
		c.root.panicNext = true
	}
	return sdk.ActionContinue
}

func (c *ctx) OnHTTPResponseHeaders(int, bool) sdk.Action {
	if p, _ := sdk.GetHTTPRequestHeader(":path"); p == "/panic-response" {
		panic("response handler failed on purpose")
	}
	if err := sdk.AddHTTPResponseHeader("x-ok", "1"); err != nil {
		panic(err)
	}
	if err := sdk.AddHTTPResponseHeader("x-served", strconv.Itoa(c.root.served)); err != nil {
		panic(err)
	}
	return sdk.ActionContinue
}
