package sdk

import "github.com/wasmgate/wasmgate/abi"

// Metrics are defined by name, usually in OnPluginStart; defining the same
// name again (another instance of the plugin) returns the same metric.

// Counter is a monotonically increasing metric.
type Counter struct{ id uint32 }

// Gauge is a metric that goes up and down.
type Gauge struct{ id uint32 }

// Histogram records a distribution of values.
type Histogram struct{ id uint32 }

func defineMetric(t abi.MetricType, name string) (uint32, error) {
	st := proxyDefineMetric(uint32(t), name, &retExtra)
	if err := statusErr(abi.FuncDefineMetric, st); err != nil {
		return 0, err
	}
	return retExtra, nil
}

func metricValue(id uint32) (uint64, error) {
	if err := statusErr(abi.FuncGetMetric, proxyGetMetric(id, &retU64)); err != nil {
		return 0, err
	}
	return retU64, nil
}

// DefineCounterMetric defines (or looks up) a counter.
func DefineCounterMetric(name string) (Counter, error) {
	id, err := defineMetric(abi.MetricCounter, name)
	return Counter{id}, err
}

// Increment adds delta to the counter.
func (c Counter) Increment(delta uint64) error {
	if st := proxyIncrementMetric(c.id, int64(delta)); st != uint32(abi.StatusOK) {
		return incrementMetricErrors[min(st, lastStatus)]
	}
	return nil
}

// Value returns the counter's current value.
func (c Counter) Value() (uint64, error) { return metricValue(c.id) }

// DefineGaugeMetric defines (or looks up) a gauge.
func DefineGaugeMetric(name string) (Gauge, error) {
	id, err := defineMetric(abi.MetricGauge, name)
	return Gauge{id}, err
}

// Add adds delta (which may be negative) to the gauge.
func (g Gauge) Add(delta int64) error {
	return statusErr(abi.FuncIncrementMetric, proxyIncrementMetric(g.id, delta))
}

// Record sets the gauge to value.
func (g Gauge) Record(value uint64) error {
	return statusErr(abi.FuncRecordMetric, proxyRecordMetric(g.id, value))
}

// Value returns the gauge's current value.
func (g Gauge) Value() (uint64, error) { return metricValue(g.id) }

// DefineHistogramMetric defines (or looks up) a histogram.
func DefineHistogramMetric(name string) (Histogram, error) {
	id, err := defineMetric(abi.MetricHistogram, name)
	return Histogram{id}, err
}

// Record adds an observation to the histogram.
func (h Histogram) Record(value uint64) error {
	return statusErr(abi.FuncRecordMetric, proxyRecordMetric(h.id, value))
}
