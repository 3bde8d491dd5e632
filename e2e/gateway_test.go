package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/host/config"
)

// echoUpstream answers with what it received.
func echoUpstream(t testing.TB) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(3 * time.Second)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", "echo")
		json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery,
			"headers": r.Header, "host": r.Host,
		})
	}))
	t.Cleanup(s.Close)
	return s
}

type echoed struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Query   string              `json:"query"`
	Headers map[string][]string `json:"headers"`
}

func decodeEcho(t testing.TB, body string) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("upstream echo: %v: %q", err, body)
	}
	return e
}

func petsDoc(upstream string) string {
	return `openapi: 3.0.3
info: {title: e2e, version: "1"}
x-wasmgate-stages:
  - name: dev
    variables: {backend: "` + upstream + `", tier: dev}
  - name: prod
    hosts: [api.example.test]
    variables: {backend: "` + upstream + `", tier: prod}
paths:
  /pets:
    get:
      x-wasmgate-pipeline:
        - plugin: cors
          config: {allow_origins: ["https://app.example"]}
        - plugin: template
          config: {header: x-template, value: hello}
      x-wasmgate-integration: {type: http_proxy, uri: "${stageVariables.backend}/pets"}
      responses: {"200": {description: ok}}
    post:
      x-wasmgate-integration: {type: http_proxy, uri: "${stageVariables.backend}/pets"}
      responses: {"200": {description: ok}}
  /pets/{id}:
    get:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      x-wasmgate-integration: {type: http_proxy, uri: "${stageVariables.backend}/pets/{id}"}
      responses: {"200": {description: ok}}
  /files/{proxy+}:
    x-amazon-apigateway-any-method:
      parameters: [{name: proxy, in: path, required: true, schema: {type: string}}]
      x-amazon-apigateway-integration: {type: http_proxy, httpMethod: ANY, uri: "${stageVariables.backend}/files/{proxy}"}
      responses: {"200": {description: ok}}
  /slow:
    get:
      x-wasmgate-integration: {type: http_proxy, uri: "${stageVariables.backend}/slow", timeout_ms: 300}
      responses: {"200": {description: ok}}
  /down:
    get:
      x-wasmgate-integration: {type: http_proxy, uri: "http://127.0.0.1:1/nothing"}
      responses: {"200": {description: ok}}
  /deny:
    get:
      x-wasmgate-pipeline: [{plugin: deny}]
      x-wasmgate-integration: {type: http_proxy, uri: "${stageVariables.backend}/deny"}
      responses: {"200": {description: ok}}
  /health:
    get:
      x-wasmgate-integration:
        type: mock
        mock: {status: 203, headers: {content-type: application/json}, body: '{"stage":"${stage}","tier":"${stage.tier}"}'}
      responses: {"203": {description: ok}}
  /store/{key}:
    parameters: [{name: key, in: path, required: true, schema: {type: string}}]
    get:
      x-wasmgate-integration: {type: service, service: {table: kv, key: "{key}"}}
      responses: {"200": {description: ok}}
    put:
      x-wasmgate-integration: {type: service, service: {table: kv, key: "{key}"}}
      responses: {"200": {description: ok}}
    delete:
      x-wasmgate-integration: {type: service, service: {table: kv, key: "{key}"}}
      responses: {"204": {description: ok}}
`
}

