package observe

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// Label values for requests outside any stage or route.
const (
	// UnknownRoute labels requests that matched no route (404, 405): raw
	// paths never become labels.
	UnknownRoute = "unknown"
	// NoStage labels requests that no stage serves.
	NoStage = "$none"
)

var (
	latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	pluginBuckets  = []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, .5}
)

// Metrics are the gateway's Prometheus metrics, in their own registry
// (with the Go runtime and process collectors).
type Metrics struct {
	reg *prometheus.Registry

	requests, err4xx, err5xx, cacheHits, cacheMisses, throttled *prometheus.CounterVec
	latency, integration                                        *prometheus.HistogramVec
	pluginCalls, pluginErrors                                   *prometheus.CounterVec
	pluginTime                                                  *prometheus.HistogramVec

	mu      sync.RWMutex
	routes  map[[2]string]*RouteMetrics
	plugins map[[2]string]*PluginMetrics
}

// Sources give the metrics read at scrape time.
type Sources struct {
	// Plugins returns the live plugin instance pools.
	Plugins func() []*wasm.Plugin
	// PluginMetrics returns the metrics plugins defined
	// (wasm.Engine.Metrics).
	PluginMetrics func() []wasm.Metric
	// Writers returns the log writers (for their drop counts).
	Writers func() []*AsyncWriter
}

// NewMetrics creates and registers the metrics.
func NewMetrics(src Sources) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), routes: map[[2]string]*RouteMetrics{}, plugins: map[[2]string]*PluginMetrics{}}
	sr := []string{"stage", "route"}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	hist := func(name, help string, buckets []float64, labels []string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
		m.reg.MustRegister(v)
		return v
	}
	m.requests = counter("wasmgate_requests_total", "Requests answered, by stage and route template.", sr)
	m.err4xx = counter("wasmgate_4xx_errors_total", "Requests answered with a 4XX status.", sr)
	m.err5xx = counter("wasmgate_5xx_errors_total", "Requests answered with a 5XX status.", sr)
	m.cacheHits = counter("wasmgate_cache_hits_total", "Requests answered from the stage's response cache.", sr)
	m.cacheMisses = counter("wasmgate_cache_misses_total", "Requests a cache plugin looked up and did not find.", sr)
	m.throttled = counter("wasmgate_throttled_total", "Requests a plugin refused with 429 Too Many Requests.", sr)
	m.latency = hist("wasmgate_request_duration_seconds", "Time from a request's arrival to the end of its response.", latencyBuckets, sr)
	m.integration = hist("wasmgate_integration_duration_seconds", "Time the integration took to answer (to its response headers).", latencyBuckets, sr)
	sp := []string{"stage", "plugin"}
	m.pluginCalls = counter("wasmgate_plugin_calls_total", "Plugin callbacks delivered.", sp)
	m.pluginErrors = counter("wasmgate_plugin_errors_total", "Plugin failures, by kind: trap, deadline, memory_limit, instance_lost, rejected, other.", []string{"stage", "plugin", "kind"})
	m.pluginTime = hist("wasmgate_plugin_duration_seconds", "Time a plugin ran for one request (all its callbacks).", pluginBuckets, sp)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(&scrapeCollector{src: src})
	return m
}

// Registry returns the registry (to add collectors, or to gather in
// tests).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// RouteMetrics are one (stage, route template)'s series, resolved once
// and kept: recording a request costs no label lookup.
type RouteMetrics struct {
	requests, err4xx, err5xx, hits, misses, throttled prometheus.Counter
	latency, integration                              prometheus.Observer
}

