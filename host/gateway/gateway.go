package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/observe"
	"github.com/wasmgate/wasmgate/host/pipeline"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// Options configure a Gateway.
type Options struct {
	Engine  *wasm.Engine
	Plugins PluginSource
	// Services backs "service" integrations; nil rejects them at build.
	Services ServiceStore
	// MaxBodyBytes caps request bodies (default 10 MiB → 413).
	MaxBodyBytes int64
	// MaxResponseBuffer caps a response body buffered for plugins that
	// handle response bodies (default 10 MiB → 502).
	MaxResponseBuffer int64
	// PluginCallTimeout bounds each call into a pipeline plugin (default
	// host/wasm's 100ms): a plugin that runs longer fails its request.
	// Plugins that implement an integration (function, mock, transform)
	// get the integration's timeout instead.
	PluginCallTimeout time.Duration
	// PoolMin and PoolMax size every plugin's instance pool (defaults
	// from host/wasm).
	PoolMin, PoolMax int
	// Transport sends upstream requests; nil uses a tuned keep-alive
	// transport.
	Transport http.RoundTripper
	// Policies backs the plugins' token buckets and quotas (host/policy:
	// in memory, or Redis for a cluster); nil answers those calls
	// UNIMPLEMENTED.
	Policies *Policies
	// Caches holds the stages' response caches for the plugins'
	// cache_lookup, cache_store and cache_invalidate calls; nil answers
	// them UNIMPLEMENTED (no cache).
	Caches *Caches
	// APIKeys backs the plugins' api_key_verify calls (host/apikeys);
	// nil answers them UNIMPLEMENTED.
	APIKeys pipeline.APIKeys
	// TrustedProxies are the peers (load balancers, CDNs) whose
	// X-Forwarded-*, Forwarded and Via headers are kept and extended; from
	// any other client they are replaced. See ParseTrustedProxies.
	TrustedProxies []netip.Prefix
	// DeploymentHeader adds X-Wasmgate-Deployment (the id of the
	// deployment that served the request) to every response: for canary
	// checks and debugging; it tells clients which version they hit.
	DeploymentHeader bool
	// ErrorLog receives gateway-side failures (plugin errors, upstream
	// errors) with the request id. Nil discards.
	ErrorLog func(reqID, msg string)
	// Observe records metrics, access logs, execution logs and captures
	// (host/observe); nil records nothing. SwapTable configures its
	// stages from TableStage.Observe.
	Observe *observe.Observer
	// TrustRequestID keeps a request's X-Request-Id when the client sends
	// a well-formed one (up to 128 characters: letters, digits, '-', '_',
	// '.', ':'), for a gateway behind a proxy that assigns ids. Off, the
	// gateway assigns every id; either way the id is sent upstream and
	// back in X-Request-Id.
	TrustRequestID bool
}

// Gateway is the HTTP data plane. It serves the current Snapshot; Swap
// replaces it atomically.
type Gateway struct {
	opts      Options
	table     atomic.Pointer[Table]
	pools     pluginPools
	throttles stageThrottles
	transport http.RoundTripper
	h2c       http.RoundTripper // h2c:// integrations (cleartext HTTP/2)
	idPrefix  string
	idSeq     atomic.Uint64
}

// New returns a gateway with no deployment (every request gets 404 until
// Swap).
func New(opts Options) *Gateway {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 10 << 20
	}
	if opts.MaxResponseBuffer <= 0 {
		opts.MaxResponseBuffer = 10 << 20
	}
	g := &Gateway{opts: opts, transport: opts.Transport}
	if g.transport == nil {
		g.transport = NewTransport()
	}
	h2c := NewTransport()
	h2c.Protocols = new(http.Protocols)
	h2c.Protocols.SetUnencryptedHTTP2(true)
	g.h2c = h2c
	var b [6]byte
	_, _ = rand.Read(b[:])
	g.idPrefix = hex.EncodeToString(b[:])
	return g
}

// NewTransport returns the tuned upstream transport: large keep-alive
// pools, HTTP/2 when the backend offers it over TLS, no transparent
// decompression (bodies pass through as sent).
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2048,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
}

