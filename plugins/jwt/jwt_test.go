package main

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/host/wasm"
	"github.com/wasmgate/wasmgate/sdk/go/sdktest"
)

const iss, aud = "https://issuer.example.com", "pets-api"

func staticConfig(t testing.TB) string {
	testKeys(t)
	return mustJSON(map[string]any{
		"keys": []any{
			map[string]any{"kid": "rs", "pem": rsaPEM},
			map[string]any{"jwk": ecJWK("ec", &ecKey.PublicKey)},
			map[string]any{"kid": "ec384", "pem": pubPEM(t, &ecKey384.PublicKey)},
			map[string]any{"kid": "hs", "secret_base64": b64(hmacSecret)},
		},
		"issuers":           []string{iss},
		"audiences":         []string{aud},
		"claims_to_headers": map[string]string{"sub": "x-user", "roles": "x-roles"},
	})
}

func claims(mod func(map[string]any)) map[string]any {
	now := time.Now().Unix()
	c := map[string]any{"iss": iss, "aud": aud, "sub": "alice", "exp": now + 300, "iat": now, "roles": []string{"admin", "dev"}}
	if mod != nil {
		mod(c)
	}
	return c
}

func hdr(alg, kid string) map[string]any {
	h := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		h["kid"] = kid
	}
	return h
}

func bearer(tok string) [][2]string { return [][2]string{{"authorization", "Bearer " + tok}} }

