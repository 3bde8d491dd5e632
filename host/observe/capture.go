package observe

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// Redacted replaces a redacted header value or JSON field.
const Redacted = "[REDACTED]"

// DefaultCaptureBody is the body cap of a capture without MaxBodyBytes.
const DefaultCaptureBody = 8 << 10

// alwaysRedacted are the headers never written as they are.
var alwaysRedacted = []string{"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}

type capture struct {
	rate    float64
	max     int
	headers map[string]bool // lower case
	fields  map[string]bool // lower case
	zl      zerolog.Logger
}

func newCapture(c *CaptureSettings, w io.Writer) *capture {
	cp := &capture{rate: c.SampleRate, max: c.MaxBodyBytes, headers: map[string]bool{}, fields: map[string]bool{}}
	if cp.max <= 0 {
		cp.max = DefaultCaptureBody
	}
	for _, h := range append(append([]string(nil), alwaysRedacted...), c.RedactHeaders...) {
		cp.headers[strings.ToLower(strings.TrimSpace(h))] = true
	}
	for _, f := range c.RedactFields {
		cp.fields[strings.ToLower(strings.TrimSpace(f))] = true
	}
	cp.zl = zerolog.New(w).With().Str("log", "capture").Logger()
	return cp
}

// Capture reports whether this request is sampled for capture, and the
// body cap to keep for it (0 when not sampled).
func (s *Stage) Capture() (bool, int) {
	c := s.capture
	if c == nil || (c.rate < 1 && rand.Float64() >= c.rate) {
		return false, 0
	}
	return true, c.max
}

// Captured is one captured exchange. Bodies hold at most the capture's
// MaxBodyBytes; the Truncated flags say when more was sent.
type Captured struct {
	Record        *Record
	Query         string
	ReqHeader     http.Header
	ReqBody       []byte
	ReqTruncated  bool
	RespHeader    http.Header
	RespBody      []byte
	RespTruncated bool
}

// WriteCapture redacts c and writes it (nothing when the stage does not
// capture).
func (s *Stage) WriteCapture(c *Captured) {
	cp := s.capture
	if cp == nil {
		return
	}
	r := c.Record
	e := cp.zl.Log().Str("requestId", r.RequestID).Str("stage", r.Stage).
		Str("httpMethod", r.Method).Str("path", r.Path).Str("resourcePath", orDash(r.ResourcePath)).
		Int("status", r.Status)
	if c.Query != "" {
		e.Str("query", c.Query)
	}
	e.Dict("requestHeaders", cp.headerDict(c.ReqHeader))
	cp.body(e, "requestBody", c.ReqHeader, c.ReqBody, c.ReqTruncated)
	e.Dict("responseHeaders", cp.headerDict(c.RespHeader))
	cp.body(e, "responseBody", c.RespHeader, c.RespBody, c.RespTruncated)
	e.Send()
}

func (cp *capture) headerDict(h http.Header) *zerolog.Event {
	d := zerolog.Dict()
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		vs := h[k]
		if cp.headers[strings.ToLower(k)] {
			vs = []string{Redacted}
		}
		d.Strs(strings.ToLower(k), vs)
	}
	return d
}

// body writes a captured body: JSON with the configured fields redacted,
// other text as is, binary as base64. A JSON body that cannot be parsed
// while fields are to be redacted is left out.
func (cp *capture) body(e *zerolog.Event, key string, h http.Header, b []byte, truncated bool) {
	if len(b) == 0 {
		return
	}
	if truncated {
		e.Bool(key+"Truncated", true)
	}
	if isJSON(h.Get("Content-Type"), b) && len(cp.fields) > 0 {
		out, ok := cp.redactJSON(b)
		if !ok {
			e.Str(key+"Omitted", "JSON body could not be parsed to redact its fields (cut at the capture's size cap?)")
			return
		}
		e.RawJSON(key, out)
		return
	}
	if utf8.Valid(b) {
		e.Bytes(key, b)
		return
	}
	e.Str(key+"Base64", base64.StdEncoding.EncodeToString(b))
}

func isJSON(ct string, b []byte) bool {
	if strings.Contains(strings.ToLower(ct), "json") {
		return true
	}
	t := bytes.TrimSpace(b)
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

// redactJSON replaces the values of the configured fields, at any depth.
func (cp *capture) redactJSON(b []byte) ([]byte, bool) {
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil || d.More() {
		return nil, false
	}
	v = cp.redactValue(v)
	out, err := json.Marshal(v)
	return out, err == nil
}

func (cp *capture) redactValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if cp.fields[strings.ToLower(k)] {
				x[k] = Redacted
			} else {
				x[k] = cp.redactValue(val)
			}
		}
	case []any:
		for i := range x {
			x[i] = cp.redactValue(x[i])
		}
	}
	return v
}
