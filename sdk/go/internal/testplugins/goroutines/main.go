// Command goroutines hands each request to a worker goroutine started in
// OnPluginStart and reports the worker's answer in the response (x-worker).
// The worker runs only when the host gives the Go scheduler a turn through
// the wasmgate_yield export, which the test makes the host call after
// every callback.
package main

import (
	"strconv"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &root{} })
}

type job struct {
	n    int
	done chan int // buffered: the worker never blocks
}

type root struct {
	sdk.DefaultRootContext
	jobs chan job
	next int
}

func (r *root) OnPluginStart(int) bool {
	r.jobs = make(chan job, 16)
	go func() {
		for j := range r.jobs {
			j.done <- j.n * j.n
		}
	}()
	return true
}

func (r *root) NewHTTPContext(uint32) sdk.HTTPContext { return &ctx{root: r} }

type ctx struct {
	sdk.DefaultHTTPContext
	root *root
	done chan int
}

func (c *ctx) OnHTTPRequestHeaders(int, bool) sdk.Action {
	c.root.next++
	c.done = make(chan int, 1)
	c.root.jobs <- job{n: c.root.next, done: c.done}
	return sdk.ActionContinue
}

func (c *ctx) OnHTTPResponseHeaders(int, bool) sdk.Action {
	select {
	case v := <-c.done:
		_ = sdk.AddHTTPResponseHeader("x-worker", strconv.Itoa(v))
	default:
		_ = sdk.AddHTTPResponseHeader("x-worker", "pending")
	}
	return sdk.ActionContinue
}
