// Package callout performs the HTTP calls that plugins dispatch
// (proxy_http_call, sdk.DispatchHTTPCall) with net/http: it is the
// gateway's wasm.HTTPCaller.
//
// The upstream a plugin names is an origin, "http://host[:port]" or
// "https://host[:port]" (no path, query or user info); the request goes to
// that origin with the :method and :path pseudo-headers, Host set from
// :authority, and the other headers as given. Options.Allow, when set,
// restricts the origins plugins may call.
//
// # Notes
//
// Responses are read up to Options.MaxBody (1 MiB by default): a larger
// body fails the call, so a plugin never sees a truncated document.
// Redirects are not followed: the plugin sees the 3xx.
package callout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/host/wasm"
)

// Options configures a Caller. The zero value is usable.
type Options struct {
	// Client performs the calls; the default has its own transport with
	// keep-alive and no redirects.
	Client *http.Client
	// Allow lists the origins plugins may call ("https://idp.example.com");
	// empty allows any http or https origin.
	Allow []string
	// MaxBody caps a response body (default 1 MiB).
	MaxBody int64
}

// Caller is a wasm.HTTPCaller and wasm.UpstreamChecker over net/http.
type Caller struct {
	client  *http.Client
	allow   map[string]bool
	maxBody int64
}

var (
	_ wasm.HTTPCaller      = (*Caller)(nil)
	_ wasm.UpstreamChecker = (*Caller)(nil)
)

// New returns a Caller.
func New(o Options) *Caller {
	c := &Caller{client: o.Client, maxBody: o.MaxBody}
	if c.client == nil {
		c.client = &http.Client{
			Transport: &http.Transport{
				Proxy:               http.ProxyFromEnvironment,
				MaxIdleConnsPerHost: 16,
				IdleConnTimeout:     90 * time.Second,
				TLSHandshakeTimeout: 10 * time.Second,
				ForceAttemptHTTP2:   true,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if c.maxBody <= 0 {
		c.maxBody = 1 << 20
	}
	if len(o.Allow) > 0 {
		c.allow = map[string]bool{}
		for _, a := range o.Allow {
			c.allow[strings.TrimSuffix(a, "/")] = true
		}
	}
	return c
}

// origin validates an upstream name and returns it normalized.
func origin(upstream string) (string, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return "", fmt.Errorf("upstream %q: %w", upstream, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("upstream %q: want an origin such as https://host[:port]", upstream)
	}
	return u.Scheme + "://" + u.Host, nil
}

// HasUpstream implements wasm.UpstreamChecker: a well-formed origin that
// Options.Allow permits.
func (c *Caller) HasUpstream(upstream string) bool {
	o, err := origin(upstream)
	return err == nil && (c.allow == nil || c.allow[o])
}

// ErrNotAllowed is returned for an origin outside Options.Allow.
var ErrNotAllowed = errors.New("callout: upstream not allowed")

// HTTPCall implements wasm.HTTPCaller.
func (c *Caller) HTTPCall(ctx context.Context, upstream string, headers [][2]string, body []byte, trailers [][2]string, timeout time.Duration) (*wasm.HTTPCallResponse, error) {
	o, err := origin(upstream)
	if err != nil {
		return nil, err
	}
	if c.allow != nil && !c.allow[o] {
		return nil, fmt.Errorf("%w: %s", ErrNotAllowed, o)
	}
	f := wasm.NewFields(headers)
	method, _ := f.Get(":method")
	path, _ := f.Get(":path")
	authority, _ := f.Get(":authority")
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("callout: :path %q must start with /", path)
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, o+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("callout: %w", err)
	}
	if len(body) == 0 {
		req.Body, req.ContentLength = nil, 0
	}
	req.Host = authority
	for _, h := range headers {
		if strings.HasPrefix(h[0], ":") {
			continue
		}
		req.Header.Add(h[0], h[1])
	}
	if len(trailers) > 0 {
		req.Trailer = http.Header{}
		for _, t := range trailers {
			req.Trailer.Add(t[0], t[1])
		}
	}
	res, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("callout: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, c.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("callout: reading the response of %s%s: %w", o, path, err)
	}
	if int64(len(b)) > c.maxBody {
		return nil, fmt.Errorf("callout: the response of %s%s is larger than %d bytes", o, path, c.maxBody)
	}
	out := &wasm.HTTPCallResponse{Body: b, Headers: [][2]string{{":status", fmt.Sprint(res.StatusCode)}}}
	for k, vs := range res.Header {
		for _, v := range vs {
			out.Headers = append(out.Headers, [2]string{strings.ToLower(k), v})
		}
	}
	for k, vs := range res.Trailer {
		for _, v := range vs {
			out.Trailers = append(out.Trailers, [2]string{strings.ToLower(k), v})
		}
	}
	return out, nil
}
