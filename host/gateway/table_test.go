package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/host/config"
	"github.com/wasmgate/wasmgate/host/policy"
)

// tableDoc is an API with one http_proxy operation whose upstream echoes
// the stage variable "v" back in a header.
const tableDoc = `openapi: 3.0.3
info: {title: table, version: "1"}
paths:
  /who:
    get:
      x-wasmgate-integration: {type: http_proxy, uri: "${stageVariables.up}/who?v=${stageVariables.v}"}
      responses: {"200": {description: ok}}
`

func buildStage(t *testing.T, g *Gateway, id, stage, up, v string, hosts ...string) *Snapshot {
	t.Helper()
	api, err := config.Parse("table.yaml", []byte(tableDoc))
	if err != nil {
		t.Fatal(err)
	}
	s, err := g.BuildWith(context.Background(), api, BuildOptions{ID: id, Stages: []config.Stage{{Name: stage, Hosts: hosts, Variables: map[string]string{"up": up, "v": v}}}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTableStagesAndCanary(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-V", r.URL.Query().Get("v"))
	}))
	defer up.Close()
	g := New(Options{DeploymentHeader: true})

	prod := buildStage(t, g, "d-1", "prod", up.URL, "prod-main", "api.example.com")
	canary := buildStage(t, g, "d-2", "prod", up.URL, "prod-canary")
	dev := buildStage(t, g, "d-2", "dev", up.URL, "dev-main")
	tb, err := NewTable([]*TableStage{
		{Name: "prod", Hosts: []string{"api.example.com"}, Main: prod, Canary: canary, CanaryPercent: 25, Sticky: "header:x-user"},
		{Name: "dev", Main: dev},
	})
	if err != nil {
		t.Fatal(err)
	}
	g.SwapTable(tb)

	do := func(host, path string, hdr ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "http://"+host+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		return w
	}
	if w := do("gw.test", "/dev/who"); w.Code != 200 || w.Header().Get("X-V") != "dev-main" || w.Header().Get("X-Wasmgate-Deployment") != "d-2" {
		t.Fatalf("dev: %d %v", w.Code, w.Header())
	}
	if w := do("gw.test", "/nope/who"); w.Code != 404 {
		t.Fatalf("unknown stage: %d", w.Code)
	}
	if w := do("API.example.com:8443", "/who", "x-user", "u1"); w.Code != 200 {
		t.Fatalf("by host: %d %s", w.Code, w.Body)
	}

	// The split: about 25% of random requests, and every request of one
	// sticky client on the same side.
	counts := map[string]int{}
	const n = 4000
	for i := 0; i < n; i++ {
		counts[do("gw.test", "/prod/who").Header().Get("X-V")]++
	}
	if c := counts["prod-canary"]; c < n*20/100 || c > n*30/100 || counts["prod-main"]+c != n {
		t.Fatalf("canary share of %d random requests: %v, want about 25%%", n, counts)
	}
	sides := map[string]int{}
	for u := 0; u < 400; u++ {
		user := fmt.Sprintf("user-%d", u)
		first := do("gw.test", "/prod/who", "x-user", user).Header().Get("X-Wasmgate-Deployment")
		for i := 0; i < 3; i++ {
			if got := do("gw.test", "/prod/who", "x-user", user).Header().Get("X-Wasmgate-Deployment"); got != first {
				t.Fatalf("sticky client %s moved from %s to %s", user, first, got)
			}
		}
		sides[first]++
	}
	if sides["d-2"] < 60 || sides["d-2"] > 140 {
		t.Fatalf("sticky clients on the canary: %v of 400, want about 100", sides)
	}
}

