package gateway

import (
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// ThrottleSetting is a stage's throttle (TableStage.Throttle), API
// Gateway's stage-level default method throttling: one token bucket of
// Rate requests per second and Burst for all the stage's requests, kept
// by Options.Policies (so shared by a cluster with Redis). A request over
// it gets 429 before routing work or plugins. Per-client and per-key
// limits are the rate-limit and api-key plugins' job.
type ThrottleSetting struct {
	Rate  float64
	Burst int // 0: ceil(Rate)
}

// stageThrottles is the served table's throttle settings by stage name,
// and the stages that require a client certificate.
type stageThrottles struct {
	m    atomic.Pointer[map[string]ThrottleSetting]
	mtls atomic.Pointer[map[string]bool]
	// lastErr is when a store failure was last logged (Unix ns).
	lastErr atomic.Int64
}

func (s *stageThrottles) configure(t *Table) {
	var m map[string]ThrottleSetting
	var mtls map[string]bool
	for _, st := range t.stages {
		if st.RequireClientCert {
			if mtls == nil {
				mtls = map[string]bool{}
			}
			mtls[st.Name] = true
		}
		if st.Throttle != nil {
			if m == nil {
				m = map[string]ThrottleSetting{}
			}
			m[st.Name] = *st.Throttle
		}
	}
	if mtls == nil {
		s.mtls.Store(nil)
	} else {
		s.mtls.Store(&mtls)
	}
	if m == nil {
		s.m.Store(nil)
		return
	}
	s.m.Store(&m)
}

// admitStage applies the stage's client certificate requirement (403) and
// throttle (429): false when the request was answered. A failing store (Redis down) lets requests through,
// logged once per 10 s: the stage throttle protects the backends, it must
// not take the API down with the store.
func (g *Gateway) admitStage(w http.ResponseWriter, rc *reqCtx) bool {
	if req := g.throttles.mtls.Load(); req != nil && (*req)[rc.stage.name] {
		if r := rc.r; r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			g.writeErr(w, rc, http.StatusForbidden, "Forbidden: this stage requires a client certificate (mutual TLS)")
			return false
		}
	}
	m := g.throttles.m.Load()
	if m == nil || g.opts.Policies == nil || g.opts.Policies.Limiter == nil {
		return true
	}
	set, ok := (*m)[rc.stage.name]
	if !ok {
		return true
	}
	burst := set.Burst
	if burst <= 0 {
		burst = int(math.Max(1, math.Ceil(set.Rate)))
	}
	key := "stage-throttle:" + rc.stage.name + ":" + strconv.FormatFloat(set.Rate, 'g', -1, 64) + ":" + strconv.Itoa(burst)
	d, err := g.opts.Policies.Limiter.Take(rc.r.Context(), key, set.Rate, burst, 1)
	if err != nil {
		now := time.Now().UnixNano()
		if last := g.throttles.lastErr.Load(); now-last >= int64(10*time.Second) && g.throttles.lastErr.CompareAndSwap(last, now) {
			g.logError(rc.id, "stage "+rc.stage.name+" throttle: the token store failed ("+err.Error()+"); letting requests through until it answers")
		}
		return true
	}
	if d.Allowed {
		return true
	}
	secs := int64(math.Ceil(d.RetryAfter.Seconds()))
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	g.writeErr(w, rc, http.StatusTooManyRequests, "Too Many Requests")
	return false
}