func TestHTTPProxyIntegration(t *testing.T) {
	up := echoUpstream(t)
	e := startGateway(t, petsDoc(up.URL), nil)

	r := do(t, nil, "GET", e.base+"/dev/pets?limit=2", nil, "X-Client", "1")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got := decodeEcho(t, r.body)
	if got.Path != "/pets" || got.Query != "limit=2" {
		t.Errorf("upstream saw %s?%s", got.Path, got.Query)
	}
	if got.Headers["X-Template"] == nil || got.Headers["X-Template"][0] != "hello" {
		t.Errorf("the template plugin's header did not reach the upstream: %v", got.Headers)
	}
	reqID := r.header.Get("X-Request-Id")
	if reqID == "" || got.Headers["X-Request-Id"][0] != reqID {
		t.Errorf("request id %q not propagated upstream: %v", reqID, got.Headers["X-Request-Id"])
	}
	if r.header.Get("X-Wasmgate-Plugin") != "template" {
		t.Errorf("response header from the plugin missing: %v", r.header)
	}

	// Path parameters and the prod stage chosen by host name.
	req, _ := http.NewRequest("GET", e.base+"/pets/a%20b", nil)
	req.Host = "api.example.test"
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var pe echoed
	json.NewDecoder(hr.Body).Decode(&pe)
	hr.Body.Close()
	if hr.StatusCode != 200 || pe.Path != "/pets/a b" {
		t.Errorf("host-selected stage: %d %q", hr.StatusCode, pe.Path)
	}

	// Greedy proxy with ANY.
	r = do(t, nil, "DELETE", e.base+"/dev/files/a/b/c.txt", nil)
	if got := decodeEcho(t, r.body); r.status != 200 || got.Path != "/files/a/b/c.txt" || got.Method != "DELETE" {
		t.Errorf("greedy: %d %+v", r.status, got)
	}
}

func TestGatewayResponses(t *testing.T) {
	up := echoUpstream(t)
	e := startGateway(t, petsDoc(up.URL), nil)
	tests := []struct {
		name, method, path string
		body               string
		status             int
		msg                string
	}{
		{"no stage", "GET", "/qa/pets", "", 404, "Not Found"},
		{"no route", "GET", "/dev/nothing", "", 404, "Not Found"},
		{"method", "DELETE", "/dev/pets", "", 405, "Method Not Allowed"},
		{"timeout", "GET", "/dev/slow", "", 504, "Endpoint request timed out"},
		{"connect refused", "GET", "/dev/down", "", 502, "Bad Gateway"},
		{"local 403", "GET", "/dev/deny", "", 403, ""},
		{"too large", "POST", "/dev/pets", strings.Repeat("x", 11<<20), 413, "Request Too Long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body *strings.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			var r resp
			if body != nil {
				r = do(t, nil, tt.method, e.base+tt.path, body)
			} else {
				r = do(t, nil, tt.method, e.base+tt.path, nil)
			}
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.msg == "" {
				return
			}
			var ge struct{ Message, RequestID string }
			if err := json.Unmarshal([]byte(r.body), &ge); err != nil {
				t.Fatalf("gateway responses are JSON: %q", r.body)
			}
			if !strings.Contains(ge.Message, tt.msg) || ge.RequestID == "" || ge.RequestID != r.header.Get("X-Request-Id") {
				t.Errorf("body %q, request id header %q", r.body, r.header.Get("X-Request-Id"))
			}
		})
	}
	if r := do(t, nil, "DELETE", e.base+"/dev/pets", nil); r.header.Get("Allow") != "GET, POST" {
		t.Errorf("405 Allow header %q", r.header.Get("Allow"))
	}
}

func TestCORSPreflightWithoutOptionsOperation(t *testing.T) {
	up := echoUpstream(t)
	e := startGateway(t, petsDoc(up.URL), nil)
	r := do(t, nil, "OPTIONS", e.base+"/dev/pets", nil, "Origin", "https://app.example", "Access-Control-Request-Method", "GET")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	r = do(t, nil, "GET", e.base+"/dev/pets", nil, "Origin", "https://app.example")
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" || r.header.Get("X-Wasmgate-Plugin") != "template" {
		t.Fatalf("actual request: %d %v", r.status, r.header)
	}
	// A plain OPTIONS (no preflight headers) still gets 405.
	if r := do(t, nil, "OPTIONS", e.base+"/dev/pets", nil); r.status != 405 {
		t.Fatalf("plain OPTIONS: %d", r.status)
	}
}

func TestMockIntegration(t *testing.T) {
	e := startGateway(t, petsDoc("http://127.0.0.1:1"), nil)
	r := do(t, nil, "GET", e.base+"/prod/health", nil)
	if r.status != 203 || r.body != `{"stage":"prod","tier":"prod"}` || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("mock: %d %q %v", r.status, r.body, r.header)
	}
	if r.header.Get("X-Request-Id") == "" {
		t.Error("no request id on a mock response")
	}
}

