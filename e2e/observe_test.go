package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/host/observe"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// observeDoc serves, at the root ($default stage): a cached route, a
// rate-limited one (burst 1), one through the panics plugin, and one
// without plugins.
func observeDoc(upstream string) string {
	return fmt.Sprintf(`openapi: 3.0.3
info: {title: observed, version: "1"}
paths:
  /items/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get:
      x-wasmgate-pipeline: [{plugin: cache, config: {ttl: 60}}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/items/{id}"}
      responses: {"200": {description: ok}}
  /limited:
    get:
      x-wasmgate-pipeline: [{plugin: rate-limit, config: {rate: 0.001, burst: 1}}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/limited"}
      responses: {"200": {description: ok}}
  /panic:
    get:
      x-wasmgate-pipeline: [{plugin: panics}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/panic"}
      responses: {"200": {description: ok}}
  /arm-create-panic:
    get:
      x-wasmgate-pipeline: [{plugin: panics}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/panic"}
      responses: {"200": {description: ok}}
  /trap:
    get:
      x-wasmgate-pipeline: [{plugin: panics}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/panic"}
      responses: {"200": {description: ok}}
  /wasm-trap:
    get:
      x-wasmgate-pipeline: [{plugin: trapper}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/panic"}
      responses: {"200": {description: ok}}
  /plain:
    post:
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/plain"}
      responses: {"200": {description: ok}}
`, upstream)
}

// headerUpstream answers 200 with a JSON body and remembers the
// X-Request-Id of each request, by path.
type headerUpstream struct {
	*httptest.Server
	mu  sync.Mutex
	ids map[string][]string
}

func newHeaderUpstream(t *testing.T) *headerUpstream {
	u := &headerUpstream{ids: map[string][]string{}}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.ids[r.URL.Path] = append(u.ids[r.URL.Path], r.Header.Get("X-Request-Id"))
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/plain" {
			w.Header().Set("Set-Cookie", "session=upstream-secret")
		}
		fmt.Fprintf(w, `{"path":%q,"token":"upstream-token","ok":true}`, r.URL.Path)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *headerUpstream) lastID(path string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	ids := u.ids[path]
	if len(ids) == 0 {
		return ""
	}
	return ids[len(ids)-1]
}

// startObserved starts a gateway whose observer writes to files in a
// temporary directory, and serves its metrics on a real listener.
func startObserved(t *testing.T, doc string, defaults observe.StageSettings, edit func(*gateway.Options)) (*env, *observe.Observer, string) {
	t.Helper()
	var e *env
	var obs *observe.Observer
	e = startGateway(t, doc, nil, func(o *gateway.Options) {
		var err error
		obs, err = observe.New(observe.Options{
			Defaults: defaults,
			Sources: observe.Sources{
				Plugins:       func() []*wasm.Plugin { return e.gw.LivePlugins() },
				PluginMetrics: o.Engine.Metrics,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(obs.Close)
		o.Observe = obs
		if edit != nil {
			edit(o)
		}
	})
	ms := httptest.NewServer(obs.Metrics().Handler())
	t.Cleanup(ms.Close)
	return e, obs, ms.URL
}

// jsonLines reads a log file's JSON lines.
func jsonLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: not a JSON line: %q: %v", path, sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func byRequestID(lines []map[string]any, id string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l["requestId"] == id {
			out = append(out, l)
		}
	}
	return out
}

// scrape returns the metrics page's sample lines.
func scrape(t *testing.T, url string) string {
	t.Helper()
	r := do(t, nil, "GET", url+"/metrics", nil)
	if r.status != 200 {
		t.Fatalf("metrics: %d %s", r.status, r.body)
	}
	return r.body
}

// metricValue finds a sample by name and exact label set (as written by
// the Prometheus text format, labels sorted) and returns its value.
func metricValue(t *testing.T, page, sample string) string {
	t.Helper()
	for _, l := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(l, sample+" "); ok {
			return v
		}
	}
	t.Errorf("no sample %s in the metrics", sample)
	return ""
}