// Swap serves snapshot s, selecting among the stages it was built with,
// and returns the snapshot Swap installed before (nil at first, or when a
// table was installed since). The caller retires the old snapshot;
// requests in flight on it finish there. Swap(nil) serves nothing.
func (g *Gateway) Swap(s *Snapshot) *Snapshot {
	var t *Table
	if s != nil {
		t = &Table{doc: s}
	}
	if old := g.table.Swap(t); old != nil {
		return old.doc
	}
	return nil
}

// SwapTable serves t (nil: nothing) and returns the previous table. The
// caller retires the snapshots t no longer uses.
func (g *Gateway) SwapTable(t *Table) *Table {
	if t != nil {
		g.throttles.configure(t)
	}
	if t != nil && g.opts.Caches != nil {
		settings := map[string]CacheSetting{}
		for _, s := range t.stages {
			if s.Cache != nil {
				settings[s.Name] = *s.Cache
			}
		}
		g.opts.Caches.Configure(settings)
	}
	if t != nil && g.opts.Observe != nil {
		settings := map[string]observe.StageSettings{}
		for _, s := range t.stages {
			if s.Observe != nil {
				settings[s.Name] = *s.Observe
			}
		}
		if err := g.opts.Observe.Configure(settings); err != nil {
			g.logError("", "logs: "+err.Error())
		}
	}
	return g.table.Swap(t)
}

// Table returns the served table (nil when nothing is served).
func (g *Gateway) Table() *Table { return g.table.Load() }

// Current returns the snapshot installed by Swap, or nil.
func (g *Gateway) Current() *Snapshot {
	if t := g.table.Load(); t != nil {
		return t.doc
	}
	return nil
}

// LivePools returns how many plugin instance pools are open, shared
// between snapshots (for tests and metrics).
func (g *Gateway) LivePools() int { return g.pools.live() }

// acquire finds the snapshot and stage serving r and takes a request
// reference on the snapshot. A snapshot retired between loading the table
// and acquiring it is skipped by loading the table again.
func (g *Gateway) acquire(r *http.Request) (*Snapshot, *stage, string, error) {
	path := r.URL.EscapedPath()
	for i := 0; i < 8; i++ {
		t := g.table.Load()
		if t == nil {
			return nil, nil, "", errNoDeployment
		}
		if t.doc != nil {
			if !t.doc.acquire() {
				continue
			}
			st, rest := t.doc.selectStage(r.Host, path)
			if st == nil {
				t.doc.release()
				return nil, nil, "", errNoStage
			}
			return t.doc, st, rest, nil
		}
		ts, rest := t.selectStage(r.Host, path)
		if ts == nil {
			return nil, nil, "", errNoStage
		}
		s := ts.pick(r)
		if !s.acquire() {
			continue
		}
		return s, s.stages[0], rest, nil
	}
	return nil, nil, "", errNoDeployment
}

var (
	errNoDeployment = errors.New("No deployment is active")
	errNoStage      = errors.New("no stage serves this path")
)

func (g *Gateway) requestID() string {
	n := g.idSeq.Add(1)
	var b [32]byte
	out := append(b[:0], g.idPrefix...)
	out = append(out, '-')
	out = strconv.AppendUint(out, n, 16)
	return string(out)
}

func (g *Gateway) logError(reqID, msg string) {
	if g.opts.ErrorLog != nil {
		g.opts.ErrorLog(reqID, msg)
	}
}

// failure logs a request's gateway-side failure, also to its stage's
// execution log.
func (g *Gateway) failure(rc *reqCtx, msg string) {
	g.logError(rc.id, msg)
	rc.execError(msg)
}

// writeErr writes a gateway response and remembers its message for the
// access log.
func (g *Gateway) writeErr(w http.ResponseWriter, rc *reqCtx, status int, msg string) {
	if rc.obs.errMsg == "" {
		rc.obs.errMsg = msg
	}
	g.writeGatewayError(w, rc, status, msg) // as the API's gateway responses customize it (responses.go)
}

// trustedID reports whether a client-supplied request id may be kept.
func trustedID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// reqCtx is one request's gateway state; it answers the plugins'
// properties.
type reqCtx struct {
	r        *http.Request
	id       string
	start    time.Time
	snap     *Snapshot
	stage    *stage
	route    *Route
	params   []Param
	paramBuf [4]Param
	scheme   string
	// fieldsPath is the :path the plugins were given (pipelineRequest
	// parses it again only when they changed it).
	fieldsPath string
	caches     *Caches
	obs        obsState
	auth       *authDecision // the custom authorizer's answer (authorizer.go)
	// The plugins' view of the request and response headers (a request
	// with plugins only), kept here to save their allocations.
	reqFields, respFields wasm.Fields
	// forwarded: the client sent forwarding headers (requestFields).
	forwarded bool
}

