package e2e

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// jwksHost serves a JWK set that the test rotates, or fails.
type jwksHost struct {
	mu    sync.Mutex
	keys  map[string]*rsa.PrivateKey
	down  atomic.Bool
	calls atomic.Int32
	srv   *httptest.Server
}

func newJWKSHost(t *testing.T) *jwksHost {
	h := &jwksHost{keys: map[string]*rsa.PrivateKey{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.calls.Add(1)
		if h.down.Load() || r.URL.Path != "/.well-known/jwks.json" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		h.mu.Lock()
		var keys []map[string]string
		for kid, k := range h.keys {
			keys = append(keys, map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
				"n": b64u(k.N.Bytes()), "e": b64u(big.NewInt(int64(k.E)).Bytes())})
		}
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *jwksHost) add(t *testing.T, kid string) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.keys[kid] = k
	h.mu.Unlock()
	return k
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rs256(t *testing.T, k *rsa.PrivateKey, kid string, claims map[string]any) string {
	hb, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
	cb, _ := json.Marshal(claims)
	in := b64u(hb) + "." + b64u(cb)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64u(sig)
}

func TestJWTWithJWKS(t *testing.T) {
	idp := newJWKSHost(t)
	k1 := idp.add(t, "k1")
	up := echoUpstream(t)
	doc := fmt.Sprintf(`openapi: 3.0.3
info: {title: jwt, version: "1"}
paths:
  /pets:
    get:
      x-wasmgate-pipeline:
        - plugin: jwt
          config:
            jwks: {url: "%[1]s/.well-known/jwks.json", ttl_seconds: 60, min_refresh_interval_seconds: 1}
            issuers: [https://idp.test]
            audiences: [pets]
            required_scopes: [pets:read]
            claims_to_headers: {sub: x-user-id}
            remove_token: true
        - plugin: jwt-claims
      x-wasmgate-integration: {type: http_proxy, uri: "%[2]s/pets"}
      responses: {"200": {description: ok}}
`, idp.srv.URL, up.URL)
	e := startGateway(t, doc, nil)
	claims := func(scope string, exp time.Duration) map[string]any {
		now := time.Now()
		return map[string]any{"iss": "https://idp.test", "aud": "pets", "sub": "alice", "scope": scope,
			"iat": now.Unix(), "exp": now.Add(exp).Unix()}
	}
	url := e.base + "/pets"

	r := do(t, nil, "GET", url, nil, "Authorization", "Bearer "+rs256(t, k1, "k1", claims("pets:read", time.Minute)), "X-User-Id", "mallory")
	if r.status != 200 {
		t.Fatalf("valid token: %d %s %v", r.status, r.body, r.header)
	}
	got := decodeEcho(t, r.body)
	if v := got.Headers["X-User-Id"]; len(v) != 1 || v[0] != "alice" {
		t.Errorf("upstream X-User-Id %q, want [alice]", v)
	}
	if got.Headers["Authorization"] != nil {
		t.Error("the token reached the upstream (remove_token)")
	}
	if v := got.Headers["X-Claim-Sub"]; len(v) != 1 || v[0] != "alice" {
		t.Errorf("wasmgate.jwt.claims.sub as seen by the next plugin: %q", v)
	}
	if v := got.Headers["X-Claims-Json"]; len(v) != 1 || !strings.Contains(v[0], `"sub":"alice"`) {
		t.Errorf("wasmgate.jwt.claims as seen by the next plugin: %q", v)
	}

	unauthorized := func(what string, r resp, desc string) {
		t.Helper()
		www := r.header.Get("WWW-Authenticate")
		if r.status != 401 || r.body != `{"message":"Unauthorized"}`+"\n" || !strings.Contains(www, desc) {
			t.Errorf("%s: %d %q WWW-Authenticate %q, want 401 with %q", what, r.status, r.body, www, desc)
		}
	}
	unauthorized("no token", do(t, nil, "GET", url, nil), "Bearer")
	unauthorized("expired", do(t, nil, "GET", url, nil, "Authorization", "Bearer "+rs256(t, k1, "k1", claims("pets:read", -5*time.Minute))), `error="invalid_token", error_description="the token has expired"`)
	r = do(t, nil, "GET", url, nil, "Authorization", "Bearer "+rs256(t, k1, "k1", claims("pets:write", time.Minute)))
	if r.status != 403 || r.body != `{"message":"Forbidden"}`+"\n" || !strings.Contains(r.header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Errorf("missing scope: %d %q %v", r.status, r.body, r.header)
	}

	// Rotation: k2 appears at the IdP; a token signed with it is accepted
	// after the refresh its unknown kid triggers.
	k2 := idp.add(t, "k2")
	time.Sleep(1100 * time.Millisecond) // min_refresh_interval_seconds
	tok2 := rs256(t, k2, "k2", claims("pets:read", time.Minute))
	if r := do(t, nil, "GET", url, nil, "Authorization", "Bearer "+tok2); r.status != 200 {
		t.Fatalf("k2 after rotation: %d %s %v", r.status, r.body, r.header)
	}
	// A kid nobody published: 401, and no more than one fetch per
	// instance per interval however many requests ask.
	stranger, _ := rsa.GenerateKey(rand.Reader, 2048)
	before := idp.calls.Load()
	for i := 0; i < 20; i++ {
		unauthorized("unknown kid", do(t, nil, "GET", url, nil, "Authorization", "Bearer "+rs256(t, stranger, "k9", claims("pets:read", time.Minute))), "no key matches")
	}
	if n := idp.calls.Load() - before; n > 4 { // PoolMax instances
		t.Errorf("%d JWKS fetches for 20 unknown-kid requests", n)
	}
	// The IdP goes down: known keys keep working.
	idp.down.Store(true)
	time.Sleep(1100 * time.Millisecond)
	for i := 0; i < 5; i++ {
		if r := do(t, nil, "GET", url, nil, "Authorization", "Bearer "+tok2); r.status != 200 {
			t.Fatalf("k2 with the IdP down: %d %s", r.status, r.body)
		}
	}
	unauthorized("unknown kid with the IdP down", do(t, nil, "GET", url, nil, "Authorization", "Bearer "+rs256(t, stranger, "k8", claims("pets:read", time.Minute))), "no key matches")
}
