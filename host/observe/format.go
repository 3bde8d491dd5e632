package observe

import (
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Format presets.
const (
	FormatJSON = "json"
	FormatCLF  = "clf"
	// FormatOff turns a stage's access log off when the server's default
	// turns it on.
	FormatOff = "off"
)

// clfTemplate is Common Log Format (host ident user [time] "request"
// status bytes) followed by the request id.
const clfTemplate = `$context.identity.sourceIp - - [$context.requestTime] "$context.httpMethod $context.path $context.protocol" $context.status $context.responseLength $context.requestId`

// Format is a compiled access log format.
type Format struct {
	json bool
	segs []segment
}

// ParseFormat compiles "json", "clf" or a $context template.
func ParseFormat(s string) (*Format, error) {
	switch strings.TrimSpace(s) {
	case FormatJSON:
		return &Format{json: true}, nil
	case FormatCLF:
		s = clfTemplate
	}
	segs, err := parseTemplate(s)
	if err != nil {
		return nil, err
	}
	return &Format{segs: segs}, nil
}

// IsJSON reports whether f is the json preset.
func (f *Format) IsJSON() bool { return f.json }

// WriteTo writes r's line to w: one Write call per line.
func (f *Format) write(w io.Writer, zl *zerolog.Logger, r *Record, buf *[]byte) {
	if f.json {
		writeJSON(zl, r)
		return
	}
	b := f.AppendText((*buf)[:0], r)
	b = append(b, '\n')
	_, _ = w.Write(b) // an AsyncWriter: never fails, drops and counts instead
	*buf = b
}

// writeJSON writes r as one JSON object, through zerolog's typed fields.
func writeJSON(zl *zerolog.Logger, r *Record) {
	var tb [32]byte
	e := zl.Log().
		Str("requestId", r.RequestID).
		Str("sourceIp", r.SourceIP).
		Str("httpMethod", r.Method).
		Str("resourcePath", orDash(r.ResourcePath)).
		Str("path", r.Path).
		Str("protocol", r.Protocol).
		Int("status", r.Status).
		Int64("responseLength", r.ResponseLength).
		Bytes("requestTime", appendCLFTime(tb[:0], r.Start)).
		Int64("requestTimeEpoch", r.Start.UnixMilli())
	if r.IntegrationLatency >= 0 {
		e.Float64("integrationLatency", ms(r.IntegrationLatency))
	}
	e.Float64("responseLatency", ms(r.ResponseLatency)).
		Str("stage", r.Stage).
		Str("deploymentId", r.DeploymentID)
	if r.UserAgent != "" {
		e.Str("userAgent", r.UserAgent)
	}
	if r.APIKeyID != "" {
		e.Str("apiKeyId", r.APIKeyID)
	}
	if r.CacheStatus != "" {
		e.Str("cacheStatus", r.CacheStatus)
	}
	if r.Error != "" {
		e.Str("error", r.Error)
	}
	if len(r.Plugins) > 0 {
		e.Float64("pluginLatency", ms(r.PluginLatency()))
		d := zerolog.Dict()
		for _, p := range r.Plugins {
			d.Float64(p.Name, ms(p.Duration))
		}
		e.Dict("plugins", d)
	}
	e.Send()
}

// AppendText appends r's line in a template format (without the newline).
func (f *Format) AppendText(b []byte, r *Record) []byte {
	for _, s := range f.segs {
		b = append(b, s.lit...)
		if s.v != 0 {
			b = appendVar(b, s.v, r)
		}
	}
	return b
}

func appendVar(b []byte, v variable, r *Record) []byte {
	switch v {
	case vRequestID:
		return appendSafe(b, r.RequestID)
	case vSourceIP:
		return appendSafe(b, r.SourceIP)
	case vUserAgent:
		return appendSafe(b, r.UserAgent)
	case vMethod:
		return appendSafe(b, r.Method)
	case vResourcePath:
		return appendSafe(b, r.ResourcePath)
	case vPath:
		return appendSafe(b, r.Path)
	case vProtocol:
		return appendSafe(b, r.Protocol)
	case vStatus:
		return strconv.AppendInt(b, int64(r.Status), 10)
	case vResponseLength:
		return strconv.AppendInt(b, r.ResponseLength, 10)
	case vRequestTime:
		return appendCLFTime(b, r.Start)
	case vRequestTimeEpoch:
		return strconv.AppendInt(b, r.Start.UnixMilli(), 10)
	case vIntegrationLatency:
		if r.IntegrationLatency < 0 {
			return append(b, '-')
		}
		return appendMS(b, r.IntegrationLatency)
	case vResponseLatency:
		return appendMS(b, r.ResponseLatency)
	case vStage:
		return appendSafe(b, r.Stage)
	case vDeploymentID:
		return appendSafe(b, r.DeploymentID)
	case vAPIKeyID:
		return appendSafe(b, r.APIKeyID)
	case vCacheStatus:
		return appendSafe(b, r.CacheStatus)
	case vError:
		return appendSafe(b, r.Error)
	case vPluginLatency:
		if len(r.Plugins) == 0 {
			return append(b, '-')
		}
		return appendMS(b, r.PluginLatency())
	case vPlugins:
		if len(r.Plugins) == 0 {
			return append(b, '-')
		}
		for i, p := range r.Plugins {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendSafe(b, p.Name)
			b = append(b, ':')
			b = appendMS(b, p.Duration)
		}
		return b
	}
	return b
}

// appendSafe appends s, "-" when empty, escaping control bytes and
// spaces-breaking characters so a value cannot forge a line.
func appendSafe(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '\\' {
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ms is d in milliseconds with microsecond precision.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func appendMS(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, ms(d), 'f', -1, 64)
}

// appendCLFTime appends t as 02/Jan/2006:15:04:05 -0700.
func appendCLFTime(b []byte, t time.Time) []byte {
	return t.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
}
