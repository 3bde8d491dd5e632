package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/observe"
	"github.com/wasmgate/wasmgate/host/pipeline"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// A request's observability: the gateway wraps the response writer to
// learn the status and length, times the integration and the plugins
// (reqCtx implements pipeline.Observer), and when the response is written
// records metrics, the access log line and, for sampled requests, the
// capture (finish).

// obsState is a request's observability state, part of reqCtx (no
// allocation of its own).
type obsState struct {
	on         bool
	o          *observe.Observer
	stage      *observe.Stage
	rw         statusWriter
	x          *pipeline.Exchange
	integStart time.Time
	integ      time.Duration // -1: not called
	errMsg     string
	localCode  int // status of a plugin's local response
	timings    []observe.PluginTiming
	timingBuf  [6]observe.PluginTiming
	rec        observe.Record
	capReq     *captureBody
}

// routeCache keeps an operation's metrics series for the last stage that
// used it (a table's snapshots serve one stage each).
type routeCache struct {
	stage string
	m     *observe.RouteMetrics
}

// startObserve sets up a request's observability; it returns the
// response writer the request must use.
func (g *Gateway) startObserve(rc *reqCtx, w http.ResponseWriter) http.ResponseWriter {
	o := g.opts.Observe
	if o == nil {
		return w
	}
	rc.obs.on = true
	rc.obs.o = o
	rc.obs.integ = -1
	rc.obs.rw.ResponseWriter = w
	return &rc.obs.rw
}

// observeStage resolves the request's stage settings once the stage is
// known; sampled requests start capturing their bodies.
func (g *Gateway) observeStage(rc *reqCtx) {
	if !rc.obs.on {
		return
	}
	rc.obs.stage = g.opts.Observe.Stage(rc.stage.name)
	if ok, max := rc.obs.stage.Capture(); ok {
		rc.obs.rw.capMax = max
		// ServeHTTP puts it around the request body (inside the size
		// limit).
		rc.obs.capReq = &captureBody{max: max}
	}
}

// callIntegration calls the operation's integration, timing it.
func (g *Gateway) callIntegration(op *operation, rc *reqCtx, out *http.Request) (*http.Response, error) {
	if !rc.obs.on {
		return op.integ.call(out.Context(), rc, out)
	}
	t0 := time.Now()
	resp, err := op.integ.call(out.Context(), rc, out)
	if _, answered := op.integ.(answered); !answered {
		rc.obs.integ = time.Since(t0)
	}
	return resp, err
}

// startChain starts the operation's plugins, reporting to rc when the
// request is observed.
func (rc *reqCtx) startChain(ctx context.Context, op *operation) (*pipeline.Exchange, error) {
	r := rc.r
	rc.fieldsPath = r.URL.RequestURI()
	rc.forwarded = requestFields(&rc.reqFields, r, rc.scheme, rc.fieldsPath)
	if !rc.obs.on {
		return op.chain.Start(ctx, rc, &rc.reqFields)
	}
	if n := op.chain.Len(); n <= len(rc.obs.timingBuf) {
		rc.obs.timings = rc.obs.timingBuf[:n]
	} else {
		rc.obs.timings = make([]observe.PluginTiming, n)
	}
	x, err := op.chain.StartObserved(ctx, rc, &rc.reqFields, rc)
	if err != nil {
		rc.startFailed(err)
		return nil, err
	}
	rc.obs.x = x
	return x, nil
}

// PluginCall implements pipeline.Observer.
func (rc *reqCtx) PluginCall(c pipeline.Call) {
	if c.Step < len(rc.obs.timings) {
		t := &rc.obs.timings[c.Step]
		t.Name = c.Plugin.Info().Name
		t.Calls++
		t.Duration += c.Duration
	}
	if c.Err != nil {
		rc.obs.pluginFailed(rc, c.Plugin, c.Err)
	}
	st := rc.obs.stage
	if st.ExecLevel() == observe.ExecOff || (st.ExecLevel() == observe.ExecError && c.Err == nil) {
		return
	}
	info := c.Plugin.Info()
	st.LogCall(&observe.PluginCall{
		RequestID: rc.id, Stage: rc.stage.name, Plugin: info.Name, Digest: info.Digest,
		Phase: string(c.Phase), Verdict: string(c.Verdict), Duration: c.Duration, Err: c.Err,
	})
}

func (o *obsState) pluginFailed(rc *reqCtx, p *wasm.Plugin, err error) {
	rc.gwMetrics().Plugin(rc.stage.name, p.Info().Name).Failed(err)
}

// startFailed records a plugin that failed before the request's exchange
// existed (its stream context could not be created: a trap in
// on_context_create).
func (rc *reqCtx) startFailed(err error) {
	var se *pipeline.StepError
	if !rc.obs.on || !errors.As(err, &se) {
		return
	}
	rc.gwMetrics().Plugin(rc.stage.name, se.Plugin).Failed(err)
	var ce *wasm.CallError
	digest := ""
	if errors.As(err, &ce) {
		digest = ce.Digest
	}
	rc.obs.stage.LogCall(&observe.PluginCall{
		RequestID: rc.id, Stage: rc.stage.name, Plugin: se.Plugin, Digest: digest,
		Phase: "context_create", Verdict: string(pipeline.VerdictError), Err: err,
	})
}

