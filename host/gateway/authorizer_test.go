package gateway

import (
	"context"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/config"
)

func TestWildcardMatch(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true},
		{"*", "arn:aws:execute-api:local:000000000000:wasmgate/prod/GET/pets/1", true},
		{"arn:aws:execute-api:*:*:*/prod/GET/*", "arn:aws:execute-api:local:000000000000:wasmgate/prod/GET/pets/1", true},
		{"arn:aws:execute-api:*:*:*/prod/GET/*", "arn:aws:execute-api:local:000000000000:wasmgate/dev/GET/pets/1", false},
		{"arn:aws:execute-api:*:*:*/*/*/pets/?", "arn:aws:execute-api:local:000000000000:wasmgate/prod/GET/pets/1", true},
		{"arn:aws:execute-api:*:*:*/*/*/pets/?", "arn:aws:execute-api:local:000000000000:wasmgate/prod/GET/pets/12", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"abc", "abcd", false},
		{"abc*", "abc", true},
	} {
		if got := wildcardMatch(c.p, c.s); got != c.want {
			t.Errorf("wildcardMatch(%q, %q) = %t", c.p, c.s, got)
		}
	}
	// Actions compare without case; resources with it.
	if !wildcardMatchFold("EXECUTE-API:*", "execute-api:Invoke", true) || wildcardMatchFold("*/get/*", "x/GET/y", false) {
		t.Error("case folding")
	}
}

func TestParseAuthorizerResponseAndPolicy(t *testing.T) {
	const arn = "arn:aws:execute-api:local:000000000000:wasmgate/prod/GET/pets/1"
	for _, c := range []struct {
		name, body string
		err        string
		simple     bool
		want       effect
		context    [][2]string
	}{
		{name: "allow", body: `{"principalId":"alice","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":["arn:aws:execute-api:*:*:*/prod/*"]}]},"context":{"tier":"gold","n":3,"ok":true}}`,
			want: effectAllow, context: [][2]string{{"n", "3"}, {"ok", "true"}, {"tier", "gold"}}},
		{name: "deny wins", body: `{"principalId":"a","policyDocument":{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"},{"Action":["execute-api:*"],"Effect":"Deny","Resource":"*/GET/pets/*"}]}}`, want: effectDeny},
		{name: "one statement object", body: `{"principalId":"a","policyDocument":{"Statement":{"Action":"execute-api:invoke","Effect":"allow","Resource":"*"}}}`, want: effectAllow},
		{name: "implicit deny: other stage", body: `{"principalId":"a","policyDocument":{"Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*/dev/*"}]}}`, want: effectNone},
		{name: "implicit deny: other action", body: `{"principalId":"a","policyDocument":{"Statement":[{"Action":"execute-api:ManageConnections","Effect":"Allow","Resource":"*"}]}}`, want: effectNone},
		{name: "simple", body: `{"isAuthorized":true,"context":{"k":"v"}}`, simple: true, context: [][2]string{{"k", "v"}}},
		{name: "no principal", body: `{"policyDocument":{"Statement":[]}}`, err: "principalId is missing"},
		{name: "no policy", body: `{"principalId":"a"}`, err: "policyDocument is missing"},
		{name: "bad effect", body: `{"principalId":"a","policyDocument":{"Statement":[{"Action":"*","Effect":"Maybe","Resource":"*"}]}}`, err: "Effect must be Allow or Deny"},
		{name: "no resource", body: `{"principalId":"a","policyDocument":{"Statement":[{"Action":"*","Effect":"Allow"}]}}`, err: "Resource: missing"},
		{name: "object in context", body: `{"principalId":"a","policyDocument":{"Statement":[]},"context":{"o":{"a":1}}}`, err: "context.o"},
		{name: "not JSON", body: `Unauthorized`, err: "not a JSON object"},
		{name: "principal not a string", body: `{"principalId":7,"policyDocument":{"Statement":[]}}`, err: "principalId must be a string"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := parseAuthorizerResponse([]byte(c.body))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.simple != c.simple || !c.simple && evaluatePolicy(d.policy, arn) != c.want {
				t.Errorf("simple %t, effect %d; want %t, %d", d.simple, evaluatePolicy(d.policy, arn), c.simple, c.want)
			}
			if c.context != nil && !reflect.DeepEqual(d.context, c.context) {
				t.Errorf("context %v, want %v", d.context, c.context)
			}
		})
	}
}

