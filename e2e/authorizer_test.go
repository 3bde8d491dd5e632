package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/host/observe"
)

// authorizerDoc protects its operations with custom authorizers:
// token-authorizer (plugins/token-authorizer) as a cached TOKEN
// authorizer (the document's default) and an uncached one, and testauth
// (sdk/go/lambda/internal/testauth) as REQUEST authorizers. The http
// integrations forward the authorizer's answer upstream through the
// transform plugin (context.authorizer.*), as API Gateway maps it.
func authorizerDoc(upstream string) string {
	return fmt.Sprintf(`openapi: 3.0.3
info: {title: e2e authorizers, version: "1"}
x-wasmgate-stages:
  - name: prod
    variables: {tenant: acme}
  - name: dev
    variables: {tenant: dev-co}
security:
  - tokenAuth: []
components:
  securitySchemes:
    tokenAuth:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: token
        identitySource: method.request.header.Authorization
        identityValidationExpression: "^Bearer [-0-9a-zA-Z._]+$"
        authorizerResultTtlInSeconds: 300
      x-wasmgate-plugin:
        plugin: token-authorizer
        config:
          tokens:
            "Bearer alice-token": {principal: alice, context: {tier: gold, quota: 3, admin: false}}
            "Bearer bob-token":
              principal: bob
              allow: ["arn:aws:execute-api:*:*:*/prod/GET/*"]
              deny: ["*/GET/admin/*"]
    uncached:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer: {type: token, authorizerResultTtlInSeconds: 0}
      x-wasmgate-plugin:
        plugin: token-authorizer
        config:
          unknown: unauthorized
          tokens: {"Bearer carol-token": {principal: carol}}
    requestAuth:
      type: apiKey
      name: X-User
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: request
        identitySource: method.request.header.X-User, method.request.querystring.key
        authorizerResultTtlInSeconds: 300
      x-wasmgate-plugin: {plugin: testauth}
    requestUncached:
      type: apiKey
      name: X-User
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: request
        identitySource: method.request.header.X-User
        authorizerResultTtlInSeconds: 0
      x-wasmgate-plugin: {plugin: testauth}
paths:
  /pets/{id}:
    get:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: %[1]s/pets/{id}
        requestParameters:
          integration.request.header.x-principal: context.authorizer.principalId
          integration.request.header.x-tier: context.authorizer.tier
          integration.request.header.x-quota: context.authorizer.quota
      responses: {"200": {description: the upstream's echo}}
    delete:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      x-wasmgate-integration: {type: mock}
      responses: {"200": {description: ok}}
  /admin/stats:
    get:
      x-wasmgate-integration: {type: mock}
      responses: {"200": {description: ok}}
  /open:
    get:
      security: []
      x-wasmgate-integration: {type: mock}
      responses: {"200": {description: no authorizer}}
  /uncached:
    get:
      security: [{uncached: []}]
      x-wasmgate-integration: {type: mock}
      responses: {"200": {description: ok}}
  /req/{id}:
    get:
      security: [{requestAuth: []}]
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: %[1]s/req/{id}
        requestParameters:
          integration.request.header.x-principal: context.authorizer.principalId
          integration.request.header.x-ctx-path: context.authorizer.path
          integration.request.header.x-ctx-resource: context.authorizer.resource
          integration.request.header.x-ctx-stage: context.authorizer.stage
          integration.request.header.x-ctx-tenant: context.authorizer.tenant
          integration.request.header.x-ctx-id: context.authorizer.id
          integration.request.header.x-ctx-arn: context.authorizer.arn
      responses: {"200": {description: the upstream's echo}}
  /req-uncached:
    get:
      security: [{requestUncached: []}]
      x-wasmgate-integration: {type: mock}
      responses: {"200": {description: ok}}
`, upstream)
}

// metric returns the value of a counter the gateway's plugins define.
func (e *env) metric(name string) uint64 {
	for _, m := range e.engine.Metrics() {
		if m.Name == name {
			return uint64(m.Value)
		}
	}
	return 0
}

func message(t *testing.T, r resp) string {
	t.Helper()
	var m struct {
		Message   string `json:"message"`
		RequestID string `json:"requestId"`
	}
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("%d %q: %v", r.status, r.body, err)
	}
	if m.RequestID == "" || m.RequestID != r.header.Get("X-Request-Id") {
		t.Errorf("request id %q, header %q", m.RequestID, r.header.Get("X-Request-Id"))
	}
	return m.Message
}