// PluginLog implements pipeline.Observer.
func (rc *reqCtx) PluginLog(step int, p *wasm.Plugin, level abi.LogLevel, msg string) {
	st := rc.obs.stage
	if st == nil || st.ExecLevel() == observe.ExecOff {
		return
	}
	info := p.Info()
	st.LogPlugin(rc.id, rc.stage.name, info.Name, info.Digest, level.String(), msg)
}

func (rc *reqCtx) gwMetrics() *observe.Metrics { return rc.obs.o.Metrics() }

// execError writes a gateway-side failure to the stage's execution log.
func (rc *reqCtx) execError(msg string) {
	if rc.obs.stage != nil {
		rc.obs.stage.LogError(rc.id, rc.stage.name, msg)
	}
}

// finish records the request: metrics, access log line, capture.
func (g *Gateway) finish(rc *reqCtx) {
	if !rc.obs.on {
		return
	}
	o := g.opts.Observe
	end := time.Now()
	stageName, route := observe.NoStage, observe.UnknownRoute
	if rc.stage != nil {
		stageName = rc.stage.name
	}
	st := rc.obs.stage
	if st == nil {
		st = o.Stage(stageName)
	}
	var rm *observe.RouteMetrics
	if rc.route != nil {
		route = rc.route.Template
		op := rc.route.Data.(*operation)
		if c := op.metrics.Load(); c != nil && c.stage == stageName {
			rm = c.m
		} else {
			rm = o.Metrics().Route(stageName, route)
			op.metrics.Store(&routeCache{stage: stageName, m: rm})
		}
	} else {
		rm = o.Metrics().Route(stageName, route)
	}
	status := rc.obs.rw.status
	if status == 0 {
		status = http.StatusOK
	}
	var cacheStatus, keyID string
	if x := rc.obs.x; x != nil {
		cacheStatus = x.CacheStatus()
		if v, ok := x.SetPropertyValue(abi.PropAPIKeyID); ok {
			keyID = string(v)
		}
	}
	latency := end.Sub(rc.start)
	rm.Observe(status, latency, rc.obs.integ, cacheStatus, rc.obs.localCode == http.StatusTooManyRequests)
	for _, t := range rc.obs.timings {
		if t.Calls > 0 {
			o.Metrics().Plugin(stageName, t.Name).Observe(t.Calls, t.Duration)
		}
	}
	capturing := rc.obs.capReq != nil
	if !st.AccessLog() && !capturing {
		return
	}
	r := rc.r
	rec := &rc.obs.rec
	*rec = observe.Record{
		RequestID: rc.id, UserAgent: r.UserAgent(), Method: r.Method, Path: r.URL.EscapedPath(),
		Protocol: r.Proto, Status: status, ResponseLength: rc.obs.rw.n, Start: rc.start,
		IntegrationLatency: rc.obs.integ, ResponseLatency: latency, Stage: stageName,
		APIKeyID: keyID, CacheStatus: cacheStatus, Error: rc.obs.errMsg, Plugins: rc.obs.timings,
	}
	rec.SourceIP = r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		rec.SourceIP = host
	}
	if rc.route != nil {
		rec.ResourcePath = rc.route.Template
	}
	if rc.snap != nil {
		rec.DeploymentID = rc.snap.ID
	}
	st.LogAccess(rec)
	if capturing {
		st.WriteCapture(&observe.Captured{
			Record: rec, Query: r.URL.RawQuery,
			ReqHeader: r.Header, ReqBody: rc.obs.capReq.buf, ReqTruncated: rc.obs.capReq.over,
			RespHeader: rc.obs.rw.Header(), RespBody: rc.obs.rw.capBuf, RespTruncated: rc.obs.rw.capOver,
		})
	}
}

// statusWriter records the status and length of a response (and, for a
// captured request, the start of its body).
type statusWriter struct {
	http.ResponseWriter
	status  int
	n       int64
	capMax  int
	capBuf  []byte
	capOver bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.capMax > 0 {
		w.capBuf, w.capOver = appendCapped(w.capBuf, p, w.capMax, w.capOver)
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer (Flush).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// captureBody keeps the first max bytes of a request body as it is read.
type captureBody struct {
	io.ReadCloser
	max  int
	buf  []byte
	over bool
}

func (c *captureBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if n > 0 {
		c.buf, c.over = appendCapped(c.buf, p[:n], c.max, c.over)
	}
	return n, err
}

func appendCapped(buf, p []byte, limit int, over bool) ([]byte, bool) {
	if room := limit - len(buf); room < len(p) {
		return append(buf, p[:max(room, 0)]...), true
	}
	return append(buf, p...), over
}