func TestNewTableRejects(t *testing.T) {
	g := New(Options{})
	a := buildStage(t, g, "d-1", "a", "http://127.0.0.1:1", "x", "h.example")
	b := buildStage(t, g, "d-1", "b", "http://127.0.0.1:1", "x", "h.example")
	api, _ := config.Parse("table.yaml", []byte(tableDoc))
	two, err := g.BuildWith(context.Background(), api, BuildOptions{ID: "d-1", Stages: []config.Stage{{Name: "x"}, {Name: "y"}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, stages := range map[string][]*TableStage{
		"duplicate name":   {{Name: "a", Main: a}, {Name: "a", Main: b}},
		"duplicate host":   {{Name: "a", Hosts: []string{"h.example"}, Main: a}, {Name: "b", Hosts: []string{"H.example"}, Main: b}},
		"no snapshot":      {{Name: "a"}},
		"two-stage build":  {{Name: "x", Main: two}},
		"bad sticky":       {{Name: "a", Main: a, Sticky: "query:x"}},
		"empty header key": {{Name: "a", Main: a, Sticky: "header:"}},
	} {
		if _, err := NewTable(stages); err == nil {
			t.Errorf("%s: NewTable accepted it", name)
		}
	}
}

// A request that loaded a table whose snapshot is retired before it
// acquires it is served by the table swapped in.
func TestAcquireSkipsRetiredSnapshot(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-V", r.URL.Query().Get("v"))
	}))
	defer up.Close()
	g := New(Options{})
	old := buildStage(t, g, "d-1", "prod", up.URL, "old")
	t1, _ := NewTable([]*TableStage{{Name: "prod", Main: old}})
	g.SwapTable(t1)
	old.Retire() // still in the served table, but closed
	<-old.Done()
	if w := httptest.NewRecorder(); true {
		g.ServeHTTP(w, httptest.NewRequest("GET", "http://gw.test/prod/who", nil))
		if w.Code != 404 {
			t.Fatalf("retired snapshot served: %d", w.Code)
		}
	}
	cur := buildStage(t, g, "d-2", "prod", up.URL, "new")
	t2, _ := NewTable([]*TableStage{{Name: "prod", Main: cur}})
	g.SwapTable(t2)
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest("GET", "http://gw.test/prod/who", nil))
	if w.Code != 200 || w.Header().Get("X-V") != "new" {
		t.Fatalf("after the swap: %d %v", w.Code, w.Header())
	}
}

// stepClock is a policy.Clock tests move by hand.
type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time { return c.now }

func TestStageThrottle(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	clock := &stepClock{now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	local := policy.NewLocal(clock)
	g := New(Options{Policies: &Policies{Limiter: local, Quotas: local}})
	prod := buildStage(t, g, "d-1", "prod", up.URL, "p")
	dev := buildStage(t, g, "d-1", "dev", up.URL, "d")
	tb, err := NewTable([]*TableStage{
		{Name: "prod", Main: prod, Throttle: &ThrottleSetting{Rate: 1, Burst: 2}},
		{Name: "dev", Main: dev},
	})
	if err != nil {
		t.Fatal(err)
	}
	g.SwapTable(tb)
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		g.ServeHTTP(w, httptest.NewRequest("GET", "http://gw"+path, nil))
		return w
	}
	for i, want := range []int{200, 200, 429, 429} {
		w := get("/prod/who")
		if w.Code != want {
			t.Fatalf("prod request %d: %d, want %d", i, w.Code, want)
		}
		if want == 429 && (w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), "Too Many Requests") || w.Header().Get("X-Request-Id") == "") {
			t.Fatalf("429: headers %v body %s", w.Header(), w.Body)
		}
	}
	for i := 0; i < 5; i++ {
		if w := get("/dev/who"); w.Code != 200 {
			t.Fatalf("dev (no throttle) request %d: %d", i, w.Code)
		}
	}
	clock.now = clock.now.Add(time.Second)
	if w := get("/prod/who"); w.Code != 200 {
		t.Fatalf("after a second: %d", w.Code)
	}
	// A new table without the setting lifts it.
	tb2, _ := NewTable([]*TableStage{{Name: "prod", Main: prod}, {Name: "dev", Main: dev}})
	g.SwapTable(tb2)
	for i := 0; i < 5; i++ {
		if w := get("/prod/who"); w.Code != 200 {
			t.Fatalf("throttle removed, request %d: %d", i, w.Code)
		}
	}
}

func TestStageRequiresClientCert(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	g := New(Options{})
	prod := buildStage(t, g, "d-1", "prod", up.URL, "p")
	dev := buildStage(t, g, "d-1", "dev", up.URL, "d")
	tb, err := NewTable([]*TableStage{{Name: "prod", Main: prod, RequireClientCert: true}, {Name: "dev", Main: dev}})
	if err != nil {
		t.Fatal(err)
	}
	g.SwapTable(tb)
	get := func(path string, verified bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "https://gw"+path, nil)
		r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13}
		if verified {
			r.TLS.VerifiedChains = [][]*x509.Certificate{{{Subject: pkix.Name{CommonName: "alice"}}}}
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		return w
	}
	if w := get("/prod/who", false); w.Code != 403 || !strings.Contains(w.Body.String(), "client certificate") {
		t.Fatalf("prod without a client certificate: %d %s", w.Code, w.Body)
	}
	if w := get("/prod/who", true); w.Code != 200 {
		t.Fatalf("prod with a verified client certificate: %d", w.Code)
	}
	if w := get("/dev/who", false); w.Code != 200 {
		t.Fatalf("dev (no requirement): %d", w.Code)
	}
}