func TestObserveLogsAndMetrics(t *testing.T) {
	up := newHeaderUpstream(t)
	dir := t.TempDir()
	access, exec := filepath.Join(dir, "logs", "access.log"), filepath.Join(dir, "logs", "exec.log")
	caches := &gateway.Caches{DefaultMB: 8}
	t.Cleanup(caches.Close)
	e, obs, metricsURL := startObserved(t, observeDoc(up.URL),
		observe.StageSettings{AccessLog: "json", AccessLogDest: access, ExecLog: "info", ExecLogDest: exec},
		func(o *gateway.Options) { o.Caches = caches })

	type req struct {
		name, method, path string
		status             int
		cache              string
	}
	reqs := []req{
		{"miss", "GET", "/items/1", 200, "miss"},
		{"hit", "GET", "/items/1", 200, "hit"},
		{"allowed", "GET", "/limited", 200, ""},
		{"throttled", "GET", "/limited", 429, ""},
		{"panic", "GET", "/panic", 500, ""},
		{"arm", "GET", "/arm-create-panic", 200, ""},
		{"trap", "GET", "/trap", 500, ""},
		{"wasm-trap", "GET", "/wasm-trap", 500, ""},
		{"unknown", "GET", "/nothing/here", 404, ""},
	}
	ids := map[string]string{}
	for _, rq := range reqs {
		r := do(t, nil, rq.method, e.base+rq.path, nil, "X-Request-Id", "client-chosen-"+rq.name)
		if r.status != rq.status {
			t.Fatalf("%s: %d, want %d: %s", rq.name, r.status, rq.status, r.body)
		}
		ids[rq.name] = r.header.Get("X-Request-Id")
		if ids[rq.name] == "" || strings.HasPrefix(ids[rq.name], "client-chosen") {
			t.Fatalf("%s: X-Request-Id %q: want the gateway's own id (TrustRequestID is off)", rq.name, ids[rq.name])
		}
	}
	// The upstream got the gateway's id, not the client's, through a
	// pipeline route.
	if got := up.lastID("/limited"); got != ids["allowed"] {
		t.Errorf("upstream X-Request-Id %q, want the gateway's %q", got, ids["allowed"])
	}
	obs.Flush()

	lines := jsonLines(t, access)
	if len(lines) != len(reqs) {
		t.Fatalf("%d access log lines, want %d:\n%v", len(lines), len(reqs), lines)
	}
	for _, rq := range reqs {
		ls := byRequestID(lines, ids[rq.name])
		if len(ls) != 1 {
			t.Fatalf("%s: %d access log lines with request id %s", rq.name, len(ls), ids[rq.name])
		}
		l := ls[0]
		if l["status"] != float64(rq.status) || l["httpMethod"] != rq.method || l["path"] != rq.path || l["stage"] != gateway.DefaultStage || l["deploymentId"] != "d-1" {
			t.Errorf("%s: access log line %v", rq.name, l)
		}
		if got, _ := l["cacheStatus"].(string); got != rq.cache {
			t.Errorf("%s: cacheStatus %q, want %q", rq.name, got, rq.cache)
		}
		if l["sourceIp"] != "127.0.0.1" || l["protocol"] != "HTTP/1.1" {
			t.Errorf("%s: sourceIp/protocol in %v", rq.name, l)
		}
	}
	miss, hit := byRequestID(lines, ids["miss"])[0], byRequestID(lines, ids["hit"])[0]
	if miss["resourcePath"] != "/items/{id}" || miss["integrationLatency"] == nil || hit["integrationLatency"] != nil {
		t.Errorf("cache: the miss calls the integration, the hit does not: miss %v, hit %v", miss, hit)
	}
	if p, ok := miss["plugins"].(map[string]any); !ok || p["cache"] == nil {
		t.Errorf("miss: plugin timings %v, want the cache plugin's", miss["plugins"])
	}
	if l := byRequestID(lines, ids["miss"])[0]; l["responseLength"].(float64) != float64(len(`{"path":"/items/1","token":"upstream-token","ok":true}`)) {
		t.Errorf("responseLength %v", l["responseLength"])
	}
	// The SDK recovers a plugin's panic, in a callback or in
	// NewHTTPContext (armed by the request before), logs it at critical
	// and answers 500.
	if l := byRequestID(lines, ids["trap"])[0]; l["resourcePath"] != "/trap" || l["plugins"] == nil {
		t.Errorf("trap: access log line %v", l)
	}
	if unknown := byRequestID(lines, ids["unknown"])[0]; unknown["resourcePath"] != "-" {
		t.Errorf("unknown route: resourcePath %v", unknown["resourcePath"])
	}

	// Execution log: the trap with plugin name, digest and kind; the
	// rate limit's local response.
	ex := jsonLines(t, exec)
	var sawTrap, sawLocal, sawPanic bool
	for _, l := range byRequestID(ex, ids["trap"]) {
		if msg, _ := l["msg"].(string); l["plugin"] == "panics" && strings.HasPrefix(l["digest"].(string), "sha256:") && l["level"] == "error" && strings.Contains(msg, "NewHTTPContext failed on purpose") {
			sawTrap = true
		}
	}
	for _, l := range byRequestID(ex, ids["panic"]) {
		if msg, _ := l["msg"].(string); l["plugin"] == "panics" && l["pluginLevel"] == "critical" && strings.Contains(msg, "assignment to entry in nil map") {
			sawPanic = true
		}
	}
	for _, l := range byRequestID(ex, ids["throttled"]) {
		if l["plugin"] == "rate-limit" && l["phase"] == "request_headers" && l["verdict"] == "local_response" {
			sawLocal = true
		}
	}
	var sawWasmTrap bool
	for _, l := range byRequestID(ex, ids["wasm-trap"]) {
		if l["plugin"] == "trapper" && l["kind"] == "trap" && l["level"] == "error" && strings.HasPrefix(l["digest"].(string), "sha256:") {
			sawWasmTrap = true
		}
	}
	if !sawTrap || !sawLocal || !sawPanic || !sawWasmTrap {
		t.Errorf("execution log: trap logged %v, throttle logged %v, panic line logged %v, Wasm trap logged %v:\n%v", sawTrap, sawLocal, sawPanic, sawWasmTrap, ex)
	}
	for _, l := range ex {
		if l["requestId"] == nil || l["requestId"] == "" {
			t.Errorf("execution log line without request id: %v", l)
		}
	}

	page := scrape(t, metricsURL)
	items, lim, pan := `route="/items/{id}",stage="$default"`, `route="/limited",stage="$default"`, `route="/panic",stage="$default"`
	for _, c := range []struct{ sample, want string }{
		{`wasmgate_requests_total{` + items + `}`, "2"},
		{`wasmgate_cache_misses_total{` + items + `}`, "1"},
		{`wasmgate_cache_hits_total{` + items + `}`, "1"},
		{`wasmgate_requests_total{` + lim + `}`, "2"},
		{`wasmgate_throttled_total{` + lim + `}`, "1"},
		{`wasmgate_4xx_errors_total{` + lim + `}`, "1"},
		{`wasmgate_5xx_errors_total{` + pan + `}`, "1"},
		{`wasmgate_5xx_errors_total{route="/trap",stage="$default"}`, "1"},
		{`wasmgate_4xx_errors_total{route="unknown",stage="$default"}`, "1"},
		{`wasmgate_5xx_errors_total{route="/wasm-trap",stage="$default"}`, "1"},
		{`wasmgate_plugin_errors_total{kind="trap",plugin="trapper",stage="$default"}`, "1"},
		{`wasmgate_request_duration_seconds_count{` + items + `}`, "2"},
		{`wasmgate_integration_duration_seconds_count{` + items + `}`, "1"},
		{`wasmgate_plugin_rate_limit_rate_limit_throttled_total`, "1"},
		{`wasmgate_log_lines_dropped_total{destination="` + access + `"}`, "0"},
	} {
		if got := metricValue(t, page, c.sample); got != c.want {
			t.Errorf("%s = %s, want %s", c.sample, got, c.want)
		}
	}
	if !strings.Contains(page, `wasmgate_plugin_calls_total{plugin="cache",stage="$default"}`) ||
		!strings.Contains(page, `wasmgate_plugin_instances{digest="sha256:`) ||
		!strings.Contains(page, `wasmgate_plugin_instances_discarded_total{digest=`) {
		t.Errorf("plugin call and pool metrics missing:\n%s", page)
	}
	if strings.Contains(page, "/nothing/here") {
		t.Error("a raw path became a label")
	}
}

