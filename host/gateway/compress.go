package gateway

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// CompressConfig configures response compression (Compress).
type CompressConfig struct {
	// Encodings are the encodings offered, in the server's order of
	// preference among those a client accepts equally: "zstd", "gzip".
	Encodings []string
	// MinBytes is the smallest body compressed when its length is known
	// (default 1024); bodies of unknown length are compressed.
	MinBytes int64
	// Types are the compressed content types: a type ("application/json")
	// or a prefix ending in "/" ("text/"). Default: DefaultCompressTypes.
	Types []string
}

// DefaultCompressTypes are the content types compressed by default.
var DefaultCompressTypes = []string{
	"text/", "application/json", "application/javascript", "application/xml",
	"application/problem+json", "application/vnd.api+json", "application/x-ndjson",
	"image/svg+xml", "application/wasm",
}

// Compress wraps h so that responses are compressed with the best
// encoding the client accepts (Accept-Encoding, q-values honoured),
// unless the response is already encoded (Content-Encoding: the upstream
// compressed it), is not of a listed type, is smaller than MinBytes, is a
// range (206), has no body (HEAD, 204, 304), is an event stream, or says
// Cache-Control: no-transform. Plugins always see uncompressed bodies:
// this runs after them, on what the client gets. Compressed responses
// carry Vary: Accept-Encoding and no Content-Length.
func Compress(h http.Handler, cfg CompressConfig) http.Handler {
	if len(cfg.Encodings) == 0 {
		return h
	}
	if cfg.MinBytes <= 0 {
		cfg.MinBytes = 1024
	}
	if len(cfg.Types) == 0 {
		cfg.Types = DefaultCompressTypes
	}
	c := &compressor{cfg: cfg}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		enc := c.negotiate(r.Header.Values("Accept-Encoding"))
		if enc == "" || r.Method == http.MethodHead {
			h.ServeHTTP(w, r)
			return
		}
		cw := &compressWriter{ResponseWriter: w, c: c, enc: enc}
		defer cw.close()
		h.ServeHTTP(cw, r)
	})
}

type compressor struct {
	cfg  CompressConfig
	gz   sync.Pool
	zstd sync.Pool
}

// negotiate picks the encoding to use: the highest q-value among the
// offered ones, ties broken by the server's order.
func (c *compressor) negotiate(accept []string) string {
	best, bestQ := "", 0.0
	q := map[string]float64{}
	star := -1.0
	for _, line := range accept {
		for _, part := range strings.Split(line, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			name = strings.ToLower(strings.TrimSpace(name))
			v := 1.0
			if p, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
				if f, err := strconv.ParseFloat(p, 64); err == nil {
					v = f
				}
			}
			if name == "*" {
				star = v
			} else if name != "" {
				q[name] = v
			}
		}
	}
	for _, enc := range c.cfg.Encodings {
		v, ok := q[enc]
		if !ok {
			v = star
		}
		if v > bestQ {
			best, bestQ = enc, v
		}
	}
	return best
}

func (c *compressor) typeOK(ct string) bool {
	ct, _, _ = strings.Cut(ct, ";")
	ct = strings.ToLower(strings.TrimSpace(ct))
	if ct == "" || ct == "text/event-stream" {
		return false
	}
	for _, t := range c.cfg.Types {
		if strings.HasSuffix(t, "/") && strings.HasPrefix(ct, t) || ct == t {
			return true
		}
	}
	return false
}

type encoder interface {
	io.Writer
	Flush() error
	Close() error
}

// compressWriter decides at WriteHeader whether to compress.
type compressWriter struct {
	http.ResponseWriter
	c       *compressor
	enc     string
	decided bool
	w       encoder // nil: pass through
}

func (cw *compressWriter) WriteHeader(status int) {
	if cw.decided || status < 200 { // 1xx: informational, the decision waits for the final status
		cw.ResponseWriter.WriteHeader(status)
		return
	}
	cw.decided = true
	h := cw.Header()
	if cw.shouldCompress(status, h) {
		h.Del("Content-Length")
		h.Set("Content-Encoding", cw.enc)
		h.Add("Vary", "Accept-Encoding")
		if et := h.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
			h.Set("ETag", "W/"+et) // the bytes differ from the identity representation
		}
		cw.w = cw.c.get(cw.enc, cw.ResponseWriter)
	}
	cw.ResponseWriter.WriteHeader(status)
}

func (cw *compressWriter) shouldCompress(status int, h http.Header) bool {
	if status == http.StatusNoContent || status == http.StatusNotModified || status == http.StatusPartialContent {
		return false
	}
	if h.Get("Content-Encoding") != "" || !cw.c.typeOK(h.Get("Content-Type")) {
		return false
	}
	if strings.Contains(strings.ToLower(h.Get("Cache-Control")), "no-transform") {
		return false
	}
	if cl := h.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n < cw.c.cfg.MinBytes {
			return false
		}
	}
	return true
}

func (cw *compressWriter) Write(p []byte) (int, error) {
	if !cw.decided {
		cw.WriteHeader(http.StatusOK)
	}
	if cw.w == nil {
		return cw.ResponseWriter.Write(p)
	}
	return cw.w.Write(p)
}

// Flush sends what was compressed so far (event streams, long polls).
func (cw *compressWriter) Flush() {
	if cw.w != nil {
		_ = cw.w.Flush()
	}
	_ = http.NewResponseController(cw.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (cw *compressWriter) Unwrap() http.ResponseWriter { return cw.ResponseWriter }

func (cw *compressWriter) close() {
	if cw.w != nil {
		_ = cw.w.Close()
		cw.c.put(cw.enc, cw.w)
		cw.w = nil
	}
}

func (c *compressor) get(enc string, w io.Writer) encoder {
	switch enc {
	case "gzip":
		if z, ok := c.gz.Get().(*gzip.Writer); ok {
			z.Reset(w)
			return z
		}
		z, _ := gzip.NewWriterLevel(w, gzip.DefaultCompression)
		return z
	case "zstd":
		if z, ok := c.zstd.Get().(*zstd.Encoder); ok {
			z.Reset(w)
			return z
		}
		z, _ := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
		return z
	}
	return nil
}

func (c *compressor) put(enc string, e encoder) {
	switch enc {
	case "gzip":
		c.gz.Put(e)
	case "zstd":
		e.(*zstd.Encoder).Reset(nil)
		c.zstd.Put(e)
	}
}
