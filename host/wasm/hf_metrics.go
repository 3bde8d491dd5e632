package wasm

import (
	"context"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/abi"
)

// Metrics defined by plugins. Defining the same name and type twice (from
// every instance of a plugin, or from another version of it) returns the
// same id, so counts add up across the pool; plugins with different names
// get different metrics even when the metric names are equal.
// Spec: https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#metrics

func init() {
	register(hostFuncs, abi.FuncDefineMetric, hostDefineMetric)
	register(hostFuncs, abi.FuncIncrementMetric, hostIncrementMetric)
	register(hostFuncs, abi.FuncRecordMetric, hostRecordMetric)
	register(hostFuncs, abi.FuncGetMetric, hostGetMetric)
}

// Metric is a snapshot of one plugin-defined metric. For counters and
// gauges Value is the current value; for histograms Count and Sum
// summarize the recorded samples.
type Metric struct {
	// Plugin is the name of the plugin that defined it, without its
	// version ("rate-limit" for "rate-limit@1.2.0").
	Plugin string
	Name   string
	Type   abi.MetricType
	Value  int64
	Count  uint64
	Sum    uint64
}

type metric struct {
	plugin string
	name   string
	typ    abi.MetricType
	value  atomic.Int64
	count  atomic.Uint64
	sum    atomic.Uint64
}

type metricRegistry struct {
	mu    sync.RWMutex
	byKey map[string]uint32
	list  []*metric // id = index + 1
	// snap is list as of the last define, read without the lock: every
	// increment looks a metric up, from every core, and a read lock's
	// shared counter made that a cache miss.
	snap atomic.Pointer[[]*metric]
}

func (r *metricRegistry) init() { r.byKey = map[string]uint32{} }

func (r *metricRegistry) define(plugin string, t abi.MetricType, name string) uint32 {
	if i := strings.IndexByte(plugin, '@'); i > 0 {
		plugin = plugin[:i]
	}
	key := plugin + "\x00" + t.String() + "\x00" + name
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.byKey[key]; ok {
		return id
	}
	r.list = append(r.list, &metric{plugin: plugin, name: name, typ: t})
	l := r.list
	r.snap.Store(&l)
	id := uint32(len(r.list))
	r.byKey[key] = id
	return id
}

func (r *metricRegistry) get(id uint32) *metric {
	l := r.snap.Load()
	if l == nil || id == 0 || int(id) > len(*l) {
		return nil
	}
	return (*l)[id-1]
}

// Metrics returns a snapshot of every metric plugins defined, sorted by
// plugin, then name.
func (e *Engine) Metrics() []Metric {
	e.metrics.mu.RLock()
	out := make([]Metric, 0, len(e.metrics.list))
	for _, m := range e.metrics.list {
		out = append(out, Metric{Plugin: m.plugin, Name: m.name, Type: m.typ, Value: m.value.Load(), Count: m.count.Load(), Sum: m.sum.Load()})
	}
	e.metrics.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Plugin != out[j].Plugin {
			return out[i].Plugin < out[j].Plugin
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// hostDefineMetric is proxy_define_metric(metric_type, name_ptr, name_size,
// return_id_ptr) → status. BAD_ARGUMENT for an unknown type.
func hostDefineMetric(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	t := abi.MetricType(uint32(stack[0]))
	if !t.Valid() {
		status(stack, abi.StatusBadArgument)
		return
	}
	name, ok := in.read(uint32(stack[1]), uint32(stack[2]))
	if !ok || !in.validOut(uint32(stack[3]), 4) {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	in.writeU32(uint32(stack[3]), in.p.e.metrics.define(in.p.info.Name, t, string(name)))
	status(stack, abi.StatusOK)
}

// hostIncrementMetric is proxy_increment_metric(metric_id, i64 delta) →
// status. NOT_FOUND for an unknown id; BAD_ARGUMENT when decrementing a
// counter or incrementing a histogram.
func hostIncrementMetric(ctx context.Context, _ api.Module, stack []uint64) {
	m := instanceOf(ctx).p.e.metrics.get(uint32(stack[0]))
	delta := int64(stack[1])
	switch {
	case m == nil:
		status(stack, abi.StatusNotFound)
	case m.typ == abi.MetricHistogram, m.typ == abi.MetricCounter && delta < 0:
		status(stack, abi.StatusBadArgument)
	default:
		m.value.Add(delta)
		status(stack, abi.StatusOK)
	}
}

// hostRecordMetric is proxy_record_metric(metric_id, u64 value) → status:
// sets a gauge or counter, or records a histogram sample.
func hostRecordMetric(ctx context.Context, _ api.Module, stack []uint64) {
	m := instanceOf(ctx).p.e.metrics.get(uint32(stack[0]))
	if m == nil {
		status(stack, abi.StatusNotFound)
		return
	}
	if m.typ == abi.MetricHistogram {
		m.count.Add(1)
		m.sum.Add(stack[1])
	} else {
		m.value.Store(int64(stack[1]))
	}
	status(stack, abi.StatusOK)
}

// hostGetMetric is proxy_get_metric(metric_id, return_value_ptr) → status:
//
//	return_value_ptr → [u64 value] (histograms: the sample count)
func hostGetMetric(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	m := in.p.e.metrics.get(uint32(stack[0]))
	if m == nil {
		status(stack, abi.StatusNotFound)
		return
	}
	v := uint64(m.value.Load())
	if m.typ == abi.MetricHistogram {
		v = m.count.Load()
	}
	if !in.writeU64(uint32(stack[1]), v) {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	status(stack, abi.StatusOK)
}
