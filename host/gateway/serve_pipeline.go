package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/wasmgate/wasmgate/host/pipeline"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// servePipeline runs the operation's plugins around its integration.
func (g *Gateway) servePipeline(ctx context.Context, w http.ResponseWriter, rc *reqCtx, op *operation) {
	r := rc.r
	x, ok := g.startExchange(ctx, w, rc, op)
	if !ok {
		return
	}
	defer x.Close()
	if g.opts.Caches != nil {
		x.Caches = rc
		x.CacheMaxBody = g.opts.Caches.MaxEntryBytes
	}

	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	if hasBody && op.chain.NeedsRequestBody() {
		x.LoadBody = func() error {
			b, err := io.ReadAll(r.Body)
			x.ReqBody.B = b
			return err
		}
	}
	if err := x.RequestHeaders(!hasBody); err != nil {
		g.fail(w, rc, err)
		return
	}
	if x.Local() != nil {
		g.writeLocal(w, rc, x)
		return
	}
	var body io.Reader
	if hasBody {
		body = r.Body
		if op.chain.NeedsRequestBody() {
			if !x.BodyLoaded() {
				if err := x.LoadBody(); err != nil {
					g.fail(w, rc, err)
					return
				}
			}
			if err := x.RequestBody(); err != nil {
				g.fail(w, rc, err)
				return
			}
			if x.Local() != nil {
				g.writeLocal(w, rc, x)
				return
			}
			body = bytes.NewReader(x.ReqBody.B)
		}
	}

	out := g.pipelineRequest(ctx, rc, body, x.ReqHeaders)
	if op.chain.NeedsRequestBody() && hasBody {
		out.ContentLength = int64(len(x.ReqBody.B))
		out.Header.Del("Content-Length")
	}
	resp, err := g.callIntegration(op, rc, out)
	if err != nil {
		g.fail(w, rc, err)
		return
	}
	defer resp.Body.Close()
	removeHopHeaders(resp.Header)
	x.RespHeaders = responseFields(&rc.respFields, strconv.Itoa(resp.StatusCode), resp.Header)

	buffered := op.chain.NeedsResponseBody()
	if buffered {
		b, err := io.ReadAll(io.LimitReader(resp.Body, g.opts.MaxResponseBuffer+1))
		if err != nil {
			g.fail(w, rc, classifyUpstream(ctx, err))
			return
		}
		if int64(len(b)) > g.opts.MaxResponseBuffer {
			g.fail(w, rc, &upstreamError{status: http.StatusBadGateway, msg: "Bad Gateway: response body too large for the plugins that inspect it"})
			return
		}
		x.RespBody.B = b
	}
	if err := x.ResponseHeaders(resp.ContentLength == 0 && !buffered); err != nil {
		g.fail(w, rc, err)
		return
	}
	if buffered && x.Local() == nil {
		if err := x.ResponseBody(); err != nil {
			g.fail(w, rc, err)
			return
		}
	}
	if x.Local() != nil {
		g.writeLocal(w, rc, x)
		return
	}
	status := fieldStatus(x.RespHeaders, resp.StatusCode)
	h := w.Header()
	toHeader(x.RespHeaders, h, false)
	h.Set("X-Request-Id", rc.id)
	if buffered {
		h.Set("Content-Length", strconv.Itoa(len(x.RespBody.B)))
	}
	x.ResponseSent()
	w.WriteHeader(status)
	if buffered {
		if _, err := w.Write(x.RespBody.B); err == nil {
			x.CacheComplete(nil) // the body as the caching plugin saw it
		}
		return
	}
	if store, limit := x.CacheWantsBody(); store {
		// Keep a copy of the body as it streams, for the cache.
		cw := &captureWriter{ResponseWriter: w, limit: limit}
		if copyBody(cw, resp) && !cw.over {
			x.CacheComplete(cw.buf)
		} else {
			x.CacheAbandon()
		}
		return
	}
	copyBody(w, resp)
}

// captureWriter keeps a copy of what is written, up to limit bytes (over
// is set beyond).
type captureWriter struct {
	http.ResponseWriter
	buf   []byte
	limit int64
	over  bool
}