func TestVerify(t *testing.T) {
	h := sdktest.New(t, pluginWasm(t), sdktest.Options{Config: staticConfig(t), LogLevel: 2})
	now := time.Now().Unix()
	good := sign(t, hdr("RS256", "rs"), claims(nil), rsaKey)
	parts := strings.Split(good, ".")
	flipped := []byte(parts[2])
	flipped[5] ^= 1
	if flipped[5] == '.' {
		flipped[5] = 'A'
	}
	// RS256 -> HS256 confusion: the public key (PEM text) as HMAC secret.
	confused := sign(t, hdr("HS256", "rs"), claims(nil), []byte(rsaPEM))
	confusedNoKid := sign(t, hdr("HS256", ""), claims(nil), []byte(rsaPEM))
	noneTok := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64([]byte(mustJSON(claims(nil)))) + "."
	noneSigned := b64([]byte(`{"alg":"none","kid":"rs"}`)) + "." + parts[1] + "." + parts[2]
	derSig := parts[0] + "." + parts[1] + "." + b64(append([]byte{0x30, 0x44}, make([]byte, 68)...))

	cases := []struct {
		name    string
		headers [][2]string
		status  int
		desc    string // in WWW-Authenticate
	}{
		{"RS256", bearer(good), 200, ""},
		{"RS384", bearer(sign(t, hdr("RS384", "rs"), claims(nil), rsaKey)), 200, ""},
		{"RS512", bearer(sign(t, hdr("RS512", "rs"), claims(nil), rsaKey)), 200, ""},
		{"PS256", bearer(sign(t, hdr("PS256", "rs"), claims(nil), rsaKey)), 200, ""},
		{"ES256 from a JWK", bearer(sign(t, hdr("ES256", "ec"), claims(nil), ecKey)), 200, ""},
		{"ES384", bearer(sign(t, hdr("ES384", "ec384"), claims(nil), ecKey384)), 200, ""},
		{"HS256", bearer(sign(t, hdr("HS256", "hs"), claims(nil), hmacSecret)), 200, ""},
		{"no kid: tried on the keys that allow the alg", bearer(sign(t, hdr("ES256", ""), claims(nil), ecKey)), 200, ""},
		{"scheme is case-insensitive", [][2]string{{"authorization", "bearer " + good}}, 200, ""},
		{"aud array", bearer(sign(t, hdr("RS256", "rs"), claims(func(c map[string]any) { c["aud"] = []string{"other", aud} }), rsaKey)), 200, ""},
		{"expired within the skew", bearer(sign(t, hdr("RS256", "rs"), claims(func(c map[string]any) { c["exp"] = now - 30 }), rsaKey)), 200, ""},
		{"fractional exp", bearer(sign(t, hdr("RS256", "rs"), claims(func(c map[string]any) { c["exp"] = float64(now) + 100.5 }), rsaKey)), 200, ""},

		{"missing", nil, 401, "-"},
		{"basic auth", [][2]string{{"authorization", "Basic YTpi"}}, 401, "-"},
		{"empty bearer", [][2]string{{"authorization", "Bearer "}}, 401, "-"},
		{"expired", bearer(sign(t, hdr("RS256", "rs"), claims(func(c map[string]any) { c["exp"] = now - 120 }), rsaKey)), 401, "expired"},
		{"no exp", bearer(sign(t, hdr("RS256", "rs"), claims(func(c map[string]any) { delete(c, "exp") }), rsaKey)), 401, "no expiry"},
		{"exp is a string", bearer(sign(t, hdr("RS256", "rs"), claims(func(c map[string]any) { c["exp"] = "tomorrow" }), rsaKey)), 401, "not a number"},
		{"not yet valid", bearer(sign(t, hdr("RS256", "rs"), claims(func(c map[string]any) { c["nbf"] = now + 120 }), rsaKey)), 401, "not valid yet"},
		{"issued in the future", bearer(sign(t, hdr("RS256", "rs"), claims(func(c map[string]any) { c["iat"] = now + 600 }), rsaKey)), 401, "future"},
		{"wrong issuer", bearer(sign(t, hdr("RS256", "rs"), claims(func(c map[string]any) { c["iss"] = "https://evil" }), rsaKey)), 401, "issuer"},
		{"wrong audience", bearer(sign(t, hdr("RS256", "rs"), claims(func(c map[string]any) { c["aud"] = "other" }), rsaKey)), 401, "audience"},
		{"no audience", bearer(sign(t, hdr("RS256", "rs"), claims(func(c map[string]any) { delete(c, "aud") }), rsaKey)), 401, "audience"},
		{"bad signature", bearer(parts[0] + "." + parts[1] + "." + string(flipped)), 401, ""},
		{"payload swapped", bearer(parts[0] + "." + b64([]byte(mustJSON(claims(func(c map[string]any) { c["sub"] = "root" })))) + "." + parts[2]), 401, "signature"},
		{"signed by another RSA key", bearer(sign(t, hdr("RS256", "rs"), claims(nil), rsaKey2)), 401, "signature"},
		{"alg swap RS->HS, public key as secret", bearer(confused), 401, "algorithm"},
		{"alg swap RS->HS without kid", bearer(confusedNoKid), 401, "signature"},
		{"alg swap ES on an RSA key", bearer(sign(t, hdr("ES256", "rs"), claims(nil), ecKey)), 401, "algorithm"},
		{"alg none", bearer(noneTok), 401, "algorithm"},
		{"alg none with a signature", bearer(noneSigned), 401, "algorithm"},
		{"alg NONE", bearer(b64([]byte(`{"alg":"NONE"}`)) + "." + parts[1] + "."), 401, "algorithm"},
		{"alg missing", bearer(b64([]byte(`{"kid":"rs"}`)) + "." + parts[1] + "." + parts[2]), 401, "algorithm"},
		{"crit header", bearer(sign(t, map[string]any{"alg": "RS256", "kid": "rs", "crit": []string{"exp"}, "exp": 1}, claims(nil), rsaKey)), 401, "critical"},
		{"ECDSA signature in DER", bearer(derSig), 401, "signature"},
		{"ES256 signature one byte short", bearer(func() string {
			tok := sign(t, hdr("ES256", "ec"), claims(nil), ecKey)
			p := strings.Split(tok, ".")
			s, _ := b64url.DecodeString(p[2])
			return p[0] + "." + p[1] + "." + b64(s[1:])
		}()), 401, "signature"},
		{"unknown kid", bearer(sign(t, hdr("RS256", "nope"), claims(nil), rsaKey)), 401, "key id"},
		{"bad base64", bearer("eyJhbGciOiJSUzI1NiJ9.@@@." + parts[2]), 401, "malformed"},
		{"base64 padding", bearer(parts[0] + "=." + parts[1] + "." + parts[2]), 401, "malformed"},
		{"two parts", bearer(parts[0] + "." + parts[1]), 401, "malformed"},
		{"three dots", bearer(good + ".x"), 401, "malformed"},
		{"one part", bearer("abc"), 401, "malformed"},
		{"empty parts", bearer(".."), 401, "malformed"},
		{"header not JSON", bearer(b64([]byte("not json")) + "." + parts[1] + "." + parts[2]), 401, "malformed"},
		{"payload not JSON, signed", bearer(func() string {
			in := parts[0] + "." + b64([]byte("[1,2"))
			return in + "." + b64(sigOf(t, "RS256", in, rsaKey))
		}()), 401, "malformed"},
		{"payload a JSON array, signed", bearer(func() string {
			in := parts[0] + "." + b64([]byte("[1,2]"))
			return in + "." + b64(sigOf(t, "RS256", in, rsaKey))
		}()), 401, "malformed"},
		{"huge token", bearer(parts[0] + "." + strings.Repeat("A", 100_000) + "." + parts[2]), 401, "too large"},
		{"JWE (five parts)", bearer("a.b.c.d.e"), 401, "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.Do(&sdktest.Request{Path: "/pets", Headers: append(tc.headers, [2]string{"x-user", "spoofed"})})
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d; www-authenticate %q; logs %v", r.Status, tc.status, r.Header("www-authenticate"), h.Logs())
			}
			if tc.status == 200 {
				if r.Upstream == nil || r.Upstream.Header("x-user") != "alice" || r.Upstream.Header("x-roles") != "admin,dev" {
					t.Fatalf("upstream headers %v", r.Upstream)
				}
				if r.Upstream.Header("authorization") == "" {
					t.Fatal("the token was removed without remove_token")
				}
				return
			}
			if !r.Local || r.Upstream != nil || string(r.Body) != "{\"message\":\"Unauthorized\"}\n" || r.Header("content-type") != "application/json" {
				t.Fatalf("local=%v upstream=%v body %q", r.Local, r.Upstream, r.Body)
			}
			www := r.Header("www-authenticate")
			if tc.desc == "-" {
				if www != "Bearer" {
					t.Fatalf("www-authenticate %q, want Bearer (no error code without a token)", www)
				}
				return
			}
			if !strings.HasPrefix(www, `Bearer error="invalid_token", error_description="`) || !strings.Contains(www, tc.desc) {
				t.Fatalf("www-authenticate %q, want invalid_token with %q", www, tc.desc)
			}
		})
	}
	if n, _ := h.Metric("jwt_denied_total"); n == 0 {
		t.Fatal("jwt_denied_total not counted")
	}
}