func testReqCtx(method, target string, params ...Param) *reqCtx {
	r := httptest.NewRequest(method, target, nil)
	return &reqCtx{
		r: r, id: "req-1", scheme: "http",
		snap:   &Snapshot{ID: "d-1", API: &config.API{BasePath: "/v1"}},
		stage:  &stage{name: "prod", vars: map[string]string{"tenant": "acme"}},
		route:  &Route{Template: "/v1/pets/{id}", Data: &operation{op: &config.Operation{Path: "/pets/{id}"}}},
		params: params,
	}
}

func TestMethodARNAndIdentity(t *testing.T) {
	rc := testReqCtx("GET", "http://api.example.com/prod/v1/pets/7?key=k1&key=k2", Param{Name: "id", Value: "7"})
	if got, want := methodARN(rc), "arn:aws:execute-api:local:000000000000:wasmgate/prod/GET/pets/7"; got != want {
		t.Errorf("methodARN = %q, want %q", got, want)
	}
	rc.r.Header.Set("X-User", "u1")
	a := &authorizer{cfg: &config.Authorizer{IdentitySources: []config.IdentitySource{
		{In: config.IdentityHeader, Name: "x-user"}, {In: config.IdentityQuery, Name: "key"},
		{In: config.IdentityStageVariable, Name: "tenant"}, {In: config.IdentityContext, Name: "httpMethod"},
	}}}
	vals, ok := a.identity(rc)
	if !ok || !reflect.DeepEqual(vals, []string{"u1", "k2", "acme", "GET"}) {
		t.Errorf("identity = %q, %t", vals, ok)
	}
	rc.r.Header.Del("X-User")
	if _, ok := a.identity(rc); ok {
		t.Error("a missing header is an identity")
	}
	ev := (&authorizer{cfg: &config.Authorizer{Type: config.AuthorizerRequest}}).event(rc, nil).(*requestEvent)
	if ev.Path != "/v1/pets/7" || ev.Resource != "/pets/{id}" || ev.PathParameters["id"] != "7" || ev.QueryStringParameters["key"] != "k2" ||
		ev.StageVariables["tenant"] != "acme" || ev.RequestContext.Stage != "prod" || ev.RequestContext.RequestID != "req-1" {
		t.Errorf("request event %+v", ev)
	}
}

func TestAuthorizerProperty(t *testing.T) {
	rc := testReqCtx("GET", "/prod/v1/pets/7")
	if _, ok := rc.Property(abi.PropAuthorizerPrincipalID); ok {
		t.Error("a principal without an authorizer")
	}
	rc.auth = &authDecision{principal: "alice", context: [][2]string{{"tier", "gold"}}}
	for path, want := range map[string]string{abi.PropAuthorizerPrincipalID: "alice", "wasmgate.authorizer.tier": "gold"} {
		if v, ok := rc.Property(path); !ok || string(v) != want {
			t.Errorf("%s = %q, %t", path, v, ok)
		}
	}
	if _, ok := rc.Property("wasmgate.authorizer.nope"); ok {
		t.Error("an unknown key is found")
	}
	m, ok := rc.Property(abi.PropAuthorizer)
	if want := abi.AppendMap(nil, [][2]string{{"principal_id", "alice"}, {"tier", "gold"}}); !ok || string(m) != string(want) {
		t.Errorf("map %q", m)
	}
}