func (rc *reqCtx) param(name string) string {
	for _, p := range rc.params {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

func (rc *reqCtx) isGreedy(name string) bool {
	t := rc.route.Template
	return strings.Contains(t, "{"+name+"+}")
}

// Property implements pipeline.Props.
func (rc *reqCtx) Property(path string) ([]byte, bool) {
	r := rc.r
	switch path {
	case abi.PropRequestPath:
		return []byte(r.URL.RequestURI()), true
	case abi.PropRequestURLPath:
		return []byte(r.URL.Path), true
	case abi.PropRequestHost:
		return []byte(r.Host), true
	case abi.PropRequestScheme:
		return []byte(rc.scheme), true
	case abi.PropRequestMethod:
		return []byte(r.Method), true
	case abi.PropRequestQuery:
		return []byte(r.URL.RawQuery), true
	case abi.PropRequestProtocol:
		return []byte(r.Proto), true
	case abi.PropRequestID:
		return []byte(rc.id), true
	case abi.PropRequestTime:
		return abi.EncodeInt64(rc.start.UnixNano()), true
	case abi.PropRequestUA:
		return []byte(r.UserAgent()), true
	case abi.PropRequestReferer:
		return []byte(r.Referer()), true
	case abi.PropRequestSize:
		if r.ContentLength >= 0 {
			return abi.EncodeInt64(r.ContentLength), true
		}
		return nil, false
	case abi.PropSourceAddress:
		return []byte(r.RemoteAddr), true
	case abi.PropSourcePort:
		if _, p, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			n, _ := strconv.Atoi(p)
			return abi.EncodeInt64(int64(n)), true
		}
		return nil, false
	case abi.PropDestinationAddress:
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			return []byte(a.String()), true
		}
		return nil, false
	case abi.PropConnectionMTLS:
		return abi.EncodeBool(r.TLS != nil && len(r.TLS.VerifiedChains) > 0), true
	case abi.PropConnectionTLSVersion:
		if r.TLS == nil {
			return nil, false
		}
		return []byte(tlsVersionName(r.TLS.Version)), true
	case abi.PropConnectionSNI:
		if r.TLS == nil {
			return nil, false
		}
		return []byte(r.TLS.ServerName), true
	case abi.PropConnectionPeerSubject:
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			return nil, false
		}
		return []byte(r.TLS.VerifiedChains[0][0].Subject.String()), true
	case abi.PropStage:
		return []byte(rc.stage.name), true
	case abi.PropDeployment:
		return []byte(rc.snap.ID), true
	case abi.PropRouteTemplate:
		return []byte(rc.route.Template), true
	case abi.PropOperationSchema:
		// Built once per document (config.Operation.Schema); the host
		// copies it into the plugin's memory, never changes it.
		if o, ok := rc.route.Data.(*operation); ok && o.op.Schema != nil {
			return o.op.Schema, true
		}
		return nil, false
	case abi.PropStageVariables:
		// Every variable, as a Proxy-Wasm map (sorted by name).
		return abi.AppendMap(nil, sortedPairs(rc.stage.vars)), true
	case abi.PropRouteParams:
		pairs := make([][2]string, len(rc.params))
		for i, p := range rc.params {
			pairs[i] = [2]string{p.Name, p.Value}
		}
		return abi.AppendMap(nil, pairs), true
	}
	if name, ok := strings.CutPrefix(path, abi.PropRouteParams+"."); ok {
		for _, p := range rc.params {
			if p.Name == name {
				return []byte(p.Value), true
			}
		}
		return nil, false
	}
	if name, ok := strings.CutPrefix(path, abi.PropStageVariables+"."); ok {
		v, ok := rc.stage.vars[name]
		return []byte(v), ok
	}
	if strings.HasPrefix(path, abi.PropAuthorizer) {
		return rc.authorizerProperty(path)
	}
	if name, ok := strings.CutPrefix(path, "request.headers."); ok {
		if v := r.Header.Get(name); v != "" {
			return []byte(v), true
		}
	}
	return nil, false
}