func TestObserveCaptureAndTrustedRequestID(t *testing.T) {
	up := newHeaderUpstream(t)
	dir := t.TempDir()
	capFile, exec := filepath.Join(dir, "capture.log"), filepath.Join(dir, "exec.log")
	e, obs, _ := startObserved(t, observeDoc(up.URL),
		observe.StageSettings{
			AccessLog: "$context.requestId $context.httpMethod $context.resourcePath $context.status", AccessLogDest: filepath.Join(dir, "access.log"),
			ExecLog: "info", ExecLogDest: exec,
			Capture: &observe.CaptureSettings{SampleRate: 1, RedactHeaders: []string{"X-Secret"}, RedactFields: []string{"password", "token"}, Destination: capFile},
		},
		func(o *gateway.Options) { o.TrustRequestID = true })

	body := `{"user":"ann","password":"hunter2","nested":{"list":[{"token":"abc123"}]}}`
	r := do(t, nil, "POST", e.base+"/plain", strings.NewReader(body),
		"Content-Type", "application/json", "Authorization", "Bearer sekrit", "X-Secret", "shh", "Cookie", "a=b", "X-Request-Id", "trace-42.a:b")
	if r.status != 200 || r.header.Get("X-Request-Id") != "trace-42.a:b" || up.lastID("/plain") != "trace-42.a:b" {
		t.Fatalf("trusted id: %d, X-Request-Id %q, upstream got %q", r.status, r.header.Get("X-Request-Id"), up.lastID("/plain"))
	}
	bad := do(t, nil, "GET", e.base+"/items/7", nil, "X-Request-Id", "no spaces allowed")
	if bad.status != 200 || bad.header.Get("X-Request-Id") == "no spaces allowed" {
		t.Fatalf("a malformed client id must be replaced: %d %q", bad.status, bad.header.Get("X-Request-Id"))
	}
	obs.Flush()

	raw, err := os.ReadFile(capFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2", "abc123", "sekrit", "shh", "a=b", "upstream-secret", "upstream-token"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("capture contains %q:\n%s", secret, raw)
		}
	}
	caps := byRequestID(jsonLines(t, capFile), "trace-42.a:b")
	if len(caps) != 1 {
		t.Fatalf("%d captures of the POST:\n%s", len(caps), raw)
	}
	c := caps[0]
	reqBody, _ := c["requestBody"].(map[string]any)
	if reqBody["user"] != "ann" || reqBody["password"] != observe.Redacted {
		t.Errorf("request body %v", c["requestBody"])
	}
	hdr, _ := c["requestHeaders"].(map[string]any)
	if fmt.Sprint(hdr["authorization"]) != "["+observe.Redacted+"]" || fmt.Sprint(hdr["content-type"]) != "[application/json]" {
		t.Errorf("request headers %v", hdr)
	}
	if rb, _ := c["responseBody"].(map[string]any); rb["token"] != observe.Redacted || rb["ok"] != true {
		t.Errorf("response body %v", c["responseBody"])
	}

	accessLines, _ := os.ReadFile(filepath.Join(dir, "access.log"))
	if !strings.Contains(string(accessLines), "trace-42.a:b POST /plain 200\n") || !strings.Contains(string(accessLines), " GET /items/{id} 200\n") {
		t.Errorf("template access log:\n%s", accessLines)
	}
	if ex := byRequestID(jsonLines(t, exec), bad.header.Get("X-Request-Id")); len(ex) == 0 || ex[0]["plugin"] != "cache" {
		t.Errorf("execution log of the GET: %v", ex)
	}
}