// TestAuthorizerCacheHammer: many requests for a few identities at once
// (run with -race) make one call per identity; failures are not cached;
// entries expire with the TTL; a zero TTL calls every time.
func TestAuthorizerCacheHammer(t *testing.T) {
	var calls atomic.Int64
	gate := make(chan struct{})
	a := &authorizer{cfg: &config.Authorizer{Name: "t"}, ttl: time.Hour, cache: map[string]authEntry{}, inflight: map[string]*authCall{}}
	a.call = func(_ context.Context, _ *reqCtx, vals []string) *authDecision {
		calls.Add(1)
		<-gate // hold the first callers so that the others pile up
		if vals[0] == "fail" {
			return &authDecision{status: 500, typ: respAuthorizerFailure, reason: "down"}
		}
		return &authDecision{principal: vals[0]}
	}
	const goroutines = 64
	keys := []string{"a", "b", "c", "fail"}
	var wg sync.WaitGroup
	got := make([]*authDecision, goroutines)
	for i := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = a.decide(testReqCtx("GET", "/prod/v1/pets/1"), []string{keys[i%len(keys)]})
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(gate)
	wg.Wait()
	if n := calls.Load(); n != int64(len(keys)) {
		t.Errorf("%d calls for %d identities", n, len(keys))
	}
	for i, d := range got {
		k := keys[i%len(keys)]
		if k == "fail" && d.status != 500 || k != "fail" && d.principal != k {
			t.Errorf("request %d (%s): %+v", i, k, d)
		}
	}
	// Cached: a, b, c; the failure is tried again.
	for _, k := range keys {
		a.decide(testReqCtx("GET", "/prod/v1/pets/1"), []string{k})
	}
	if n := calls.Load(); n != int64(len(keys))+1 {
		t.Errorf("%d calls after the cached round, want %d", n, len(keys)+1)
	}
	// Another stage is another entry.
	rc := testReqCtx("GET", "/dev/v1/pets/1")
	rc.stage = &stage{name: "dev"}
	a.decide(rc, []string{"a"})
	if n := calls.Load(); n != int64(len(keys))+2 {
		t.Errorf("%d calls after another stage, want %d", n, len(keys)+2)
	}
	// Expired entries are called again.
	a.mu.Lock()
	for k, e := range a.cache {
		e.expires = time.Now().Add(-time.Second)
		a.cache[k] = e
	}
	a.mu.Unlock()
	a.decide(testReqCtx("GET", "/prod/v1/pets/1"), []string{"a"})
	if n := calls.Load(); n != int64(len(keys))+3 {
		t.Errorf("%d calls after expiry, want %d", n, len(keys)+3)
	}
	// No TTL: every request calls.
	a.ttl = 0
	for range 3 {
		a.decide(testReqCtx("GET", "/prod/v1/pets/1"), []string{"a"})
	}
	if n := calls.Load(); n != int64(len(keys))+6 {
		t.Errorf("%d calls without a TTL, want %d", n, len(keys)+6)
	}
}

// BenchmarkAuthorizerCacheHit measures what a cached decision costs a
// request: reading the identity, the cache lookup and the policy
// evaluation against its method ARN.
func BenchmarkAuthorizerCacheHit(b *testing.B) {
	a := &authorizer{cfg: &config.Authorizer{Name: "t", Type: config.AuthorizerToken,
		IdentitySources: []config.IdentitySource{{In: config.IdentityHeader, Name: "Authorization"}}},
		ttl: time.Hour, cache: map[string]authEntry{}, inflight: map[string]*authCall{}}
	d, err := parseAuthorizerResponse([]byte(`{"principalId":"alice","policyDocument":{"Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:*:*:*/prod/GET/*"}]},"context":{"tier":"gold"}}`))
	if err != nil {
		b.Fatal(err)
	}
	a.call = func(context.Context, *reqCtx, []string) *authDecision { return d }
	rc := testReqCtx("GET", "/prod/v1/pets/7")
	rc.r.Header.Set("Authorization", "Bearer alice-token")
	b.ReportAllocs()
	for b.Loop() {
		vals, ok := a.identity(rc)
		if !ok {
			b.Fatal("no identity")
		}
		if got := a.decide(rc, vals); evaluatePolicy(got.policy, methodARN(rc)) != effectAllow {
			b.Fatal("not allowed")
		}
	}
}
