package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// isUpgrade reports whether r asks for a protocol upgrade (WebSocket) on
// HTTP/1.1.
func isUpgrade(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.Header.Get("Upgrade") == "" {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "upgrade") {
				return true
			}
		}
	}
	return false
}

// serveUpgrade proxies a protocol upgrade (WebSocket) to an http_proxy
// integration: the operation's plugins see the request headers (so
// authentication and rate limits apply, and they may refuse it), then the
// handshake goes upstream under the integration's timeout, and after a
// 101 the two connections are joined byte for byte until either side
// closes. Response and body callbacks do not run on an upgraded
// connection: what flows is no longer HTTP.
func (g *Gateway) serveUpgrade(w http.ResponseWriter, rc *reqCtx, op *operation) {
	r := rc.r
	if _, ok := op.integ.(*httpProxy); !ok {
		g.writeErr(w, rc, http.StatusNotImplemented, "Not Implemented: protocol upgrades (WebSocket) go to http_proxy integrations only")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// The timeout bounds the handshake, not the connection.
	handshake := time.AfterFunc(op.integ.timeout(), cancel)

	if op.chain != nil {
		x, ok := g.startExchange(ctx, w, rc, op)
		if !ok {
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
		g.tunnel(w, rc, op, g.pipelineRequest(ctx, rc, nil, x.ReqHeaders), handshake)
		return
	}
	g.tunnel(w, rc, op, g.outRequest(ctx, rc, nil), handshake)
}

// tunnel performs the upstream handshake and joins the connections.
func (g *Gateway) tunnel(w http.ResponseWriter, rc *reqCtx, op *operation, out *http.Request, handshake *time.Timer) {
	r := rc.r
	out.Header.Set("Connection", "Upgrade")
	out.Header.Set("Upgrade", r.Header.Get("Upgrade"))
	out.Body, out.ContentLength = nil, 0
	resp, err := g.callIntegration(op, rc, out)
	if !handshake.Stop() {
		// The handshake outlived the integration's timeout.
		if err == nil {
			resp.Body.Close()
		}
		err = &upstreamError{status: http.StatusGatewayTimeout, msg: "Endpoint request timed out"}
	}
	if err != nil {
		g.fail(w, rc, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		passResponse(w, rc, resp) // the upstream refused the upgrade
		return
	}
	back, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		g.fail(w, rc, &upstreamError{status: http.StatusBadGateway, msg: "Bad Gateway: the upstream switched protocols without a usable connection"})
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		g.fail(w, rc, &upstreamError{status: http.StatusInternalServerError, msg: "this connection cannot be upgraded: " + err.Error()})
		return
	}
	defer conn.Close()
	// The 101 as the upstream sent it (Upgrade, Connection,
	// Sec-WebSocket-Accept, ...), plus the request id.
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\n")
	resp.Header.Set("X-Request-Id", rc.id)
	if err := resp.Header.Write(brw); err != nil {
		return
	}
	brw.WriteString("\r\n")
	if err := brw.Flush(); err != nil {
		return
	}
	var once sync.Once
	closeBoth := func() { once.Do(func() { conn.Close(); back.Close() }) }
	done := make(chan struct{}, 2)
	go func() {
		// Bytes the client sent after its request, already buffered,
		// then the rest of the connection.
		_, _ = io.Copy(back, brw.Reader)
		closeBoth()
		done <- struct{}{}
	}()
	_, _ = io.Copy(conn, back)
	closeBoth()
	<-done
}
