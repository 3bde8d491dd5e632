// Command rootctx exercises the root context: the VM configuration, the
// plugin_name property, ticks (ticks_total), a shared queue the requests
// feed and OnQueueReady drains (queue_items_total), a gauge of requests in
// flight (inflight, back to 0 in OnHTTPStreamDone) and a histogram of path
// lengths (path_lengths).
package main

import (
	"errors"
	"time"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &root{} })
}

type root struct {
	sdk.DefaultRootContext
	ticks, items sdk.Counter
	inflight     sdk.Gauge
	paths        sdk.Histogram
	queue        uint32
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}

func (r *root) OnVMStart(vmConfigSize int) bool {
	cfg, err := sdk.GetVMConfiguration()
	if err != nil || len(cfg) != vmConfigSize {
		sdk.LogErrorf("rootctx: vm configuration (%d bytes): %v", vmConfigSize, err)
		return false
	}
	sdk.LogInfof("rootctx: vm config: %s", cfg)
	return true
}

func (r *root) OnPluginStart(int) bool {
	var err error
	r.ticks, err = sdk.DefineCounterMetric("ticks_total")
	check(err)
	r.items, err = sdk.DefineCounterMetric("queue_items_total")
	check(err)
	r.inflight, err = sdk.DefineGaugeMetric("inflight")
	check(err)
	r.paths, err = sdk.DefineHistogramMetric("path_lengths")
	check(err)
	r.queue, err = sdk.RegisterSharedQueue("jobs")
	check(err)
	check(sdk.SetTickPeriod(5 * time.Millisecond))
	name, err := sdk.GetPropertyString("plugin_name")
	check(err)
	sdk.LogInfof("rootctx: plugin name: %s", name)
	if sdk.LogEnabled(sdk.LevelDebug) {
		sdk.LogDebug("rootctx: debug enabled")
	}
	return true
}

func (r *root) OnTick() { check(r.ticks.Increment(1)) }

func (r *root) OnQueueReady(queueID uint32) {
	for {
		item, err := sdk.DequeueSharedQueue(queueID)
		if errors.Is(err, sdk.ErrEmpty) {
			return
		}
		check(err)
		check(r.items.Increment(1))
		sdk.LogInfof("rootctx: queued %s", item)
	}
}

func (r *root) NewHTTPContext(uint32) sdk.HTTPContext { return &ctx{root: r} }

type ctx struct {
	sdk.DefaultHTTPContext
	root *root
}

func (c *ctx) OnHTTPRequestHeaders(int, bool) sdk.Action {
	check(c.root.inflight.Add(1))
	path, err := sdk.GetPropertyString("request", "path")
	check(err)
	check(c.root.paths.Record(uint64(len(path))))
	q, err := sdk.ResolveSharedQueue("", "jobs")
	check(err)
	check(sdk.EnqueueSharedQueue(q, []byte(path)))
	return sdk.ActionContinue
}

func (c *ctx) OnHTTPStreamDone() { check(c.root.inflight.Add(-1)) }