func sortedPairs(m map[string]string) [][2]string {
	pairs := make([][2]string, 0, len(m))
	for k, v := range m {
		pairs = append(pairs, [2]string{k, v})
	}
	slices.SortFunc(pairs, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return pairs
}

// ServeHTTP routes a request and runs its pipeline and integration.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Not pooled: a plugin that holds its stream open past the response
	// (on_done returned false) may still read the request's properties.
	rc := &reqCtx{r: r, start: time.Now(), scheme: "http", caches: g.opts.Caches}
	if r.TLS != nil {
		rc.scheme = "https"
	}
	if g.opts.TrustRequestID && trustedID(r.Header.Get("X-Request-Id")) {
		rc.id = r.Header.Get("X-Request-Id")
	} else {
		rc.id = g.requestID()
	}
	if g.opts.Observe != nil {
		w = g.startObserve(rc, w)
		defer g.finish(rc)
	}

	snap, st, path, err := g.acquire(r)
	if err == errNoStage {
		g.writeErr(w, rc, http.StatusNotFound, "Not Found: no stage serves "+r.URL.Path)
		return
	}
	if err != nil {
		g.writeErr(w, rc, http.StatusNotFound, err.Error())
		return
	}
	defer snap.release()
	rc.snap = snap
	rc.stage = st
	g.observeStage(rc)
	if g.opts.DeploymentHeader {
		w.Header().Set("X-Wasmgate-Deployment", snap.ID)
	}
	route, params, allow := snap.router.Match(r.Method, path, rc.paramBuf[:0])
	if route == nil && allow != "" && r.Method == http.MethodOptions {
		// A CORS preflight for a path without an OPTIONS operation: let
		// the pipeline of one of its operations answer (the cors plugin).
		first, _, _ := strings.Cut(allow, ", ")
		if rt, ps, _ := snap.router.Match(first, path, rc.paramBuf[:0]); rt != nil && rt.Data.(*operation).chain != nil {
			rc.route, rc.params = rt, ps
			ctx, cancel := context.WithTimeout(r.Context(), rt.Data.(*operation).integ.timeout())
			defer cancel()
			g.servePreflight(ctx, w, rc, rt.Data.(*operation), allow)
			return
		}
	}
	if route == nil {
		if allow != "" {
			w.Header().Set("Allow", allow)
			g.writeErr(w, rc, http.StatusMethodNotAllowed, "Method Not Allowed")
			return
		}
		g.writeErr(w, rc, http.StatusNotFound, "Not Found")
		return
	}
	rc.route, rc.params = route, params
	op := route.Data.(*operation)
	if !g.admitStage(w, rc) {
		return
	}
	if op.auth != nil && !g.authorize(w, rc, op.auth) {
		return
	}

	if r.ContentLength > g.opts.MaxBodyBytes {
		g.writeErr(w, rc, http.StatusRequestEntityTooLarge, "Request Too Long")
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		mw := w
		if rc.obs.on {
			mw = rc.obs.rw.ResponseWriter // the server's own writer: it closes the connection after a too-long body
		}
		r.Body = http.MaxBytesReader(mw, r.Body, g.opts.MaxBodyBytes)
		if c := rc.obs.capReq; c != nil {
			c.ReadCloser, r.Body = r.Body, c // capture what the limit lets through
		}
	}

	if isUpgrade(r) {
		g.serveUpgrade(w, rc, op)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), op.integ.timeout())
	defer cancel()
	if op.chain == nil {
		g.serveDirect(ctx, w, rc, op)
		return
	}
	g.servePipeline(ctx, w, rc, op)
}

// servePreflight runs an operation's pipeline for an OPTIONS request the
// API does not define; a plugin's local response (a CORS preflight answer)
// is sent, otherwise the request gets the 405 it would have had.
func (g *Gateway) servePreflight(ctx context.Context, w http.ResponseWriter, rc *reqCtx, op *operation, allow string) {
	x, err := rc.startChain(ctx, op)
	if err != nil {
		g.fail(w, rc, err)
		return
	}
	defer x.Close()
	if err := x.RequestHeaders(true); err != nil {
		g.fail(w, rc, err)
		return
	}
	if x.Local() != nil {
		g.writeLocal(w, rc, x)
		return
	}
	w.Header().Set("Allow", allow)
	g.writeErr(w, rc, http.StatusMethodNotAllowed, "Method Not Allowed")
}