func TestAuthorizerToken(t *testing.T) {
	up := echoUpstream(t)
	e := startGateway(t, authorizerDoc(up.URL), nil)
	const explicit = "User is not authorized to access this resource with an explicit deny"
	tests := []struct {
		name, method, path, token string
		status                    int
		message                   string
		called                    bool // the authorizer plugin is called (a cache miss)
	}{
		{"no token", "GET", "/prod/pets/1", "", 401, "Unauthorized", false},
		{"malformed token (identityValidationExpression)", "GET", "/prod/pets/1", "Basic YWxpY2U6cHc=", 401, "Unauthorized", false},
		{"unknown token: explicit deny", "GET", "/prod/pets/1", "Bearer nope", 403, explicit, true},
		{"unknown token again: the cached deny", "GET", "/prod/pets/2", "Bearer nope", 403, explicit, false},
		{"allowed", "GET", "/prod/pets/1", "Bearer alice-token", 200, "", true},
		{"bob on prod GET", "GET", "/prod/pets/7", "Bearer bob-token", 200, "", true},
		{"bob: another method (implicit deny of the cached policy)", "DELETE", "/prod/pets/7", "Bearer bob-token", 403, "User is not authorized to access this resource", false},
		{"bob: explicit deny wins", "GET", "/prod/admin/stats", "Bearer bob-token", 403, explicit, false},
		{"bob on dev: another stage, another cache entry", "GET", "/dev/pets/7", "Bearer bob-token", 403, "User is not authorized to access this resource", true},
		{"no authorizer", "GET", "/prod/open", "", 200, "", false},
		{"uncached: 401 from the authorizer", "GET", "/prod/uncached", "Bearer nope", 401, "Unauthorized", true},
		{"uncached: allowed", "GET", "/prod/uncached", "Bearer carol-token", 200, "", true},
		{"uncached: allowed, called again", "GET", "/prod/uncached", "Bearer carol-token", 200, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.metric("token_authorizer_calls")
			var hdr []string
			if tt.token != "" {
				hdr = []string{"Authorization", tt.token}
			}
			r := do(t, nil, tt.method, e.base+tt.path, nil, hdr...)
			if r.status != tt.status {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if tt.message != "" {
				if got := message(t, r); got != tt.message {
					t.Errorf("message %q, want %q", got, tt.message)
				}
			}
			if called := e.metric("token_authorizer_calls") > before; called != tt.called {
				t.Errorf("authorizer called: %t, want %t", called, tt.called)
			}
		})
	}

	// The authorizer's principal and context reach the transform plugin
	// after it, which maps them to the upstream's headers.
	r := do(t, nil, "GET", e.base+"/prod/pets/42", nil, "Authorization", "Bearer alice-token")
	var echo echoed
	if err := json.Unmarshal([]byte(r.body), &echo); err != nil || r.status != 200 {
		t.Fatalf("%d %s %v", r.status, r.body, err)
	}
	h := http.Header(echo.Headers)
	if echo.Path != "/pets/42" || h.Get("x-principal") != "alice" || h.Get("x-tier") != "gold" || h.Get("x-quota") != "3" {
		t.Errorf("upstream got %+v", echo)
	}
}

// TestAuthorizerCache: N requests with one token within the TTL call the
// authorizer once, concurrent ones included (the misses coalesce).
func TestAuthorizerCache(t *testing.T) {
	up := echoUpstream(t)
	// Fixed-size pools: a pool growing in the background when the test
	// ends races with the engine's Close (host/wasm: Plugin.Close does
	// not wait for a pending spawn).
	e := startGateway(t, authorizerDoc(up.URL), nil, func(o *gateway.Options) { o.PoolMin, o.PoolMax = 4, 4 })
	const n = 40
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = do(t, nil, "GET", fmt.Sprintf("%s/prod/pets/%d", e.base, i), nil, "Authorization", "Bearer alice-token").status
		}()
	}
	wg.Wait()
	for i := range n {
		r := do(t, nil, "GET", fmt.Sprintf("%s/prod/pets/%d", e.base, i), nil, "Authorization", "Bearer alice-token")
		if statuses[i] != 200 || r.status != 200 {
			t.Fatalf("request %d: %d, then %d", i, statuses[i], r.status)
		}
	}
	if got := e.metric("token_authorizer_calls"); got != 1 {
		t.Errorf("the authorizer was called %d times for %d requests with one token, want 1", got, 2*n)
	}
	// Another token is another identity.
	do(t, nil, "GET", e.base+"/prod/pets/1", nil, "Authorization", "Bearer bob-token")
	if got := e.metric("token_authorizer_calls"); got != 2 {
		t.Errorf("%d calls after a second token, want 2", got)
	}
}