func (c *captureWriter) Write(p []byte) (int, error) {
	if !c.over {
		if int64(len(c.buf)+len(p)) > c.limit {
			c.over, c.buf = true, nil
		} else {
			c.buf = append(c.buf, p...)
		}
	}
	return c.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the real writer (Flush).
func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// startExchange starts the operation's plugins with the gateway's policy
// stores and API keys, and records the plugins fail_open skipped. When it
// reports false it has answered the request.
func (g *Gateway) startExchange(ctx context.Context, w http.ResponseWriter, rc *reqCtx, op *operation) (*pipeline.Exchange, bool) {
	x, err := rc.startChain(ctx, op)
	if err != nil {
		g.fail(w, rc, err)
		return nil, false
	}
	if g.opts.Policies != nil {
		x.Policies = g.opts.Policies
	}
	x.APIKeys = g.opts.APIKeys
	for _, e := range x.Skipped {
		g.failure(rc, "fail_open: "+e.Error())
	}
	return x, true
}

// passResponse writes an upstream response as it came, less its hop-by-hop
// headers, with the request id.
func passResponse(w http.ResponseWriter, rc *reqCtx, resp *http.Response) {
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	removeHopHeaders(h)
	h.Set("X-Request-Id", rc.id)
	w.WriteHeader(resp.StatusCode)
	copyBody(w, resp)
}

// writeLocal writes a plugin's local response, after the plugins before it
// have seen its headers.
func (g *Gateway) writeLocal(w http.ResponseWriter, rc *reqCtx, x *pipeline.Exchange) {
	x.CacheAbandon() // a fetch this request led ends here: nothing to store
	l := x.Local()
	rc.obs.localCode = l.StatusCode
	f := wasm.NewFields(append([][2]string{{":status", strconv.Itoa(l.StatusCode)}}, l.Headers...))
	x.RespHeaders = f
	x.RespBody.B = l.Body
	if err := x.ResponseHeaders(len(l.Body) == 0); err != nil {
		g.fail(w, rc, err)
		return
	}
	if len(l.Body) > 0 {
		if err := x.ResponseBody(); err != nil {
			g.fail(w, rc, err)
			return
		}
	}
	if l2 := x.Local(); l2 != l { // replaced during the response phase
		l = l2
		rc.obs.localCode = l.StatusCode
		x.RespHeaders = wasm.NewFields(append([][2]string{{":status", strconv.Itoa(l.StatusCode)}}, l.Headers...))
		x.RespBody.B = l.Body
	}
	h := w.Header()
	toHeader(x.RespHeaders, h, false)
	h.Set("Content-Length", strconv.Itoa(len(x.RespBody.B)))
	h.Set("X-Request-Id", rc.id)
	x.ResponseSent()
	w.WriteHeader(fieldStatus(x.RespHeaders, l.StatusCode))
	w.Write(x.RespBody.B)
}

func fieldStatus(f *wasm.Fields, def int) int {
	if s, ok := f.Get(":status"); ok {
		if n, err := strconv.Atoi(s); err == nil && n >= 100 && n <= 999 {
			return n
		}
	}
	return def
}

// pipelineRequest is the upstream request as the plugins left it: their
// pseudo-headers (:method, :path, :authority) and headers, with the
// gateway's own (see finishOut). The request's headers are not cloned
// first: the fields replace them.
func (g *Gateway) pipelineRequest(ctx context.Context, rc *reqCtx, body io.Reader, f *wasm.Fields) *http.Request {
	r := rc.r
	out := r.WithContext(ctx)
	u := *r.URL
	out.URL = &u
	for _, p := range f.Pairs {
		if len(p[0]) == 0 || p[0][0] != ':' {
			continue
		}
		switch p[0] {
		case ":method":
			out.Method = p[1]
		case ":path":
			if p[1] == rc.fieldsPath {
				break // unchanged
			}
			if pu, err := url.ParseRequestURI(p[1]); err == nil {
				u.Path, u.RawPath, u.RawQuery = pu.Path, pu.RawPath, pu.RawQuery
			}
		case ":authority":
			out.Host = p[1]
		}
	}
	h := make(http.Header, len(f.Pairs)+4)
	// The forwarding headers are the gateway's (finishOut sets them from
	// the client's, which only a trusted proxy may set), not the
	// plugins'; so is the request id.
	toHeader(f, h, true)
	if rc.forwarded {
		for _, k := range forwardingHeaders {
			if v := r.Header[k]; len(v) > 0 {
				h[k] = v
			}
		}
	}
	out.Header = h
	g.finishOut(out, rc, body)
	return out
}

// forwardingHeaders are the request headers setForwarded writes;
// isForwardingHeader is the same set as a switch.
var forwardingHeaders = [...]string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "Via"}

func isForwardingHeader(k string) bool {
	switch k {
	case "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "Via":
		return true
	}
	return false
}