// outRequest prepares the upstream request from the incoming one.
func (g *Gateway) outRequest(ctx context.Context, rc *reqCtx, body io.Reader) *http.Request {
	out := rc.r.Clone(ctx)
	g.finishOut(out, rc, body)
	return out
}

// finishOut sets the upstream request's body and the headers that are the
// gateway's: hop-by-hop headers removed, forwarding headers and the
// request id set.
func (g *Gateway) finishOut(out *http.Request, rc *reqCtx, body io.Reader) {
	r := rc.r
	out.RequestURI = ""
	out.Body = nil
	if body != nil {
		out.Body = io.NopCloser(body)
		out.GetBody = replayBody(body) // upstream retries
	}
	if r.Body == nil || r.Body == http.NoBody {
		out.Body = nil
		out.ContentLength = 0
	}
	peer, trusted := g.trusted(r.RemoteAddr)
	scrubHeaders(out.Header, !trusted)
	keepTETrailers(out.Header, r.Header)
	g.setForwarded(out, rc, peer)
	out.Header.Set("X-Request-Id", rc.id)
}

// serveDirect is the path of an operation without plugins: stream the
// request up and the response down.
func (g *Gateway) serveDirect(ctx context.Context, w http.ResponseWriter, rc *reqCtx, op *operation) {
	out := g.outRequest(ctx, rc, rc.r.Body)
	resp, err := g.callIntegration(op, rc, out)
	if err != nil {
		g.fail(w, rc, err)
		return
	}
	defer resp.Body.Close()
	passResponse(w, rc, resp)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyBody streams a response body, flushing as data arrives for
// event streams and bodies of unknown length. It reports whether the
// whole body was read and written.
func copyBody(w http.ResponseWriter, resp *http.Response) bool {
	defer copyTrailers(w, resp)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	flush := resp.ContentLength < 0 || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	rcw := http.NewResponseController(w)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return false
			}
			if flush {
				_ = rcw.Flush() // best effort: not every writer flushes
			}
		}
		if err != nil {
			return err == io.EOF
		}
	}
}

// fail writes the gateway response for an error.
func (g *Gateway) fail(w http.ResponseWriter, rc *reqCtx, err error) {
	var ue *upstreamError
	var se *pipeline.StepError
	var mbe *http.MaxBytesError
	// The access log gets the detailed error; the client the gateway
	// response.
	rc.obs.errMsg = err.Error()
	switch {
	case errors.As(err, &mbe):
		g.writeErr(w, rc, http.StatusRequestEntityTooLarge, "Request Too Long")
	case errors.As(err, &ue):
		g.failure(rc, ue.msg)
		g.writeErr(w, rc, ue.status, ue.msg)
	case errors.Is(err, pipeline.ErrNotResumed):
		g.failure(rc, err.Error())
		g.writeErr(w, rc, http.StatusGatewayTimeout, "Endpoint request timed out")
	case errors.As(err, &se):
		g.failure(rc, err.Error())
		g.writeErr(w, rc, http.StatusInternalServerError, "Internal server error: plugin "+se.Plugin+" failed")
	case errors.Is(err, errNoAnswer):
		g.failure(rc, err.Error())
		g.writeErr(w, rc, http.StatusBadGateway, "Bad Gateway: the integration did not answer")
	case errors.Is(err, context.DeadlineExceeded):
		g.writeErr(w, rc, http.StatusGatewayTimeout, "Endpoint request timed out")
	default:
		g.failure(rc, err.Error())
		g.writeErr(w, rc, http.StatusInternalServerError, "Internal server error")
	}
}

// copyTrailers sends the upstream's trailers (gRPC's grpc-status and
// grpc-message, say) after the body; they are read once the body is.
func copyTrailers(w http.ResponseWriter, resp *http.Response) {
	for k, vs := range resp.Trailer {
		for _, v := range vs {
			w.Header().Add(http.TrailerPrefix+k, v)
		}
	}
}

// keepTETrailers forwards "TE: trailers", the one TE value a proxy passes
// on (gRPC requires it), after the hop-by-hop headers were removed.
func keepTETrailers(out, in http.Header) {
	for _, v := range in.Values("Te") {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "trailers") {
				out.Set("Te", "trailers")
				return
			}
		}
	}
}