func TestAuthorizerRequest(t *testing.T) {
	up := echoUpstream(t)
	e := startGateway(t, authorizerDoc(up.URL), nil)
	t.Run("identity sources", func(t *testing.T) {
		for _, c := range []struct {
			name, path, user string
			status           int
		}{
			{"no header", "/prod/req/1?key=open-sesame", "", 401},
			{"no query parameter", "/prod/req/1", "dana", 401},
			{"empty query parameter", "/prod/req/1?key=", "dana", 401},
			{"wrong key: the authorizer denies", "/prod/req/1?key=guess", "dana", 403},
		} {
			var hdr []string
			if c.user != "" {
				hdr = []string{"X-User", c.user}
			}
			if r := do(t, nil, "GET", e.base+c.path, nil, hdr...); r.status != c.status {
				t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
			}
		}
	})
	t.Run("context reaches the upstream", func(t *testing.T) {
		before := e.metric("testauth_calls")
		for i := 0; i < 3; i++ {
			r := do(t, nil, "GET", e.base+"/prod/req/9?key=open-sesame", nil, "X-User", "dana")
			var echo echoed
			if err := json.Unmarshal([]byte(r.body), &echo); err != nil || r.status != 200 {
				t.Fatalf("%d %s %v", r.status, r.body, err)
			}
			want := map[string]string{
				"x-principal": "dana", "x-ctx-path": "/req/9", "x-ctx-resource": "/req/{id}", "x-ctx-stage": "prod",
				"x-ctx-tenant": "acme", "x-ctx-id": "9", "x-ctx-arn": "arn:aws:execute-api:local:000000000000:wasmgate/prod/GET/req/9",
			}
			for k, v := range want {
				if got := http.Header(echo.Headers).Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		}
		if got := e.metric("testauth_calls") - before; got != 1 {
			t.Errorf("%d authorizer calls for 3 requests with the same identity, want 1", got)
		}
		// Another query value is another identity.
		do(t, nil, "GET", e.base+"/prod/req/9?key=other", nil, "X-User", "dana")
		if got := e.metric("testauth_calls") - before; got != 2 {
			t.Errorf("%d calls, want 2", got)
		}
	})
	t.Run("answers", func(t *testing.T) {
		for _, c := range []struct {
			user    string
			status  int
			message string
			log     string
		}{
			{"unauthorized", 401, "Unauthorized", ""},
			{"fail", 500, "Internal server error", "the identity service is down"},
			{"panic", 500, "Internal server error", "asked to panic"},
			{"malformed", 500, "Internal server error", "principalId must be a string"},
			{"simple-yes", 200, "", ""},
			{"simple-no", 403, "Forbidden", ""},
		} {
			r := do(t, nil, "GET", e.base+"/prod/req-uncached", nil, "X-User", c.user)
			if r.status != c.status {
				t.Errorf("%s: %d %s, want %d", c.user, r.status, r.body, c.status)
				continue
			}
			if c.message != "" {
				if got := message(t, r); got != c.message {
					t.Errorf("%s: message %q, want %q", c.user, got, c.message)
				}
			}
			if c.log != "" && !strings.Contains(e.errs.String(), c.log) {
				t.Errorf("%s: %q is not logged:\n%s", c.user, c.log, e.errs)
			}
		}
	})
}

// TestAuthorizerExample serves examples/authorizer/api.yaml as the README
// walks through it.
func TestAuthorizerExample(t *testing.T) {
	up := echoUpstream(t)
	example, err := os.ReadFile("../examples/authorizer/api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(example), "backend: http://127.0.0.1:9000", "backend: "+up.URL, 1)
	if doc == string(example) {
		t.Fatal("examples/authorizer/api.yaml no longer sets the backend variable this test rewrites")
	}
	e := startGateway(t, doc, nil)
	if r := do(t, nil, "GET", e.base+"/prod/health", nil); r.status != 200 {
		t.Fatalf("health: %d %s", r.status, r.body)
	}
	r := do(t, nil, "GET", e.base+"/prod/pets", nil)
	if r.status != 401 || r.header.Get("WWW-Authenticate") != `Bearer realm="petstore"` || !strings.Contains(r.body, `"hint":"send Authorization: Bearer <token>"`) {
		t.Errorf("no token: %d %v %s", r.status, r.header, r.body)
	}
	r = do(t, nil, "POST", e.base+"/prod/pets", strings.NewReader(`{}`), "Authorization", "Bearer bob-token")
	if want := `{"message":"User is not authorized to access this resource","principal":"bob","requestId":"` + r.header.Get("X-Request-Id") + `"}`; r.status != 403 || r.body != want {
		t.Errorf("bob posting: %d %s, want %s", r.status, r.body, want)
	}
	for tok, want := range map[string][2]string{"Bearer alice-token": {"alice", "gold"}, "Bearer bob-token": {"bob", "silver"}} {
		r = do(t, nil, "GET", e.base+"/prod/pets", nil, "Authorization", tok)
		var echo echoed
		if err := json.Unmarshal([]byte(r.body), &echo); err != nil || r.status != 200 {
			t.Fatalf("%s: %d %s", tok, r.status, r.body)
		}
		if h := http.Header(echo.Headers); h.Get("x-principal") != want[0] || h.Get("x-tier") != want[1] || h.Get("Authorization") != tok {
			t.Errorf("%s: upstream got %v", tok, echo.Headers)
		}
	}
}

// TestAuthorizerObserved: an authorizer plugin is observed like the
// pipeline's plugins (metrics, execution log), and the access log has the
// reason of an authorizer failure.
func TestAuthorizerObserved(t *testing.T) {
	up := echoUpstream(t)
	dir := t.TempDir()
	access, exec := filepath.Join(dir, "access.log"), filepath.Join(dir, "exec.log")
	e, obs, metricsURL := startObserved(t, authorizerDoc(up.URL),
		observe.StageSettings{AccessLog: "json", AccessLogDest: access, ExecLog: "info", ExecLogDest: exec}, nil)
	ok := do(t, nil, "GET", e.base+"/prod/pets/1", nil, "Authorization", "Bearer alice-token")
	none := do(t, nil, "GET", e.base+"/prod/pets/1", nil)
	failed := do(t, nil, "GET", e.base+"/prod/req-uncached", nil, "X-User", "fail")
	if ok.status != 200 || none.status != 401 || failed.status != 500 {
		t.Fatalf("statuses %d %d %d", ok.status, none.status, failed.status)
	}
	obs.Flush()
	lines := jsonLines(t, access)
	for _, c := range []struct {
		r      resp
		status int
		err    string
	}{{ok, 200, ""}, {none, 401, "Unauthorized"}, {failed, 500, "authorizer requestUncached: the plugin answered 500"}} {
		ls := byRequestID(lines, c.r.header.Get("X-Request-Id"))
		if len(ls) != 1 || ls[0]["status"] != float64(c.status) {
			t.Fatalf("access log lines %v", ls)
		}
		if got, _ := ls[0]["error"].(string); !strings.HasPrefix(got, c.err) || c.err == "" && got != "" {
			t.Errorf("%d: error %q, want %q", c.status, got, c.err)
		}
	}
	b, err := os.ReadFile(exec)
	if err != nil || !strings.Contains(string(b), "the identity service is down") || !strings.Contains(string(b), "testauth") {
		t.Errorf("execution log (%v):\n%s", err, b)
	}
	m := do(t, nil, "GET", metricsURL, nil).body
	for _, want := range []string{`plugin="token-authorizer",stage="prod"`, `plugin="testauth",stage="prod"`} {
		found := false
		for _, l := range strings.Split(m, "\n") {
			if strings.HasPrefix(l, "wasmgate_plugin_calls_total{") && strings.Contains(l, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no wasmgate_plugin_calls_total{%s}", want)
		}
	}
}
