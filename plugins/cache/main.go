// Command cache is wasmgate's response caching policy: GET and HEAD
// responses are kept in the stage's response cache (in the gateway's
// memory, optionally shared through Redis) for a TTL, under a key made of
// the method, the path and the query parameters and headers the
// configuration names. A hit is answered by the gateway without calling
// the integration (X-Cache: Hit, Age); concurrent misses on one key make
// one upstream call. Clients invalidate an entry with
// "Cache-Control: max-age=0" when the configuration lets them. See
// README.md.
package main

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &root{} })
}

type root struct {
	sdk.DefaultRootContext
	cfg *config
}

func (r *root) OnPluginStart(int) bool {
	data, err := sdk.GetPluginConfiguration()
	if err != nil && err != sdk.ErrNotFound {
		sdk.LogErrorf("cache: cannot read the configuration: %v", err)
		return false
	}
	if r.cfg, err = parseConfig(data); err != nil {
		sdk.LogErrorf("cache: %v", err)
		return false
	}
	sdk.SetHooks(sdk.HookRequestHeaders | sdk.HookResponseHeaders)
	return true
}

func (r *root) NewHTTPContext(uint32) sdk.HTTPContext { return &ctx{root: r} }

type ctx struct {
	sdk.DefaultHTTPContext
	root *root
	miss bool // this request fetches its key: maybe store the response
	ttl  int
}

func header(name string) string {
	v, _ := sdk.GetHTTPRequestHeader(name)
	return v
}

func (c *ctx) OnHTTPRequestHeaders(int, bool) sdk.Action {
	cfg := c.root.cfg
	method := header(":method")
	route, _ := sdk.GetPropertyString("wasmgate", "route", "template")
	ttl := cfg.ttlFor(method, route)
	if ttl == 0 {
		return sdk.ActionContinue
	}
	// A shared cache must not give one client's authorized response to
	// another: requests with credentials are cached only when the
	// credentials are part of the key.
	if header("authorization") != "" && !slices.Contains(cfg.headers, "authorization") {
		return sdk.ActionContinue
	}
	key := c.key(method, header(":path"))
	hit := cfg.hitHeaders
	if wantsRefresh(header("cache-control")) {
		switch c.invalidation() {
		case "invalidate":
			if err := sdk.CacheInvalidate(key); err != nil && !errors.Is(err, sdk.ErrUnimplemented) {
				sdk.LogWarnf("cache: invalidate: %v", err)
			}
		case "refuse":
			_ = sdk.SendHTTPResponse(403, [][2]string{{"content-type", "application/json"}},
				[]byte(`{"message":"Unauthorized cache invalidation: Cache-Control: max-age=0 needs an API key allowed to invalidate this cache"}`+"\n"), -1)
			return sdk.ActionPause
		case "warn":
			hit = append(hit[:len(hit):len(hit)], [2]string{"x-cache-invalidation", "unauthorized"})
		}
	}
	found, err := sdk.CacheLookup(key, hit)
	switch {
	case errors.Is(err, sdk.ErrUnimplemented):
		// The stage's cache is off: serve without it.
	case err != nil:
		sdk.LogWarnf("cache: lookup: %v", err)
	case !found:
		c.miss, c.ttl = true, ttl
	}
	return sdk.ActionContinue
}

// invalidation decides what a client's Cache-Control: max-age=0 does:
// "invalidate", "refuse" (403), "warn" or "" (ignored: served from the
// cache, with or without X-Cache-Invalidation: unauthorized).
func (c *ctx) invalidation() string {
	cfg := c.root.cfg
	switch cfg.invalidate {
	case "allow":
		return "invalidate"
	case "ignore":
		return ""
	}
	// require_auth: the API key the api-key plugin verified (the host
	// sets this property; plugins cannot) must be allowed.
	id, _ := sdk.GetPropertyString("wasmgate", "api_key", "id")
	if id != "" && (cfg.invKeys["*"] || cfg.invKeys[id]) {
		return "invalidate"
	}
	switch cfg.unauth {
	case "fail":
		return "refuse"
	case "warn":
		return "warn"
	}
	return ""
}

// wantsRefresh reports whether a request's Cache-Control asks for a
// fresh response (max-age=0 or no-cache).
func wantsRefresh(cc string) bool {
	for _, d := range strings.Split(cc, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "max-age=0" || d == "no-cache" {
			return true
		}
	}
	return false
}

// key is the cache key: method, path, and the configured query
// parameters and headers. The gateway keeps one cache per stage.
func (c *ctx) key(method, rawPath string) string {
	cfg := c.root.cfg
	path, rawQuery, _ := strings.Cut(rawPath, "?")
	var b strings.Builder
	b.WriteString(method)
	b.WriteByte(' ')
	b.WriteString(path)
	if cfg.allQuery || len(cfg.query) > 0 {
		q, _ := url.ParseQuery(rawQuery)
		names := cfg.query
		if cfg.allQuery {
			names = make([]string, 0, len(q))
			for k := range q {
				names = append(names, k)
			}
			slices.Sort(names)
		}
		for _, n := range names {
			for _, v := range q[n] {
				b.WriteString("\x00q:")
				b.WriteString(url.QueryEscape(n))
				b.WriteByte('=')
				b.WriteString(url.QueryEscape(v))
			}
		}
	}
	for _, h := range cfg.headers {
		b.WriteString("\x00h:")
		b.WriteString(h)
		b.WriteByte('=')
		b.WriteString(header(h))
	}
	return b.String()
}

func (c *ctx) OnHTTPResponseHeaders(int, bool) sdk.Action {
	if !c.miss {
		return sdk.ActionContinue
	}
	cfg := c.root.cfg
	if ttl := c.storableFor(); ttl > 0 {
		if err := sdk.CacheStore(time.Duration(ttl) * time.Second); err != nil {
			sdk.LogWarnf("cache: store: %v", err)
		}
	}
	if cfg.header != "" {
		_ = sdk.ReplaceHTTPResponseHeader(cfg.header, "Miss")
	}
	return sdk.ActionContinue
}

// storableFor returns the TTL (seconds) to store the response for, or 0
// when it must not be stored.
func (c *ctx) storableFor() int {
	cfg := c.root.cfg
	status, _ := sdk.GetHTTPResponseHeader(":status")
	code, _ := strconv.Atoi(status)
	if !cfg.statuses[code] {
		return 0
	}
	if !cfg.setCookie {
		if v, err := sdk.GetHTTPResponseHeader("set-cookie"); err == nil && v != "" {
			return 0
		}
	}
	ttl := c.ttl
	if vary, _ := sdk.GetHTTPResponseHeader("vary"); vary != "" {
		// A response that varies on a header the key does not hold
		// could be served to a client it was not made for.
		for _, h := range strings.Split(vary, ",") {
			h = strings.ToLower(strings.TrimSpace(h))
			if h == "*" || (h != "" && !slices.Contains(cfg.headers, h)) {
				return 0
			}
		}
	}
	if cfg.upstreamCC {
		cc, _ := sdk.GetHTTPResponseHeader("cache-control")
		for _, d := range strings.Split(cc, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			name, val, _ := strings.Cut(d, "=")
			switch name {
			case "no-store", "private", "no-cache":
				return 0
			case "s-maxage", "max-age":
				if n, err := strconv.Atoi(strings.Trim(val, `"`)); err == nil && n < ttl {
					ttl = max(n, 0)
				}
			}
		}
	}
	return ttl
}