func TestServiceIntegration(t *testing.T) {
	e := startGateway(t, petsDoc("http://127.0.0.1:1"), nil)
	if r := do(t, nil, "GET", e.base+"/dev/store/k1", nil); r.status != 404 {
		t.Fatalf("missing item: %d %s", r.status, r.body)
	}
	if r := do(t, nil, "PUT", e.base+"/dev/store/k1", strings.NewReader(`{"v":1}`)); r.status != 200 {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	if r := do(t, nil, "GET", e.base+"/dev/store/k1", nil); r.status != 200 || r.body != `{"v":1}` || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("get: %d %q %v", r.status, r.body, r.header)
	}
	if r := do(t, nil, "DELETE", e.base+"/dev/store/k1", nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := do(t, nil, "GET", e.base+"/dev/store/k1", nil); r.status != 404 {
		t.Fatalf("after delete: %d", r.status)
	}
}

func TestBadInputRejectedAtBuild(t *testing.T) {
	up := echoUpstream(t)
	e := startGateway(t, petsDoc(up.URL), nil)
	tests := []struct{ name, doc, want string }{
		{"broken yaml", "openapi: 3.0.3\ninfo: [", "test.yaml"},
		{"unknown plugin", strings.Replace(petsDoc(up.URL), "plugin: deny", "plugin: no-such-plugin", 1), "no-such-plugin"},
		{"bad plugin config", strings.Replace(petsDoc(up.URL), "config: {header: x-template, value: hello}", "config: {header: 42}", 1), "template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, err := config.Parse("test.yaml", []byte(tt.doc))
			if err == nil {
				_, err = e.gw.Build(context.Background(), api, "d-2")
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want an error mentioning %q, got %v", tt.want, err)
			}
			// What was serving still serves.
			if r := do(t, nil, "GET", e.base+"/dev/pets", nil); r.status != 200 {
				t.Fatalf("serving broke: %d", r.status)
			}
		})
	}
}

func TestProtocols(t *testing.T) {
	up := echoUpstream(t)
	cert := testCert(t)
	e := startGateway(t, petsDoc(up.URL), &tls.Config{Certificates: []tls.Certificate{cert}})
	tlsClient := &tls.Config{InsecureSkipVerify: true}

	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	clients := map[string]*http.Client{
		"HTTP/1.1": {Transport: &http.Transport{}},
		"HTTP/2.0": {Transport: &http.Transport{Protocols: &h2c}},
	}
	for proto, c := range clients {
		r := do(t, c, "GET", e.base+"/dev/pets", nil)
		if r.status != 200 || r.proto != proto {
			t.Errorf("cleartext %s: %d %s", proto, r.status, r.proto)
		}
	}
	r := do(t, &http.Client{Transport: &http.Transport{TLSClientConfig: tlsClient, ForceAttemptHTTP2: true}}, "GET", e.tlsBase+"/dev/pets", nil)
	if r.status != 200 || r.proto != "HTTP/2.0" {
		t.Errorf("TLS: %d %s", r.status, r.proto)
	}
	if alt := r.header.Get("Alt-Svc"); !strings.Contains(alt, "h3") {
		t.Errorf("no HTTP/3 advertised: Alt-Svc %q", alt)
	}
	h3 := h3Client(t, tlsClient)
	r = do(t, h3, "GET", e.tlsBase+"/dev/pets?via=h3", nil)
	if r.status != 200 || r.proto != "HTTP/3.0" || decodeEcho(t, r.body).Query != "via=h3" {
		t.Errorf("HTTP/3: %d %s %s", r.status, r.proto, r.body)
	}
}

func TestGracefulShutdownDrains(t *testing.T) {
	up := echoUpstream(t)
	e := startGateway(t, petsDoc(up.URL), nil)
	var done atomic.Int32
	go func() {
		r := do(t, nil, "GET", e.base+"/dev/slow", nil) // 300ms integration timeout → 504, but answered
		if r.status == 504 {
			done.Store(1)
		}
	}()
	time.Sleep(100 * time.Millisecond)
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if done.Load() != 1 {
		t.Fatal("shutdown returned before the in-flight request was answered")
	}
}
