package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/wasmgate/wasmgate/host/gateway"
)

// TestCompression: responses are compressed as negotiated (zstd or gzip,
// q-values), round-trip to the upstream's bytes, and are left alone when
// already encoded, small, of a binary type, marked no-transform, HEAD,
// or an event stream; the cache plugin stores the plain body and its hits
// are compressed as they are sent.
func TestCompression(t *testing.T) {
	big := strings.Repeat(`{"name":"Rex","tag":"dog"},`, 200)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch r.URL.Path {
		case "/json", "/plugin":
			h.Set("Content-Type", "application/json")
			fmt.Fprint(w, big)
		case "/small":
			h.Set("Content-Type", "application/json")
			h.Set("Content-Length", "2")
			fmt.Fprint(w, "{}")
		case "/png":
			h.Set("Content-Type", "image/png")
			fmt.Fprint(w, big)
		case "/encoded":
			h.Set("Content-Type", "application/json")
			h.Set("Content-Encoding", "br")
			fmt.Fprint(w, "pretend-brotli")
		case "/notransform":
			h.Set("Content-Type", "text/plain")
			h.Set("Cache-Control", "no-transform")
			fmt.Fprint(w, big)
		case "/events":
			h.Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: hello\n\n")
		}
	}))
	defer up.Close()
	var paths strings.Builder
	for _, p := range []string{"json", "small", "png", "encoded", "notransform", "events"} {
		fmt.Fprintf(&paths, "  /%[1]s:\n    get:\n      x-wasmgate-integration: {type: http_proxy, uri: \"%[2]s/%[1]s\"}\n      responses: {\"200\": {description: ok}}\n", p, up.URL)
	}
	fmt.Fprintf(&paths, "  /plugin:\n    get:\n      x-wasmgate-pipeline: [{plugin: cache, config: {ttl: 60}}]\n      x-wasmgate-integration: {type: http_proxy, uri: \"%s/plugin\"}\n      responses: {\"200\": {description: ok}}\n", up.URL)
	caches := &gateway.Caches{DefaultMB: 4}
	defer caches.Close()
	e := startGateway(t, "openapi: 3.0.3\ninfo: {title: gz, version: \"1\"}\npaths:\n"+paths.String(), nil,
		func(o *gateway.Options) { o.Caches = caches })
	srv := gateway.NewServer(e.gw, gateway.ServerConfig{Listen: "127.0.0.1:0", Compress: &gateway.CompressConfig{Encodings: []string{"zstd", "gzip"}}})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	base := "http://" + srv.Addr("http")
	// DisableCompression: see the raw encoded bytes.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()

	decode := func(enc string, b []byte) string {
		t.Helper()
		var r io.Reader
		switch enc {
		case "gzip":
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		case "zstd":
			zr, err := zstd.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			defer zr.Close()
			r = zr
		default:
			return string(b)
		}
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s body does not decode: %v", enc, err)
		}
		return string(out)
	}
	cases := []struct {
		method, path, accept, wantEnc, wantBody string
	}{
		{"GET", "/json", "gzip", "gzip", big},
		{"GET", "/json", "gzip, zstd", "zstd", big},             // equal q: the server's order
		{"GET", "/json", "zstd;q=0.5, gzip;q=0.9", "gzip", big}, // q-values
		{"GET", "/json", "gzip;q=0, zstd;q=0", "", big},
		{"GET", "/json", "*", "zstd", big},
		{"GET", "/json", "", "", big},
		{"GET", "/plugin", "gzip", "gzip", big}, // a cache miss: stored plain, sent compressed
		{"GET", "/plugin", "zstd", "zstd", big}, // the hit, replayed by the host, compressed too
		{"GET", "/small", "gzip", "", "{}"},
		{"GET", "/png", "gzip", "", big},
		{"GET", "/encoded", "gzip", "br", "pretend-brotli"},
		{"GET", "/notransform", "gzip", "", big},
		{"GET", "/events", "gzip", "", "data: hello\n\n"},
		{"HEAD", "/json", "gzip", "", ""},
	}
	pluginHits := 0
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, base+c.path, nil)
		if c.accept != "" {
			req.Header.Set("Accept-Encoding", c.accept)
		}
		r, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		enc := r.Header.Get("Content-Encoding")
		if r.StatusCode != 200 || enc != c.wantEnc {
			t.Errorf("%s %s Accept-Encoding %q: %d Content-Encoding %q, want %q", c.method, c.path, c.accept, r.StatusCode, enc, c.wantEnc)
			continue
		}
		if got := decode(enc, b); got != c.wantBody {
			t.Errorf("%s %s Accept-Encoding %q: body does not round-trip (%d bytes)", c.method, c.path, c.accept, len(got))
		}
		if c.path == "/plugin" {
			pluginHits++
			if want := map[int]string{1: "Miss", 2: "Hit"}[pluginHits]; r.Header.Get("X-Cache") != want {
				t.Errorf("/plugin request %d: X-Cache %q, want %q", pluginHits, r.Header.Get("X-Cache"), want)
			}
		}
		if (enc == "gzip" || enc == "zstd") && (r.Header.Get("Vary") != "Accept-Encoding" || len(b) >= len(big)/4) {
			t.Errorf("%s: Vary %q, %d compressed bytes for %d", c.path, r.Header.Get("Vary"), len(b), len(big))
		}
	}
}
