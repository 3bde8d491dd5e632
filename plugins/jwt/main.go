// Command jwt is wasmgate's JSON Web Token authorizer: it verifies a
// bearer token (HS*, RS*, PS*, ES* signatures with keys from the
// configuration or a JWKS URL), its expiry, issuer, audience, required
// claims and scopes; answers 401 (invalid_token) or 403; and hands the
// claims to later plugins (properties wasmgate.jwt.claims[.NAME]) and to
// the upstream (configured headers). See README.md.
package main

import (
	"net/url"
	"strings"
	"time"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

func main() {}

func init() {
	sdk.SetNewRootContext(func(id uint32) sdk.RootContext { return &root{id: id} })
}

// maxTries bounds the keys one token is checked against (a token without
// a kid is tried on every key that allows its algorithm).
const maxTries = 8

type root struct {
	sdk.DefaultRootContext
	id  uint32
	cfg *config

	// The JWKS, per instance: the keys of the last successful fetch,
	// kept until a later fetch succeeds.
	remote      []*key
	fetchedAt   time.Time // last success
	lastAttempt time.Time
	inFlight    bool
	waiters     []*ctx // requests paused until the fetch in flight ends

	denied, fetchErrors sdk.Counter
	metrics             bool
}

func (r *root) OnPluginStart(int) bool {
	data, err := sdk.GetPluginConfiguration()
	if err != nil && err != sdk.ErrNotFound {
		sdk.LogErrorf("jwt: cannot read the configuration: %v", err)
		return false
	}
	if r.cfg, err = parseConfig(data); err != nil {
		sdk.LogErrorf("jwt: %v", err)
		return false
	}
	sdk.SetHooks(sdk.HookRequestHeaders)
	d, err1 := sdk.DefineCounterMetric("jwt_denied_total")
	f, err2 := sdk.DefineCounterMetric("jwt_jwks_fetch_errors_total")
	r.denied, r.fetchErrors, r.metrics = d, f, err1 == nil && err2 == nil
	if j := r.cfg.jwks; j != nil {
		if err := r.fetch(); err != nil {
			sdk.LogErrorf("jwt: jwks.url %q: the gateway cannot call %s (%v): HTTP callouts must be enabled and allow this origin", j.url, j.upstream, err)
			return false
		}
		_ = sdk.SetTickPeriod(time.Second)
	}
	return true
}

// OnTick refreshes the JWKS when it is older than its TTL, or retries a
// failed first fetch, at most once per min_refresh_interval.
func (r *root) OnTick() {
	j := r.cfg.jwks
	if j == nil || r.inFlight {
		return
	}
	now := time.Now()
	due := r.fetchedAt.IsZero() || now.Sub(r.fetchedAt) >= j.ttl
	if due && now.Sub(r.lastAttempt) >= min(j.minRefresh, j.ttl) {
		if err := r.fetch(); err != nil {
			r.fetchFailed(err.Error())
		}
	}
}

// fetch dispatches the JWKS request. The effective context must be the
// root context, so the answer arrives even if the request that asked for
// it has ended.
func (r *root) fetch() error {
	j := r.cfg.jwks
	r.lastAttempt = time.Now()
	_, err := sdk.DispatchHTTPCall(j.upstream, [][2]string{
		{":method", "GET"}, {":path", j.path}, {":authority", j.authority}, {":scheme", j.upstream[:strings.IndexByte(j.upstream, ':')]},
		{"accept", "application/jwk-set+json, application/json"},
	}, nil, nil, j.timeoutMS, r.onJWKS)
	if err != nil {
		return err
	}
	r.inFlight = true
	return nil
}

func (r *root) onJWKS(numHeaders, bodySize, _ int) {
	r.inFlight = false
	if reason := r.takeJWKS(numHeaders, bodySize); reason != "" {
		r.fetchFailed(reason)
	}
	waiters := r.waiters
	r.waiters = nil
	for _, c := range waiters {
		if sdk.SetEffectiveContext(c.id) != nil {
			continue // that request has ended
		}
		c.resume()
	}
}

// takeJWKS installs the fetched key set; it returns why it could not.
func (r *root) takeJWKS(numHeaders, bodySize int) string {
	if numHeaders == 0 {
		return "the request failed or timed out"
	}
	if st, _ := sdk.GetHTTPCallResponseHeader(":status"); st != "200" {
		return "status " + st
	}
	body, err := sdk.GetHTTPCallResponseBody(0, bodySize)
	if err != nil {
		return err.Error()
	}
	keys, skipped, err := parseJWKS(body)
	if err != nil {
		return err.Error()
	}
	if len(skipped) > 0 {
		sdk.LogInfof("jwt: %s: skipped %d keys: %s", r.cfg.jwks.url, len(skipped), strings.Join(skipped, "; "))
	}
	r.remote, r.fetchedAt = keys, time.Now()
	return ""
}

func (r *root) fetchFailed(reason string) {
	if r.metrics {
		_ = r.fetchErrors.Increment(1)
	}
	kept := "no keys yet"
	if r.remote != nil {
		kept = "keeping the keys fetched " + time.Since(r.fetchedAt).Round(time.Second).String() + " ago"
	}
	sdk.LogWarnf("jwt: fetching %s: %s (%s; next attempt in %s at the earliest)", r.cfg.jwks.url, reason, kept, r.cfg.jwks.minRefresh)
}

func (r *root) NewHTTPContext(id uint32) sdk.HTTPContext { return &ctx{root: r, id: id} }

type ctx struct {
	sdk.DefaultHTTPContext
	root *root
	id   uint32
	src  *source // where the token was found
	tok  *parsed
}

func (c *ctx) OnHTTPRequestHeaders(int, bool) sdk.Action {
	cfg := c.root.cfg
	raw := c.token()
	if raw == "" {
		if cfg.optional {
			c.stripMappedHeaders()
			return sdk.ActionContinue
		}
		return c.deny(errNoToken)
	}
	p, aerr := parseToken(raw, cfg.maxToken)
	if aerr != nil {
		return c.deny(aerr)
	}
	c.tok = p
	keys, aerr := c.root.keysFor(p)
	if aerr == errUnknownKey && c.root.mayRefresh() {
		return c.wait()
	}
	if aerr != nil {
		return c.deny(aerr)
	}
	return c.finish(keys)
}

// wait pauses the request until the JWKS fetch (dispatched now from the
// root context, or already in flight) ends.
func (c *ctx) wait() sdk.Action {
	r := c.root
	if !r.inFlight {
		if sdk.SetEffectiveContext(r.id) != nil {
			return c.deny(errUnknownKey)
		}
		err := r.fetch()
		_ = sdk.SetEffectiveContext(c.id)
		if err != nil {
			r.fetchFailed(err.Error())
			return c.deny(errUnknownKey)
		}
	}
	r.waiters = append(r.waiters, c)
	return sdk.ActionPause
}

// resume finishes a request that waited for the JWKS (its context is the
// effective one).
func (c *ctx) resume() {
	keys, aerr := c.root.keysFor(c.tok)
	if aerr == errUnknownKey && c.root.remote == nil {
		aerr = errKeysNotReady
	}
	if aerr != nil {
		c.deny(aerr)
		return
	}
	if c.finish(keys) == sdk.ActionContinue {
		_ = sdk.ResumeHTTPRequest()
	}
}

// mayRefresh reports whether an unknown key id may trigger a JWKS fetch:
// one is in flight, or the last attempt is min_refresh_interval old.
func (r *root) mayRefresh() bool {
	j := r.cfg.jwks
	return j != nil && (r.inFlight || time.Since(r.lastAttempt) >= j.minRefresh)
}

// keysFor returns the keys that may verify p: its kid's (or every key
// when it has none), narrowed to those allowing its algorithm.
func (r *root) keysFor(p *parsed) ([]*key, *authError) {
	var byKid, out []*key
	for _, set := range [][]*key{r.cfg.keys, r.remote} {
		for _, k := range set {
			if p.Kid == "" || k.kid == "" || k.kid == p.Kid {
				byKid = append(byKid, k)
			}
		}
	}
	if len(byKid) == 0 {
		return nil, errUnknownKey
	}
	if r.cfg.algs != nil && !r.cfg.algs[p.Alg] {
		return nil, errAlg
	}
	for _, k := range byKid {
		if k.allows(p.Alg) && len(out) < maxTries {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, errAlg
	}
	return out, nil
}

// finish verifies the signature with keys, then the claims; on success it
// hands the claims on and continues.
func (c *ctx) finish(keys []*key) sdk.Action {
	p := c.tok
	ok := false
	for _, k := range keys {
		secret := k.secret
		if k.stageVar != "" {
			if secret = c.stageSecret(k, p.Alg); secret == nil {
				continue
			}
		}
		if k.verify(p.Alg, p.signed, p.sig, secret) {
			ok = true
			break
		}
	}
	if !ok {
		return c.deny(errSignature)
	}
	claims, aerr := c.root.cfg.checkClaims(p.payload, time.Now().Unix())
	if aerr != nil {
		return c.deny(aerr)
	}
	c.pass(claims)
	return sdk.ActionContinue
}

// stageSecret resolves a ${stageVariables.NAME} secret for this request's
// stage; nil (logged) when it is missing, not base64 or too short for alg.
func (c *ctx) stageSecret(k *key, alg string) []byte {
	v, err := sdk.GetStageVariable(k.stageVar)
	if err != nil || v == "" {
		sdk.LogErrorf("jwt: %s: the stage variable %q is not set in this stage", k.origin, k.stageVar)
		return nil
	}
	s := []byte(v)
	if k.secretB64 {
		if s, err = decodeBase64(v); err != nil {
			sdk.LogErrorf("jwt: %s: the stage variable %q is not base64", k.origin, k.stageVar)
			return nil
		}
	}
	if len(s) < algHash[alg].Size() {
		sdk.LogErrorf("jwt: %s: the secret in stage variable %q has %d bytes, %s needs at least %d", k.origin, k.stageVar, len(s), alg, algHash[alg].Size())
		return nil
	}
	return s
}

// pass hands the verified claims on: properties, headers, and the token
// removed when configured.
func (c *ctx) pass(claims map[string]any) {
	cfg := c.root.cfg
	if cfg.props == "json" || cfg.props == "both" {
		_ = sdk.SetProperty([]string{"wasmgate", "jwt", "claims"}, c.tok.payload)
	}
	if cfg.props == "each" || cfg.props == "both" {
		for name, v := range claims {
			_ = sdk.SetProperty([]string{"wasmgate", "jwt", "claims", name}, []byte(claimText(v)))
		}
	}
	for _, m := range cfg.headers {
		_ = sdk.RemoveHTTPRequestHeader(m.header)
		if v, ok := claims[m.claim]; ok && v != nil {
			if s := claimText(v); headerSafe(s) {
				_ = sdk.ReplaceHTTPRequestHeader(m.header, s)
			}
		}
	}
	if cfg.removeToken {
		c.removeToken()
	}
}

// stripMappedHeaders removes the claim headers a client may have sent, so
// the upstream never mistakes them for verified claims.
func (c *ctx) stripMappedHeaders() {
	for _, m := range c.root.cfg.headers {
		_ = sdk.RemoveHTTPRequestHeader(m.header)
	}
}

func (c *ctx) deny(e *authError) sdk.Action {
	r := c.root
	if r.metrics {
		_ = r.denied.Increment(1)
	}
	if e.status == 403 {
		h := [][2]string{{"content-type", "application/json"}}
		if e.code != "" {
			h = append(h, [2]string{"www-authenticate", c.challenge(e)})
		}
		_ = sdk.SendHTTPResponse(403, h, []byte(`{"message":"Forbidden"}`+"\n"), -1)
		return sdk.ActionPause
	}
	_ = sdk.SendHTTPResponse(401, [][2]string{
		{"content-type", "application/json"},
		{"www-authenticate", c.challenge(e)},
	}, []byte(`{"message":"Unauthorized"}`+"\n"), -1)
	return sdk.ActionPause
}

// challenge is the WWW-Authenticate value (RFC 6750 section 3): no error
// code when the request had no token.
func (c *ctx) challenge(e *authError) string {
	var b strings.Builder
	b.WriteString("Bearer")
	sep := " "
	if realm := c.root.cfg.realm; realm != "" {
		b.WriteString(` realm="` + realm + `"`)
		sep = ", "
	}
	if e.code != "" {
		b.WriteString(sep + `error="` + e.code + `", error_description="` + e.desc + `"`)
		if e.code == "insufficient_scope" {
			b.WriteString(`, scope="` + strings.Join(c.root.cfg.scopes, " ") + `"`)
		}
	}
	return b.String()
}

// token returns the first token found in the configured sources.
func (c *ctx) token() string {
	for i := range c.root.cfg.from {
		s := &c.root.cfg.from[i]
		var v string
		switch s.kind {
		case fromHeader:
			v, _ = sdk.GetHTTPRequestHeader(s.name)
			if s.scheme != "" {
				if len(v) < len(s.scheme) || !strings.EqualFold(v[:len(s.scheme)], s.scheme) {
					continue
				}
				v = v[len(s.scheme):]
			}
		case fromQuery:
			path, _ := sdk.GetHTTPRequestHeader(":path")
			_, q, _ := strings.Cut(path, "?")
			v = queryParam(q, s.name)
		case fromCookie:
			cookies, _ := sdk.GetHTTPRequestHeader("cookie")
			v = cookieValue(cookies, s.name)
		}
		if v = strings.TrimSpace(v); v != "" {
			c.src = s
			return v
		}
	}
	return ""
}

// removeToken takes the token out of the request before the upstream.
func (c *ctx) removeToken() {
	s := c.src
	switch s.kind {
	case fromHeader:
		_ = sdk.RemoveHTTPRequestHeader(s.name)
	case fromQuery:
		path, _ := sdk.GetHTTPRequestHeader(":path")
		p, q, _ := strings.Cut(path, "?")
		var kept []string
		for _, part := range strings.Split(q, "&") {
			k, _, _ := strings.Cut(part, "=")
			if uk, err := url.QueryUnescape(k); err == nil && uk == s.name {
				continue
			}
			if part != "" {
				kept = append(kept, part)
			}
		}
		if len(kept) > 0 {
			p += "?" + strings.Join(kept, "&")
		}
		_ = sdk.ReplaceHTTPRequestHeader(":path", p)
	case fromCookie:
		cookies, _ := sdk.GetHTTPRequestHeader("cookie")
		var kept []string
		for _, part := range strings.Split(cookies, ";") {
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if name != s.name && strings.TrimSpace(part) != "" {
				kept = append(kept, strings.TrimSpace(part))
			}
		}
		if len(kept) == 0 {
			_ = sdk.RemoveHTTPRequestHeader("cookie")
		} else {
			_ = sdk.ReplaceHTTPRequestHeader("cookie", strings.Join(kept, "; "))
		}
	}
}

// queryParam returns the first value of name in a raw query.
func queryParam(q, name string) string {
	for q != "" {
		var part string
		part, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == name {
			uv, err := url.QueryUnescape(v)
			if err != nil {
				return ""
			}
			return uv
		}
	}
	return ""
}

// cookieValue returns the value of the cookie name in a Cookie header.
func cookieValue(header, name string) string {
	for header != "" {
		var part string
		part, header, _ = strings.Cut(header, ";")
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}
