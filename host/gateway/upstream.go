package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/host/config"
)

// upstreamSet is a snapshot's upstream pools (x-wasmgate-upstreams). Their
// active health checks run from the build until the snapshot closes.
type upstreamSet struct {
	pools map[string]*upstreamPool
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// buildUpstreams makes the pools of api's upstreams and starts their
// health checks. It fails when an operation names an undeclared upstream.
func (g *Gateway) buildUpstreams(api *config.API) (*upstreamSet, error) {
	for _, op := range api.Operations {
		if name := config.UpstreamName(op.Integration.URI); name != "" && api.Upstreams[name] == nil {
			return nil, fmt.Errorf("%s %s: integration uri names upstream[%s], which the document does not declare", op.Method, op.Path, name)
		}
	}
	if len(api.Upstreams) == 0 {
		return nil, nil
	}
	set := &upstreamSet{pools: map[string]*upstreamPool{}, stop: make(chan struct{})}
	for name, cfg := range api.Upstreams {
		p, err := newUpstreamPool(cfg, func(msg string) { g.logError("", msg) })
		if err != nil {
			set.close()
			return nil, err
		}
		set.pools[name] = p
	}
	for _, p := range set.pools {
		p.startHealthChecks(set)
	}
	return set, nil
}

// close stops the health checks and closes idle upstream connections.
// Safe on nil and more than once.
func (s *upstreamSet) close() {
	if s == nil {
		return
	}
	s.once.Do(func() {
		close(s.stop)
		s.wg.Wait()
		for _, p := range s.pools {
			p.transport.CloseIdleConnections()
		}
	})
}

// upstreamPool is one upstream: its targets, balancer, circuit breaker,
// retry budget and transport.
type upstreamPool struct {
	cfg       *config.Upstream
	name      string
	targets   []*upstreamTarget
	transport *http.Transport
	log       func(string)

	hashKind, hashName string // hash balancing: "header", "cookie" or "ip"
	ring               []ringPoint

	mu          sync.Mutex // smooth weighted round robin state
	rrSeq       atomic.Uint64
	outstanding atomic.Int64
	failOpen    atomic.Bool // every target was down at the last pick
	budget      *retryBudget
	retryOn     map[string]bool
	now         func() time.Time
}

type upstreamTarget struct {
	url    *url.URL
	weight int

	healthy     atomic.Bool  // active health checks' verdict
	ejectedTill atomic.Int64 // passive ejection, unix nanoseconds
	fails       atomic.Int32 // consecutive passive failures
	active      atomic.Int64 // requests in flight (least_request)
	current     int          // smooth weighted round robin, under pool.mu
}

type ringPoint struct {
	hash uint64
	t    int // index in targets
}

// vnodesPerWeight is the number of ring points per unit of weight.
const vnodesPerWeight = 40

func newUpstreamPool(cfg *config.Upstream, log func(string)) (*upstreamPool, error) {
	p := &upstreamPool{cfg: cfg, name: cfg.Name, log: log, now: time.Now, retryOn: map[string]bool{}}
	for _, c := range cfg.Retries.On {
		p.retryOn[c] = true
	}
	pct := cfg.Retries.BudgetPercent
	if pct <= 0 {
		pct = config.DefaultRetryBudget
	}
	p.budget = newRetryBudget(pct, time.Now)
	for _, tc := range cfg.Targets {
		u, err := url.Parse(tc.URL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("upstream[%s]: bad target %q", cfg.Name, tc.URL)
		}
		w := tc.Weight
		if w <= 0 {
			w = 1
		}
		t := &upstreamTarget{url: u, weight: w}
		t.healthy.Store(true)
		p.targets = append(p.targets, t)
	}
	if len(p.targets) == 0 {
		return nil, fmt.Errorf("upstream[%s]: no targets", cfg.Name)
	}
	if kind, name, ok := config.HashSource(cfg.Balance); ok {
		p.hashKind, p.hashName = kind, name
		p.ring = buildRing(p.targets)
	}
	tr := NewTransport()
	connect := cfg.ConnectTimeout
	if connect <= 0 {
		connect = 10 * time.Second
	}
	tr.DialContext = (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext
	tr.ResponseHeaderTimeout = cfg.FirstByteTimeout
	tr.MaxConnsPerHost = cfg.MaxConnections
	if cfg.MaxConnections > 0 && tr.MaxIdleConnsPerHost > cfg.MaxConnections {
		tr.MaxIdleConnsPerHost = cfg.MaxConnections
	}
	p.transport = tr
	return p, nil
}

// buildRing places weight×vnodesPerWeight points per target on a hash
// ring. A point's position depends only on its target's URL, so removing
// a target moves only the keys that mapped to it.
func buildRing(targets []*upstreamTarget) []ringPoint {
	var ring []ringPoint
	for i, t := range targets {
		for v := 0; v < t.weight*vnodesPerWeight; v++ {
			ring = append(ring, ringPoint{hash: hashString(t.url.String() + "#" + strconv.Itoa(v)), t: i})
		}
	}
	sort.Slice(ring, func(a, b int) bool { return ring[a].hash < ring[b].hash })
	return ring
}

// hashString is FNV-1a 64 with a final avalanche (splitmix64), so that
// similar keys spread over the ring.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// available reports whether t may get traffic: healthy and not ejected.
func (p *upstreamPool) available(t *upstreamTarget, now int64) bool {
	return t.healthy.Load() && t.ejectedTill.Load() <= now
}

// pick chooses a target for a request with hash key key (hasKey false:
// none), avoiding the targets in tried when another one is available.
// When no target is available it fails open: every target is a
// candidate.
func (p *upstreamPool) pick(key string, hasKey bool, tried []*upstreamTarget) *upstreamTarget {
	now := p.now().UnixNano()
	var buf [16]*upstreamTarget
	cands := buf[:0]
	for _, t := range p.targets {
		if p.available(t, now) {
			cands = append(cands, t)
		}
	}
	if len(cands) == 0 {
		if !p.failOpen.Swap(true) {
			p.log(fmt.Sprintf("upstream[%s]: no healthy target; failing open to all %d targets", p.name, len(p.targets)))
		}
		cands = append(cands, p.targets...)
	} else if p.failOpen.Load() && p.failOpen.Swap(false) {
		p.log(fmt.Sprintf("upstream[%s]: a target is healthy again; no longer failing open", p.name))
	}
	if len(tried) > 0 {
		fresh := cands[:0:0]
		for _, t := range cands {
			if !slices.Contains(tried, t) {
				fresh = append(fresh, t)
			}
		}
		if len(fresh) > 0 {
			cands = fresh
		}
	}
	if len(cands) == 1 {
		return cands[0]
	}
	switch {
	case p.ring != nil && hasKey:
		return p.ringPick(key, cands)
	case p.cfg.Balance == config.BalanceLeastRequest:
		return p.leastRequest(cands)
	}
	return p.roundRobin(cands)
}

// roundRobin is smooth weighted round robin over the candidates: each
// pick adds every candidate's weight to its current value and takes the
// largest, which then gives back the total.
func (p *upstreamPool) roundRobin(cands []*upstreamTarget) *upstreamTarget {
	p.mu.Lock()
	defer p.mu.Unlock()
	total := 0
	var best *upstreamTarget
	for _, t := range cands {
		t.current += t.weight
		total += t.weight
		if best == nil || t.current > best.current {
			best = t
		}
	}
	best.current -= total
	return best
}

// leastRequest takes the candidate with the fewest requests in flight
// per unit of weight; ties rotate.
func (p *upstreamPool) leastRequest(cands []*upstreamTarget) *upstreamTarget {
	off := int(p.rrSeq.Add(1) % uint64(len(cands)))
	var best *upstreamTarget
	var bestLoad float64
	for i := range cands {
		t := cands[(i+off)%len(cands)]
		load := float64(t.active.Load()) / float64(t.weight)
		if best == nil || load < bestLoad {
			best, bestLoad = t, load
		}
	}
	return best
}

// ringPick walks the ring clockwise from the key's hash to the first
// point of a candidate.
func (p *upstreamPool) ringPick(key string, cands []*upstreamTarget) *upstreamTarget {
	h := hashString(key)
	i := sort.Search(len(p.ring), func(i int) bool { return p.ring[i].hash >= h })
	for n := 0; n < len(p.ring); n++ {
		t := p.targets[p.ring[(i+n)%len(p.ring)].t]
		if slices.Contains(cands, t) {
			return t
		}
	}
	return cands[0]
}

// hashKey extracts the request's hash key.
func (p *upstreamPool) hashKey(rc *reqCtx, out *http.Request) (string, bool) {
	switch p.hashKind {
	case "header":
		v := out.Header.Get(p.hashName)
		return v, v != ""
	case "cookie":
		c, err := out.Cookie(p.hashName)
		if err != nil || c.Value == "" {
			return "", false
		}
		return c.Value, true
	case "ip":
		if rc == nil || rc.r == nil {
			return "", false
		}
		host, _, err := net.SplitHostPort(rc.r.RemoteAddr)
		if err != nil {
			host = rc.r.RemoteAddr
		}
		return host, host != ""
	}
	return "", false
}

// passive records a request's outcome for passive ejection.
func (p *upstreamPool) passive(t *upstreamTarget, failed bool) {
	pc := p.cfg.Passive
	if pc == nil {
		return
	}
	if !failed {
		if t.fails.Load() != 0 {
			t.fails.Store(0)
		}
		return
	}
	if int(t.fails.Add(1)) >= pc.ConsecutiveFailures {
		t.fails.Store(0)
		t.ejectedTill.Store(p.now().Add(pc.Ejection).UnixNano())
		p.log(fmt.Sprintf("upstream[%s]: target %s ejected for %s after %d consecutive failures", p.name, t.url, pc.Ejection, pc.ConsecutiveFailures))
	}
}

// idempotent methods may be retried.
func idempotent(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// isConnectFailure: the connection could not be made, so nothing was
// sent.
func isConnectFailure(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// call sends out (whose URL is upstream://NAME/path?query) to a target of
// the pool, retrying as configured. The response's body, when closed,
// ends the request's share of the circuit breaker.
func (p *upstreamPool) call(ctx context.Context, rc *reqCtx, out *http.Request) (*http.Response, error) {
	if max := int64(p.cfg.MaxRequests); max > 0 {
		if p.outstanding.Add(1) > max {
			p.outstanding.Add(-1)
			return nil, &upstreamError{status: http.StatusServiceUnavailable, msg: fmt.Sprintf("Service Unavailable: upstream %s is at its limit of %d requests", p.name, max)}
		}
	} else {
		p.outstanding.Add(1)
	}
	p.budget.request()
	replayable := out.Body == nil || out.Body == http.NoBody || out.GetBody != nil
	attempts := 0
	if replayable && idempotent(out.Method) {
		attempts = p.cfg.Retries.Attempts
	}
	key, hasKey := p.hashKey(rc, out)
	var tried []*upstreamTarget
	for try := 0; ; try++ {
		t := p.pick(key, hasKey, tried)
		req := out.WithContext(ctx)
		u := *out.URL
		u.Scheme, u.Host = t.url.Scheme, t.url.Host
		req.URL, req.Host = &u, t.url.Host
		if try > 0 && out.Body != nil && out.Body != http.NoBody {
			b, err := out.GetBody()
			if err != nil {
				p.outstanding.Add(-1)
				return nil, err
			}
			req.Body = b
		}
		t.active.Add(1)
		resp, err := p.transport.RoundTrip(req)
		if err != nil {
			t.active.Add(-1)
			if ctx.Err() == nil {
				p.passive(t, true)
			}
			if try < attempts && ctx.Err() == nil && isConnectFailure(err) && p.retryOn[config.RetryConnectFailure] && p.budget.allowRetry() {
				tried = append(tried, t)
				continue
			}
			p.outstanding.Add(-1)
			return nil, classifyPoolError(ctx, err)
		}
		p.passive(t, resp.StatusCode >= 500)
		if try < attempts && p.retryOn[strconv.Itoa(resp.StatusCode)] && p.budget.allowRetry() {
			_, _ = io.CopyN(io.Discard, resp.Body, 64<<10) // lets the connection be reused
			resp.Body.Close()
			t.active.Add(-1)
			tried = append(tried, t)
			continue
		}
		resp.Body = trackBody(resp.Body, func() {
			t.active.Add(-1)
			p.outstanding.Add(-1)
		})
		return resp, nil
	}
}

// classifyPoolError maps a transport error to a gateway response: a
// first-byte timeout is a 504 like the integration timeout.
func classifyPoolError(ctx context.Context, err error) error {
	var ne net.Error
	if !isConnectFailure(err) && errors.As(err, &ne) && ne.Timeout() {
		return &upstreamError{status: http.StatusGatewayTimeout, msg: "Endpoint request timed out"}
	}
	return classifyUpstream(ctx, err)
}

// trackBody calls done once when the body is closed. A switched
// protocol's body (a WebSocket) stays writable.
func trackBody(b io.ReadCloser, done func()) io.ReadCloser {
	tb := &trackedBody{ReadCloser: b, done: done}
	if w, ok := b.(io.Writer); ok {
		return &trackedRWBody{trackedBody: tb, w: w}
	}
	return tb
}

type trackedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *trackedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}

type trackedRWBody struct {
	*trackedBody
	w io.Writer
}

func (b *trackedRWBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// retryBudget caps retries at a share of requests, over a sliding window
// of two periods; a few retries are always allowed so that a quiet
// upstream can still retry.
type retryBudget struct {
	mu                    sync.Mutex
	pct                   int64
	now                   func() time.Time
	start                 time.Time
	reqs, retries         int64 // current period
	prevReqs, prevRetries int64 // previous period
	minRetries            int64
	period                time.Duration
}

func newRetryBudget(pct int, now func() time.Time) *retryBudget {
	return &retryBudget{pct: int64(pct), now: now, start: now(), minRetries: 3, period: 10 * time.Second}
}

func (b *retryBudget) roll() {
	now := b.now()
	switch el := now.Sub(b.start); {
	case el >= 2*b.period:
		b.prevReqs, b.prevRetries, b.reqs, b.retries, b.start = 0, 0, 0, 0, now
	case el >= b.period:
		b.prevReqs, b.prevRetries, b.reqs, b.retries = b.reqs, b.retries, 0, 0
		b.start = b.start.Add(b.period)
	}
}

// request counts a request.
func (b *retryBudget) request() {
	b.mu.Lock()
	b.roll()
	b.reqs++
	b.mu.Unlock()
}

// allowRetry reports whether one more retry fits the budget, and counts
// it when it does.
func (b *retryBudget) allowRetry() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.roll()
	reqs, retries := b.reqs+b.prevReqs, b.retries+b.prevRetries
	if retries >= b.minRetries && (retries+1)*100 > reqs*b.pct {
		return false
	}
	b.retries++
	return true
}

// startHealthChecks runs one checker goroutine per target until set
// closes.
func (p *upstreamPool) startHealthChecks(set *upstreamSet) {
	hc := p.cfg.HealthCheck
	if hc == nil {
		return
	}
	client := &http.Client{
		Transport: &http.Transport{
			DialContext:       (&net.Dialer{Timeout: hc.Timeout}).DialContext,
			DisableKeepAlives: true,
		},
		Timeout: hc.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	for _, t := range p.targets {
		set.wg.Add(1)
		go func() {
			defer set.wg.Done()
			p.checkLoop(set.stop, client, t)
		}()
	}
}

func (p *upstreamPool) checkLoop(stop <-chan struct{}, client *http.Client, t *upstreamTarget) {
	hc := p.cfg.HealthCheck
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	jitter := func(d time.Duration) time.Duration {
		// ±10%, so that the checks of many gateways and targets spread.
		return d - d/10 + rand.N(d/5+1)
	}
	timer := time.NewTimer(rand.N(hc.Interval/2 + 1)) // the first check soon, staggered
	defer timer.Stop()
	target := t.url.String() + hc.Path
	var ok, bad int
	for {
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		pass := p.check(ctx, client, target)
		if ctx.Err() != nil {
			return
		}
		if pass {
			ok, bad = ok+1, 0
			if !t.healthy.Load() && ok >= hc.HealthyThreshold {
				t.healthy.Store(true)
				p.log(fmt.Sprintf("upstream[%s]: target %s is healthy again", p.name, t.url))
			}
		} else {
			ok, bad = 0, bad+1
			if t.healthy.Load() && bad >= hc.UnhealthyThreshold {
				t.healthy.Store(false)
				p.log(fmt.Sprintf("upstream[%s]: target %s is unhealthy after %d failed health checks", p.name, t.url, bad))
			}
		}
		timer.Reset(jitter(hc.Interval))
	}
}

func (p *upstreamPool) check(ctx context.Context, client *http.Client, target string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return false
	}
	req.Header.Set("User-Agent", "wasmgate-health-check")
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	resp.Body.Close()
	return p.cfg.HealthCheck.MatchStatus(resp.StatusCode)
}

// callPool sends an http_proxy request whose URI rendered to
// upstream://NAME/path to that upstream's pool.
func (h *httpProxy) callPool(ctx context.Context, rc *reqCtx, out *http.Request, u *url.URL) (*http.Response, error) {
	var p *upstreamPool
	if rc != nil && rc.snap != nil && rc.snap.upstreams != nil {
		p = rc.snap.upstreams.pools[u.Host]
	}
	if p == nil {
		return nil, &upstreamError{status: http.StatusInternalServerError, msg: fmt.Sprintf("upstream %s is not declared", u.Host)}
	}
	out.URL = u
	if h.method != "" {
		out.Method = h.method
	}
	return p.call(ctx, rc, out)
}

// replayBody returns a GetBody for a buffered request body (one the
// pipeline read into memory), so that it can be sent again; nil for a
// streamed one.
func replayBody(body io.Reader) func() (io.ReadCloser, error) {
	br, ok := body.(*bytes.Reader)
	if !ok {
		return nil
	}
	n := br.Size()
	return func() (io.ReadCloser, error) { return io.NopCloser(io.NewSectionReader(br, 0, n)), nil }
}