func TestForbidden(t *testing.T) {
	testKeys(t)
	cfg := mustJSON(map[string]any{
		"keys":            []any{map[string]any{"kid": "rs", "pem": rsaPEM, "alg": "RS256"}},
		"required_claims": []string{"email"},
		"required_scopes": []string{"pets:read", "pets:write"},
		"realm":           "pets",
	})
	h := sdktest.New(t, pluginWasm(t), sdktest.Options{Config: cfg})
	cases := []struct {
		name   string
		claims map[string]any
		status int
		www    string
	}{
		{"scope string", claims(func(c map[string]any) { c["email"] = "a@b"; c["scope"] = "openid pets:read pets:write" }), 200, ""},
		{"scp array", claims(func(c map[string]any) { c["email"] = "a@b"; c["scp"] = []string{"pets:write", "pets:read"} }), 200, ""},
		{"missing claim", claims(func(c map[string]any) { c["scope"] = "pets:read pets:write" }), 403, ""},
		{"null claim", claims(func(c map[string]any) { c["email"] = nil; c["scope"] = "pets:read pets:write" }), 403, ""},
		{"missing scope", claims(func(c map[string]any) { c["email"] = "a@b"; c["scope"] = "pets:read" }), 403,
			`Bearer realm="pets", error="insufficient_scope", error_description="the token lacks a required scope", scope="pets:read pets:write"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.Do(&sdktest.Request{Headers: bearer(sign(t, hdr("RS256", "rs"), tc.claims, rsaKey))})
			if r.Status != tc.status || r.Header("www-authenticate") != tc.www {
				t.Fatalf("status %d www-authenticate %q, want %d %q", r.Status, r.Header("www-authenticate"), tc.status, tc.www)
			}
			if tc.status == 403 && string(r.Body) != "{\"message\":\"Forbidden\"}\n" {
				t.Fatalf("body %q", r.Body)
			}
		})
	}
	// PS256 is refused on a key pinned to RS256.
	r := h.Do(&sdktest.Request{Headers: bearer(sign(t, hdr("PS256", "rs"), claims(nil), rsaKey))})
	if r.Status != 401 || !strings.Contains(r.Header("www-authenticate"), "algorithm") {
		t.Fatalf("PS256 on an RS256 key: %d %q", r.Status, r.Header("www-authenticate"))
	}
	if r.Header("www-authenticate")[:21] != `Bearer realm="pets", ` {
		t.Fatalf("realm: %q", r.Header("www-authenticate"))
	}
}

func TestSources(t *testing.T) {
	testKeys(t)
	cfg := mustJSON(map[string]any{
		"keys":         []any{map[string]any{"secret": string(hmacSecret)}},
		"from":         []any{map[string]any{"header": "x-token", "scheme": ""}, map[string]any{"query": "access_token"}, map[string]any{"cookie": "jwt"}},
		"remove_token": true,
	})
	h := sdktest.New(t, pluginWasm(t), sdktest.Options{Config: cfg})
	tok := sign(t, hdr("HS256", ""), claims(nil), hmacSecret)
	cases := []struct {
		name    string
		path    string
		headers [][2]string
		check   func(u *sdktest.Request) string
	}{
		{"header", "/pets", [][2]string{{"x-token", tok}}, func(u *sdktest.Request) string { return u.Header("x-token") }},
		{"query", "/pets?a=1&access_token=" + tok + "&b=2", nil, func(u *sdktest.Request) string {
			if u.Path != "/pets?a=1&b=2" {
				return u.Path
			}
			return ""
		}},
		{"cookie", "/pets", [][2]string{{"cookie", "a=1; jwt=" + tok + "; b=2"}}, func(u *sdktest.Request) string {
			if u.Header("cookie") != "a=1; b=2" {
				return u.Header("cookie")
			}
			return ""
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.Do(&sdktest.Request{Path: tc.path, Headers: tc.headers})
			if r.Status != 200 || r.Upstream == nil {
				t.Fatalf("status %d %q", r.Status, r.Header("www-authenticate"))
			}
			if left := tc.check(r.Upstream); left != "" {
				t.Fatalf("the token reached the upstream: %q", left)
			}
		})
	}
	if r := h.Do(&sdktest.Request{Headers: bearer(tok)}); r.Status != 401 {
		t.Fatalf("Authorization is not a configured source: %d", r.Status)
	}
}

func TestStageVariableSecret(t *testing.T) {
	secret := []byte("a stage secret of at least 32 bytes!!")
	cfg := `{"keys":[{"secret_base64":"${stageVariables.jwt_secret}"}],"optional":true,"claims_to_headers":{"sub":"x-user"}}`
	h := sdktest.New(t, pluginWasm(t), sdktest.Options{Config: cfg, Properties: map[string]string{
		"wasmgate.stage_variables.jwt_secret": b64(secret),
	}})
	if r := h.Do(&sdktest.Request{Headers: bearer(sign(t, hdr("HS256", ""), claims(nil), secret))}); r.Status != 200 || r.Upstream.Header("x-user") != "alice" {
		t.Fatalf("HS256 with the stage's secret: %d %q", r.Status, r.Header("www-authenticate"))
	}
	// 37 bytes is too short for HS384 (RFC 7518 3.2).
	if r := h.Do(&sdktest.Request{Headers: bearer(sign(t, hdr("HS384", ""), claims(nil), secret))}); r.Status != 401 {
		t.Fatalf("HS384 with a 37-byte secret: %d", r.Status)
	}
	// optional: no token passes, and a client's x-user is removed.
	r := h.Do(&sdktest.Request{Headers: [][2]string{{"x-user", "root"}}})
	if r.Status != 200 || r.Upstream.Header("x-user") != "" {
		t.Fatalf("optional without a token: %d x-user %q", r.Status, r.Upstream.Header("x-user"))
	}
	// ... but a bad token is still refused.
	if r := h.Do(&sdktest.Request{Headers: bearer(sign(t, hdr("HS256", ""), claims(nil), hmacSecret))}); r.Status != 401 {
		t.Fatalf("optional with a bad token: %d", r.Status)
	}
}

func TestBadConfig(t *testing.T) {
	testKeys(t)
	priv := "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----"
	cases := []struct{ config, want string }{
		{``, "configuration is empty"},
		{`{}`, `give "keys" or "jwks"`},
		{`{"keys":[{"secret":"0123456789abcdef0123456789abcdef"}],"extra":1}`, `unknown field "extra"`},
		{`{"keys":[{"secret":"short"}]}`, "keys[0]: HMAC secret of 5 bytes: at least 32"},
		{`{"keys":[{"secret":"x","pem":"y"}]}`, `keys[0]: give exactly one of`},
		{`{"keys":[{"pem":"nope"}]}`, "keys[0]: not a PEM block"},
		{mustJSON(map[string]any{"keys": []any{map[string]any{"pem": priv}}}), "private key"},
		{mustJSON(map[string]any{"keys": []any{map[string]any{"pem": rsaPEM, "alg": "HS256"}}}), `alg "HS256" cannot be used with this key`},
		{mustJSON(map[string]any{"keys": []any{map[string]any{"pem": rsaPEM, "alg": "none"}}}), `"alg" "none" is not a supported algorithm`},
		{mustJSON(map[string]any{"keys": []any{map[string]any{"pem": rsaPEM}}, "algorithms": []string{"none"}}), `algorithms[0] "none"`},
		{mustJSON(map[string]any{"keys": []any{map[string]any{"pem": rsaPEM}}, "algorithms": []string{"ES256"}}), `keys[0] can only verify RS256`},
		{mustJSON(map[string]any{"keys": []any{map[string]any{"jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}}}}), "keys[0]: EC JWK"},
		{mustJSON(map[string]any{"keys": []any{map[string]any{"jwk": map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}}}}), "RSA key of 17 bits"},
		{`{"keys":[{"secret":"${stageVariables.s} and more"}]}`, "a reference must be the whole value"},
		{`{"jwks":{"url":"ftp://x/keys"}}`, "jwks.url"},
		{`{"jwks":{"url":"https://idp/keys","ttl_seconds":0}}`, "jwks.ttl_seconds"},
		{`{"jwks":{"url":"https://idp/keys","min_refresh_interval_seconds":0}}`, "min_refresh_interval_seconds"},
		{`{"jwks":{"url":"https://idp/keys"}}`, "HTTP callouts must be enabled"},
		{`{"keys":[{"secret":"0123456789abcdef0123456789abcdef"}],"clock_skew_seconds":-1}`, "clock_skew_seconds"},
		{`{"keys":[{"secret":"0123456789abcdef0123456789abcdef"}],"claims_to_headers":{"sub":"bad header"}}`, `claims_to_headers["sub"]`},
		{`{"keys":[{"secret":"0123456789abcdef0123456789abcdef"}],"claims_to_headers":{"sub":"Host"}}`, `cannot be set from a claim`},
		{`{"keys":[{"secret":"0123456789abcdef0123456789abcdef"}],"from":[{"header":"a","query":"b"}]}`, `from[0]: give exactly one`},
		{`{"keys":[{"secret":"0123456789abcdef0123456789abcdef"}],"claims_property":"xml"}`, `"claims_property" "xml"`},
		{`{"keys":[{"secret":"0123456789abcdef0123456789abcdef"}],"required_scopes":["a b"]}`, `required_scopes[0]`},
	}
	for _, tc := range cases {
		_, err := sdktest.NewE(t, pluginWasm(t), sdktest.Options{Config: tc.config})
		if !errors.Is(err, wasm.ErrPluginRejected) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %.80s: %v, want rejection with %q", tc.config, err, tc.want)
		}
	}
}

// jwksServer is an HTTPCaller serving a JWKS whose content, failure mode
// and delay the test changes.
type jwksServer struct {
	body  atomic.Value // string
	mode  atomic.Value // "", "down", "slow", "500"
	calls atomic.Int32
}

func (s *jwksServer) HTTPCall(ctx context.Context, upstream string, headers [][2]string, _ []byte, _ [][2]string, _ time.Duration) (*wasm.HTTPCallResponse, error) {
	s.calls.Add(1)
	f := wasm.NewFields(headers)
	if p, _ := f.Get(":path"); upstream != "https://idp.example.com" || p != "/.well-known/jwks.json" {
		return nil, errors.New("unexpected callout " + upstream + p)
	}
	mode, _ := s.mode.Load().(string)
	switch mode {
	case "down":
		return nil, errors.New("connection refused")
	case "slow":
		<-ctx.Done()
		return nil, ctx.Err()
	case "500":
		return &wasm.HTTPCallResponse{Headers: [][2]string{{":status", "500"}}, Body: []byte("oops")}, nil
	}
	body, _ := s.body.Load().(string)
	return &wasm.HTTPCallResponse{Headers: [][2]string{{":status", "200"}}, Body: []byte(body)}, nil
}

func jwksOf(keys ...map[string]any) string { return mustJSON(map[string]any{"keys": keys}) }

func TestJWKS(t *testing.T) {
	testKeys(t)
	srv := &jwksServer{}
	srv.body.Store(jwksOf(rsaJWK("k1", &rsaKey.PublicKey), map[string]any{"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "AA"}))
	cfg := `{"jwks":{"url":"https://idp.example.com/.well-known/jwks.json","min_refresh_interval_seconds":1,"timeout_ms":300}}`
	h := sdktest.New(t, pluginWasm(t), sdktest.Options{Config: cfg, HTTPCaller: srv, LogLevel: 1})
	do := func(kid string, k any) *sdktest.Result {
		return h.Do(&sdktest.Request{Headers: bearer(sign(t, hdr("RS256", kid), claims(nil), k))})
	}
	if r := do("k1", rsaKey); r.Status != 200 {
		t.Fatalf("k1: %d %q %v", r.Status, r.Header("www-authenticate"), h.Logs())
	}
	first := srv.calls.Load()
	if first != 1 {
		t.Fatalf("%d JWKS fetches at start, want 1", first)
	}
	// A rotation: k2 appears; a token signed with it triggers a refresh
	// (the request waits for it) and passes.
	srv.body.Store(jwksOf(rsaJWK("k1", &rsaKey.PublicKey), rsaJWK("k2", &rsaKey2.PublicKey)))
	time.Sleep(1100 * time.Millisecond)
	if r := do("k2", rsaKey2); r.Status != 200 {
		t.Fatalf("k2 after rotation: %d %q %v", r.Status, r.Header("www-authenticate"), h.Logs())
	}
	// Unknown kids do not hammer the JWKS endpoint: one refresh per interval.
	n := srv.calls.Load()
	for i := 0; i < 5; i++ {
		if r := do("k9", rsaKey2); r.Status != 401 || !strings.Contains(r.Header("www-authenticate"), "key id") {
			t.Fatalf("unknown kid: %d %q", r.Status, r.Header("www-authenticate"))
		}
	}
	if got := srv.calls.Load() - n; got > 1 {
		t.Fatalf("%d fetches for 5 unknown-kid requests within the interval, want at most 1", got)
	}
	// The endpoint fails in every way: the keys already fetched stay.
	for _, mode := range []string{"down", "slow", "500", "garbage", "empty"} {
		t.Run(mode, func(t *testing.T) {
			srv.mode.Store(mode)
			switch mode {
			case "garbage":
				srv.mode.Store("")
				srv.body.Store("<html>not json")
			case "empty":
				srv.mode.Store("")
				srv.body.Store(`{"keys":[]}`)
			}
			time.Sleep(1100 * time.Millisecond)
			start := time.Now()
			if r := do("k3", rsaKey2); r.Status != 401 || r.Err != nil {
				t.Fatalf("unknown kid while the JWKS is %s: %d %v", mode, r.Status, r.Err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("a request waited %v", d)
			}
			if r := do("k2", rsaKey2); r.Status != 200 {
				t.Fatalf("known kid while the JWKS is %s: %d", mode, r.Status)
			}
		})
	}
	if n, _ := h.Metric("jwt_jwks_fetch_errors_total"); n < 5 {
		t.Fatalf("jwt_jwks_fetch_errors_total = %d, want >= 5", n)
	}
	t.Log(strings.Join(h.Logs(), "\n"))
}

// TestJWKSDownAtStart: no keys yet; requests fail with 401, and pass once
// the endpoint is back (the tick retries).
func TestJWKSDownAtStart(t *testing.T) {
	testKeys(t)
	srv := &jwksServer{}
	srv.mode.Store("down")
	srv.body.Store(jwksOf(ecJWK("e1", &ecKey.PublicKey)))
	cfg := `{"jwks":{"url":"https://idp.example.com/.well-known/jwks.json","min_refresh_interval_seconds":1}}`
	h := sdktest.New(t, pluginWasm(t), sdktest.Options{Config: cfg, HTTPCaller: srv})
	tok := sign(t, hdr("ES256", "e1"), claims(nil), ecKey)
	if r := h.Do(&sdktest.Request{Headers: bearer(tok)}); r.Status != 401 {
		t.Fatalf("JWKS down: %d", r.Status)
	}
	srv.mode.Store("")
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := h.Do(&sdktest.Request{Headers: bearer(tok)})
		if r.Status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never recovered: %d %v", r.Status, h.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestConcurrentWaiters: several requests waiting for one fetch are all
// answered from it.
func TestConcurrentWaiters(t *testing.T) {
	testKeys(t)
	srv := &jwksServer{}
	srv.body.Store(jwksOf(rsaJWK("k1", &rsaKey.PublicKey)))
	cfg := `{"jwks":{"url":"https://idp.example.com/.well-known/jwks.json","min_refresh_interval_seconds":1}}`
	h := sdktest.New(t, pluginWasm(t), sdktest.Options{Config: cfg, HTTPCaller: srv})
	if r := h.Do(&sdktest.Request{Headers: bearer(sign(t, hdr("RS256", "k1"), claims(nil), rsaKey))}); r.Status != 200 {
		t.Fatalf("k1: %d", r.Status)
	}
	srv.body.Store(jwksOf(rsaJWK("k1", &rsaKey.PublicKey), rsaJWK("k2", &rsaKey2.PublicKey)))
	time.Sleep(1100 * time.Millisecond)
	tok := sign(t, hdr("RS256", "k2"), claims(nil), rsaKey2)
	before := srv.calls.Load()
	done := make(chan int, 8)
	for i := 0; i < 8; i++ {
		go func() { done <- h.Do(&sdktest.Request{Headers: bearer(tok)}).Status }()
	}
	for i := 0; i < 8; i++ {
		if st := <-done; st != 200 {
			t.Fatalf("waiter %d: %d", i, st)
		}
	}
	if got := srv.calls.Load() - before; got != 1 {
		t.Fatalf("%d fetches for 8 waiting requests, want 1", got)
	}
}
