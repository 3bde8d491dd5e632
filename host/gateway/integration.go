package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/host/config"
)

// integration is the terminal stage of a pipeline.
type integration interface {
	// call performs the integration for a request whose (possibly
	// transformed) method, path, headers and body are given.
	call(ctx context.Context, rc *reqCtx, out *http.Request) (*http.Response, error)
	timeout() time.Duration
}

// errNoAnswer: a plugin-backed integration (mock, function) that did not
// answer with a local response.
var errNoAnswer = errors.New("the integration plugin did not answer the request")

const defaultTimeout = 29 * time.Second

// integrationFor returns the plugins an integration appends to the chain
// (mock, function, transform) and the terminal integration.
func (g *Gateway) integrationFor(op *config.Operation) ([]config.PluginRef, integration, error) {
	in := op.Integration
	to := in.Timeout
	if to <= 0 {
		to = defaultTimeout
	}
	switch in.Type {
	case "http_proxy", "http":
		tmpl, err := parseURITemplate(in.URI)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: integration uri: %w", op.Method, op.Path, err)
		}
		hp := &httpProxy{g: g, uri: tmpl, method: in.Method, to: to}
		var tail []config.PluginRef
		if in.Type == "http" && len(in.Transform) > 0 {
			tail = append(tail, config.PluginRef{Ref: "transform", Name: "transform", Config: in.Transform, OnError: "fail_closed", Loc: in.Loc})
		}
		return tail, hp, nil
	case "mock":
		cfg := map[string]any{"status": 200}
		if in.Mock != nil {
			cfg = map[string]any{"status": in.Mock.StatusCode, "headers": in.Mock.Headers, "body": in.Mock.Body}
		}
		b, _ := json.Marshal(cfg)
		return []config.PluginRef{{Ref: "mock", Name: "mock", Config: b, OnError: "fail_closed", Loc: in.Loc}}, answered{to: to}, nil
	case "function":
		if in.Function == nil {
			return nil, nil, fmt.Errorf("%s %s: function integration without a plugin", op.Method, op.Path)
		}
		ref := *in.Function
		if in.PayloadVersion != "" {
			// The function plugin learns the event shape from its config.
			cfg := map[string]any{}
			if len(ref.Config) > 0 {
				if err := json.Unmarshal(ref.Config, &cfg); err != nil {
					return nil, nil, fmt.Errorf("%s %s: function config: %w", op.Method, op.Path, err)
				}
			}
			if _, set := cfg["payload_version"]; !set {
				cfg["payload_version"] = in.PayloadVersion
			}
			ref.Config, _ = json.Marshal(cfg)
		}
		return []config.PluginRef{ref}, answered{to: to}, nil
	case "service":
		if g.opts.Services == nil {
			return nil, nil, fmt.Errorf("%s %s: service integration needs a data store (start the gateway with a data directory)", op.Method, op.Path)
		}
		if in.Service == nil {
			return nil, nil, fmt.Errorf("%s %s: service integration without a table", op.Method, op.Path)
		}
		return nil, &serviceIntegration{store: g.opts.Services, spec: *in.Service, to: to}, nil
	}
	return nil, nil, fmt.Errorf("%s %s: unknown integration type %q", op.Method, op.Path, in.Type)
}

// answered is the integration of mock and function operations: the last
// plugin of the chain answers with a local response.
type answered struct{ to time.Duration }

func (a answered) call(context.Context, *reqCtx, *http.Request) (*http.Response, error) {
	return nil, errNoAnswer
}

func (a answered) timeout() time.Duration { return a.to }

// uriTemplate is a parsed backend URI: literal parts and placeholders
// {param}, {proxy} (a greedy parameter, slashes kept) and
// ${stageVariables.name}.
type uriTemplate struct {
	parts []uriPart
}

type uriPart struct {
	lit   string
	param string // route parameter name
	stage string // stage variable name
}