// Route returns the series of a stage's route template (UnknownRoute when
// none matched; NoStage when no stage serves the request).
func (m *Metrics) Route(stage, route string) *RouteMetrics {
	k := [2]string{stage, route}
	m.mu.RLock()
	rm := m.routes[k]
	m.mu.RUnlock()
	if rm != nil {
		return rm
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if rm = m.routes[k]; rm != nil {
		return rm
	}
	rm = &RouteMetrics{
		requests: m.requests.WithLabelValues(stage, route), err4xx: m.err4xx.WithLabelValues(stage, route),
		err5xx: m.err5xx.WithLabelValues(stage, route), hits: m.cacheHits.WithLabelValues(stage, route),
		misses: m.cacheMisses.WithLabelValues(stage, route), throttled: m.throttled.WithLabelValues(stage, route),
		latency: m.latency.WithLabelValues(stage, route), integration: m.integration.WithLabelValues(stage, route),
	}
	m.routes[k] = rm
	return rm
}

// Observe records one request. integration < 0: the integration was not
// called. throttled: a plugin answered 429.
func (rm *RouteMetrics) Observe(status int, latency, integration time.Duration, cacheStatus string, throttled bool) {
	rm.requests.Inc()
	switch {
	case status >= 500:
		rm.err5xx.Inc()
	case status >= 400:
		rm.err4xx.Inc()
	}
	switch cacheStatus {
	case "hit":
		rm.hits.Inc()
	case "miss":
		rm.misses.Inc()
	}
	if throttled {
		rm.throttled.Inc()
	}
	rm.latency.Observe(latency.Seconds())
	if integration >= 0 {
		rm.integration.Observe(integration.Seconds())
	}
}

// PluginMetrics are one (stage, plugin)'s series.
type PluginMetrics struct {
	m             *Metrics
	stage, plugin string
	calls         prometheus.Counter
	time          prometheus.Observer
}

// Plugin returns the series of a plugin (its name without version) on a
// stage.
func (m *Metrics) Plugin(stage, plugin string) *PluginMetrics {
	if i := strings.IndexByte(plugin, '@'); i > 0 {
		plugin = plugin[:i]
	}
	k := [2]string{stage, plugin}
	m.mu.RLock()
	pm := m.plugins[k]
	m.mu.RUnlock()
	if pm != nil {
		return pm
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if pm = m.plugins[k]; pm != nil {
		return pm
	}
	pm = &PluginMetrics{m: m, stage: stage, plugin: plugin,
		calls: m.pluginCalls.WithLabelValues(stage, plugin), time: m.pluginTime.WithLabelValues(stage, plugin)}
	m.plugins[k] = pm
	return pm
}

// Observe records a plugin's calls for one request and the time they took.
func (pm *PluginMetrics) Observe(calls int, d time.Duration) {
	pm.calls.Add(float64(calls))
	pm.time.Observe(d.Seconds())
}

// Failed counts a plugin failure (err from host/wasm or the pipeline).
func (pm *PluginMetrics) Failed(err error) {
	pm.m.pluginErrors.WithLabelValues(pm.stage, pm.plugin, ErrorKind(err)).Inc()
}

// ErrorKind classifies a plugin failure for metrics and logs: trap,
// deadline, memory_limit, instance_lost, rejected or other.
func ErrorKind(err error) string {
	switch {
	case errors.Is(err, wasm.ErrTrap):
		return "trap"
	case errors.Is(err, wasm.ErrDeadline):
		return "deadline"
	case errors.Is(err, wasm.ErrMemoryLimit):
		return "memory_limit"
	case errors.Is(err, wasm.ErrInstanceLost):
		return "instance_lost"
	case errors.Is(err, wasm.ErrPluginRejected):
		return "rejected"
	}
	return "other"
}

// scrapeCollector reads pool sizes, plugin-defined metrics and log drops
// at scrape time.
type scrapeCollector struct{ src Sources }

var (
	poolDesc      = prometheus.NewDesc("wasmgate_plugin_instances", "Instances in a plugin's pool, by state: live, retiring, pending.", []string{"plugin", "digest", "state"}, nil)
	createdDesc   = prometheus.NewDesc("wasmgate_plugin_instances_created_total", "Instances created for a plugin's pool.", []string{"plugin", "digest"}, nil)
	discardedDesc = prometheus.NewDesc("wasmgate_plugin_instances_discarded_total", "Instances discarded after a failure (trap, deadline, memory limit).", []string{"plugin", "digest"}, nil)
	droppedDesc   = prometheus.NewDesc("wasmgate_log_lines_dropped_total", "Log lines dropped because a destination could not keep up.", []string{"destination"}, nil)
)

// Describe sends nothing: the collector is unchecked (plugin-defined
// metrics are only known at scrape time).
func (c *scrapeCollector) Describe(chan<- *prometheus.Desc) {}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Plugins != nil {
		type key struct{ name, digest string }
		sums := map[key]wasm.PoolStats{}
		var order []key
		for _, p := range c.src.Plugins() {
			info := p.Info()
			k := key{info.Name, shortDigest(info.Digest)}
			st := p.Stats()
			s, seen := sums[k]
			if !seen {
				order = append(order, k)
			}
			s.Live += st.Live
			s.Retiring += st.Retiring
			s.Pending += st.Pending
			s.Created += st.Created
			s.Discarded += st.Discarded
			sums[k] = s
		}
		for _, k := range order {
			s := sums[k]
			ch <- prometheus.MustNewConstMetric(poolDesc, prometheus.GaugeValue, float64(s.Live), k.name, k.digest, "live")
			ch <- prometheus.MustNewConstMetric(poolDesc, prometheus.GaugeValue, float64(s.Retiring), k.name, k.digest, "retiring")
			ch <- prometheus.MustNewConstMetric(poolDesc, prometheus.GaugeValue, float64(s.Pending), k.name, k.digest, "pending")
			ch <- prometheus.MustNewConstMetric(createdDesc, prometheus.CounterValue, float64(s.Created), k.name, k.digest)
			ch <- prometheus.MustNewConstMetric(discardedDesc, prometheus.CounterValue, float64(s.Discarded), k.name, k.digest)
		}
	}
	if c.src.PluginMetrics != nil {
		seen := map[string]bool{}
		for _, pm := range c.src.PluginMetrics() {
			name := PluginMetricName(pm.Plugin, pm.Name)
			if seen[name] {
				continue // two metrics with one Prometheus name: keep the first
			}
			seen[name] = true
			help := "Defined by plugin " + pm.Plugin + " as " + pm.Name + "."
			desc := prometheus.NewDesc(name, help, nil, nil)
			var m prometheus.Metric
			var err error
			switch pm.Type {
			case abi.MetricCounter:
				m, err = prometheus.NewConstMetric(desc, prometheus.CounterValue, float64(pm.Value))
			case abi.MetricGauge:
				m, err = prometheus.NewConstMetric(desc, prometheus.GaugeValue, float64(pm.Value))
			default:
				m, err = prometheus.NewConstHistogram(desc, pm.Count, float64(pm.Sum), nil)
			}
			if err == nil {
				ch <- m
			}
		}
	}
	if c.src.Writers != nil {
		for _, w := range c.src.Writers() {
			ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(w.Dropped()), w.Name())
		}
	}
}

// PluginMetricName is the Prometheus name of a metric a plugin defined:
// wasmgate_plugin_<plugin>_<metric>, with characters Prometheus does not
// allow replaced by '_'.
func PluginMetricName(plugin, metric string) string {
	var b strings.Builder
	b.WriteString("wasmgate_plugin_")
	sanitize(&b, plugin)
	b.WriteByte('_')
	sanitize(&b, metric)
	return b.String()
}

func sanitize(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
