// Command stress checks the SDK's memory handling under pressure: every
// request recurses to the depth given in x-depth (so the goroutine stack
// must grow while the host re-enters the plugin to allocate), forces a
// garbage collection when x-gc is set, reads every request header both
// one by one and as a map, reads the body, and answers the sum of the
// header value lengths (x-sum) and a checksum of the body (x-body-sum).
// The test compares them with what it sent.
package main

import (
	"runtime"
	"strconv"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return root{} })
}

type root struct{ sdk.DefaultRootContext }

func (root) NewHTTPContext(uint32) sdk.HTTPContext { return &ctx{} }

type ctx struct {
	sdk.DefaultHTTPContext
	sum, bodySum int
	depth        int
}

func (c *ctx) OnHTTPRequestHeaders(int, bool) sdk.Action {
	if v, err := sdk.GetHTTPRequestHeader("x-depth"); err == nil {
		c.depth, _ = strconv.Atoi(v)
	}
	if _, err := sdk.GetHTTPRequestHeader("x-gc"); err == nil {
		runtime.GC()
	}
	c.sum = deep(c.depth, func() int {
		pairs, err := sdk.GetHTTPRequestHeaders()
		if err != nil {
			panic(err)
		}
		sum := 0
		for _, p := range pairs {
			if p[0][0] == ':' {
				continue
			}
			v, err := sdk.GetHTTPRequestHeader(p[0])
			if err != nil {
				panic(err)
			}
			if v != p[1] && p[0] != "x-dup" {
				panic("header " + p[0] + ": value mismatch")
			}
			sum += len(p[1])
		}
		return sum
	})
	return sdk.ActionContinue
}

// deep recurses n levels with a large frame before calling f.
func deep(n int, f func() int) int {
	var pad [512]byte
	pad[n%512] = byte(n)
	if n <= 0 {
		return f() + int(pad[0])
	}
	return deep(n-1, f) + int(pad[n%512]) - int(byte(n))
}

func (c *ctx) OnHTTPRequestBody(bodySize int, endOfStream bool) sdk.Action {
	if !endOfStream {
		return sdk.ActionPause
	}
	c.bodySum = deep(c.depth, func() int {
		b, err := sdk.GetHTTPRequestBody(0, bodySize)
		if err != nil {
			panic(err)
		}
		s := 0
		for i, x := range b {
			s += int(x) * (i%7 + 1)
		}
		return s
	})
	return sdk.ActionContinue
}

func (c *ctx) OnHTTPResponseHeaders(int, bool) sdk.Action {
	_ = sdk.AddHTTPResponseHeader("x-sum", strconv.Itoa(c.sum))
	_ = sdk.AddHTTPResponseHeader("x-body-sum", strconv.Itoa(c.bodySum))
	return sdk.ActionContinue
}