func parseURITemplate(s string) (*uriTemplate, error) {
	if s == "" {
		return nil, errors.New("empty uri")
	}
	t := &uriTemplate{}
	for len(s) > 0 {
		i := strings.IndexAny(s, "{$")
		if i < 0 {
			t.parts = append(t.parts, uriPart{lit: s})
			break
		}
		if s[i] == '$' && !strings.HasPrefix(s[i:], "${") {
			t.parts = append(t.parts, uriPart{lit: s[:i+1]})
			s = s[i+1:]
			continue
		}
		if i > 0 {
			t.parts = append(t.parts, uriPart{lit: s[:i]})
		}
		if s[i] == '$' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unterminated ${ in %q", s)
			}
			ref := s[i+2 : i+end]
			name, ok := strings.CutPrefix(ref, "stageVariables.")
			if !ok || name == "" {
				return nil, fmt.Errorf("%q: only ${stageVariables.name} is supported", "${"+ref+"}")
			}
			t.parts = append(t.parts, uriPart{stage: name})
			s = s[i+end+1:]
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unterminated { in %q", s)
		}
		name := strings.TrimSuffix(s[i+1:i+end], "+")
		t.parts = append(t.parts, uriPart{param: name})
		s = s[i+end+1:]
	}
	return t, nil
}

// expand renders the URI for a request. Route parameters are path-escaped,
// except a greedy parameter whose slashes are kept.
func (t *uriTemplate) expand(rc *reqCtx) string {
	var b strings.Builder
	for _, p := range t.parts {
		switch {
		case p.param != "":
			v := rc.param(p.param)
			if rc.isGreedy(p.param) {
				b.WriteString(escapePathKeepSlash(v))
			} else {
				b.WriteString(url.PathEscape(v))
			}
		case p.stage != "":
			b.WriteString(rc.stage.vars[p.stage])
		default:
			b.WriteString(p.lit)
		}
	}
	return b.String()
}

func escapePathKeepSlash(s string) string {
	parts := strings.Split(s, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// httpProxy forwards to an HTTP backend, streaming both ways.
type httpProxy struct {
	g      *Gateway
	uri    *uriTemplate
	method string
	to     time.Duration
}

func (h *httpProxy) timeout() time.Duration { return h.to }

func (h *httpProxy) call(ctx context.Context, rc *reqCtx, out *http.Request) (*http.Response, error) {
	target := h.uri.expand(rc)
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, &upstreamError{status: http.StatusInternalServerError, msg: fmt.Sprintf("integration uri %q does not render to an absolute URL", target)}
	}
	if out.URL.RawQuery != "" {
		if u.RawQuery == "" {
			u.RawQuery = out.URL.RawQuery
		} else {
			u.RawQuery += "&" + out.URL.RawQuery
		}
	}
	if u.Scheme == config.UpstreamScheme {
		return h.callPool(ctx, rc, out, u)
	}
	tr := h.g.transport
	if u.Scheme == "h2c" {
		// Cleartext HTTP/2 (gRPC backends): a transport that speaks only
		// that, since a plain http:// backend may know only HTTP/1.1.
		u.Scheme, tr = "http", h.g.h2c
	}
	out.URL = u
	out.Host = u.Host
	if h.method != "" {
		out.Method = h.method
	}
	out = out.WithContext(ctx)
	resp, err := tr.RoundTrip(out)
	if err != nil {
		return nil, classifyUpstream(ctx, err)
	}
	return resp, nil
}

type upstreamError struct {
	status int
	msg    string
}

func (e *upstreamError) Error() string { return e.msg }

func classifyUpstream(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &upstreamError{status: http.StatusGatewayTimeout, msg: "Endpoint request timed out"}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &upstreamError{status: http.StatusRequestEntityTooLarge, msg: "Request Too Long"}
	}
	return &upstreamError{status: http.StatusBadGateway, msg: "Bad Gateway: " + shortErr(err)}
}

func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && len(s)-i < 120 {
		return s[i+2:]
	}
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}

var _ = io.EOF
