package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/host/wasm"
	"github.com/wasmgate/wasmgate/internal/deploytest"
)

func templateWasm(tb testing.TB) []byte { return deploytest.TemplateWasm(tb) }

func variant(bin []byte, tag string) []byte { return deploytest.Variant(bin, tag) }

type env struct {
	t    testing.TB
	dir  string
	eng  *wasm.Engine
	gw   *gateway.Gateway
	m    *Manager
	up   *httptest.Server
	logs []string
	mu   sync.Mutex
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	e.up = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "v=%s demo=%s", r.URL.Query().Get("v"), r.Header.Get("x-demo"))
	}))
	t.Cleanup(e.up.Close)
	e.eng, e.gw = newEngineGateway(t)
	e.open()
	return e
}

func newEngineGateway(t testing.TB) (*wasm.Engine, *gateway.Gateway) {
	return deploytest.NewEngineGateway(t)
}

func (e *env) open() {
	e.t.Helper()
	m, err := Open(context.Background(), Options{Dir: e.dir, Engine: e.eng, Gateway: e.gw, Log: func(f string, a ...any) {
		e.mu.Lock()
		e.logs = append(e.logs, fmt.Sprintf(f, a...))
		e.mu.Unlock()
	}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.m = m
	e.t.Cleanup(func() { m.Close() })
}

// doc is an API whose one operation runs the template plugin (adding
// x-demo: value) and proxies to the test upstream with ?v=${stageVariables.v}.
func (e *env) doc(plugin, value string) []byte { return docFor(e.up.URL, plugin, value) }

func docFor(upstream, plugin, value string) []byte { return deploytest.Doc(upstream, plugin, value) }

// get requests path through the gateway; it returns the status, body and
// serving deployment.
func (e *env) get(path string) (int, string, string) {
	e.t.Helper()
	w := httptest.NewRecorder()
	e.gw.ServeHTTP(w, httptest.NewRequest("GET", "http://gw.test"+path, nil))
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b), w.Header().Get("X-Wasmgate-Deployment")
}

func (e *env) push(name, version string, bin []byte) PluginInfo {
	e.t.Helper()
	info, _, err := e.m.PushPlugin(context.Background(), name, version, bin, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return info
}

func (e *env) deploy(doc []byte, stages ...string) *Deployment {
	e.t.Helper()
	d, err := e.m.Deploy(context.Background(), doc, DeployOptions{Stages: stages, Author: "test"})
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) expect(path string, status int, body, dep string) {
	e.t.Helper()
	code, b, d := e.get(path)
	if code != status || (body != "" && b != body) || d != dep {
		e.t.Fatalf("GET %s = %d %q from %q, want %d %q from %q", path, code, b, d, status, body, dep)
	}
}

func TestDeployStagesRollback(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.push("template", "1.0.0", templateWasm(t))

	d1 := e.deploy(e.doc("template", "one"), "prod")
	if d1.ID != "d-1" || len(d1.Plugins) != 1 || d1.Plugins[0].Ref != "template" {
		t.Fatalf("d-1 = %+v", d1)
	}
	e.expect("/prod/hello", 200, "v=doc-prod demo=one", "d-1")
	e.expect("/dev/hello", 404, "", "")

	d2 := e.deploy(e.doc("template", "two"), "prod", "dev")
	e.expect("/prod/hello", 200, "v=doc-prod demo=two", d2.ID)
	e.expect("/dev/hello", 200, "v= demo=two", d2.ID) // dev is new and not declared: no variables
	e.deploy(e.doc("template", "three"))              // recorded only
	e.expect("/prod/hello", 200, "v=doc-prod demo=two", "d-2")

	// Stage variables belong to the stage: a deploy keeps them.
	if _, err := e.m.PutStage(ctx, "prod", StageSpec{Variables: map[string]string{"v": "set"}}, "test"); err != nil {
		t.Fatal(err)
	}
	e.expect("/prod/hello", 200, "v=set demo=two", "d-2")
	d4 := e.deploy(e.doc("template", "four"), "prod")
	e.expect("/prod/hello", 200, "v=set demo=four", d4.ID)

	// Rollback walks back through what the stage served: d-4 → d-2 → d-1.
	for _, want := range []string{"d-2", "d-1"} {
		st, err := e.m.Rollback(ctx, "prod", "", "test")
		if err != nil || st.Deployment != want {
			t.Fatalf("rollback: %v, %+v; want %s", err, st, want)
		}
		e.expect("/prod/hello", 200, "", want)
	}
	if _, err := e.m.Rollback(ctx, "prod", "", "test"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("rollback past the first deployment: %v", err)
	}
	if _, err := e.m.Rollback(ctx, "prod", "d-3", "test"); err != nil { // never served here, but named
		t.Fatal(err)
	}
	e.expect("/prod/hello", 200, "v=set demo=three", "d-3")
	if _, err := e.m.Rollback(ctx, "prod", "d-99", "test"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rollback to a missing deployment: %v", err)
	}

	h, err := e.m.History("prod", 0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range h {
		actions = append(actions, ev.Action+":"+ev.Deployment)
	}
	if got := strings.Join(actions, " "); got != "rollback:d-3 rollback:d-1 rollback:d-2 deploy:d-4 update-stage:d-2 deploy:d-2 deploy:d-1" {
		t.Fatalf("prod history (newest first): %s", got)
	}

	// Everything survives a restart.
	e.m.Close()
	e.open()
	e.expect("/prod/hello", 200, "v=set demo=three", "d-3")
	e.expect("/dev/hello", 200, "v= demo=two", "d-2")
	if ds := e.m.Deployments(); len(ds) != 4 || ds[0].ID != "d-4" {
		t.Fatalf("deployments after restart: %+v", ds)
	}
	if d5 := e.deploy(e.doc("template", "five"), "prod"); d5.ID != "d-5" {
		t.Fatalf("numbering after restart: %s", d5.ID)
	}
}

func TestBadDeploysChangeNothing(t *testing.T) {
	e := newEnv(t)
	e.push("template", "1.0.0", templateWasm(t))
	e.deploy(e.doc("template", "one"), "prod")
	before, _ := e.m.History("", 0)

	cases := map[string]struct {
		doc  []byte
		want error
		msg  string
	}{
		"broken document":  {[]byte("openapi: 3.0.3\npaths: [\n"), ErrInvalid, "api.yaml"},
		"unknown plugin":   {e.doc("nope", "x"), ErrInvalid, "push it first"},
		"unknown version":  {e.doc("template@9.9.9", "x"), ErrInvalid, "template@9.9.9"},
		"rejected config":  {[]byte(strings.Replace(string(e.doc("template", "x")), "header: x-demo", "header: 'bad header'", 1)), ErrInvalid, "not a valid header name"},
		"file ref refused": {e.doc("file:plugin.wasm", "x"), ErrInvalid, "file-driven mode"},
	}
	for name, c := range cases {
		_, err := e.m.Deploy(context.Background(), c.doc, DeployOptions{Stages: []string{"prod"}})
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v; want %v mentioning %q", name, err, c.want, c.msg)
		}
		e.expect("/prod/hello", 200, "v=doc-prod demo=one", "d-1")
	}
	after, _ := e.m.History("", 0)
	if len(after) != len(before) || len(e.m.Deployments()) != 1 {
		t.Fatalf("failed deploys left traces: %d events (was %d), %d deployments", len(after), len(before), len(e.m.Deployments()))
	}
	if d := e.deploy(e.doc("template", "two"), "prod"); d.ID != "d-2" {
		t.Fatalf("a failed deploy used up a number: next is %s", d.ID)
	}
}

// TestPushBuiltinCompilesOnUse: a builtin is stored without compiling
// (its ABI and imports read from the binary), serves once deployed, and
// one that does not even declare the Proxy-Wasm ABI is refused at once.
func TestPushBuiltinCompilesOnUse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	info, created, err := e.m.PushBuiltin(ctx, "template", "1.0.0", templateWasm(t), "serve")
	if err != nil || !created || info.ABI != "0.2.1" || len(info.Imports) == 0 {
		t.Fatalf("PushBuiltin = %+v created=%v %v", info, created, err)
	}
	if _, _, err := e.m.PushBuiltin(ctx, "broken", "1.0.0", []byte("\x00asm\x01\x00\x00\x00"), "serve"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a module without the ABI marker: %v", err)
	}
	d := e.deploy(e.doc("template", "b"), "prod")
	e.expect("/prod/hello", 200, "v=doc-prod demo=b", d.ID)
}

func TestPluginTagsAndPins(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bin := templateWasm(t)
	v1 := e.push("template", "1.0.0", bin)
	v2 := e.push("template", "2.0.0", variant(bin, "2"))
	if _, _, err := e.m.PushPlugin(ctx, "template", "1.0.0", variant(bin, "x"), "test"); !errors.Is(err, ErrConflict) {
		t.Fatalf("re-pushing a version with other bytes: %v", err)
	}
	if _, created, err := e.m.PushPlugin(ctx, "template", "1.0.0", bin, "test"); err != nil || created {
		t.Fatalf("re-pushing the same bytes: created=%v %v", created, err)
	}
	if _, _, err := e.m.PushPlugin(ctx, "broken", "1.0.0", []byte("\x00asm garbage"), "test"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("pushing a broken module: %v", err)
	}
	if _, _, err := e.m.PushPlugin(ctx, "Bad Name", "1", bin, "test"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad name: %v", err)
	}
	e.push("template", "1.10.0-rc.1", variant(bin, "rc")) // a pre-release is not the latest

	digestServed := func() string {
		ps := e.gw.Table().Stage("prod").Main.Plugins()
		return ps[0].Module().Digest()
	}
	d := e.deploy(e.doc("template", "x"), "prod") // "template" = latest = 2.0.0
	if d.Plugins[0].Digest != v2.Digest || digestServed() != v2.Digest {
		t.Fatalf("latest resolved to %s, want 2.0.0 (%s)", d.Plugins[0].Digest, v2.Digest)
	}
	st, err := e.m.Pin(ctx, "prod", "template", "1.0.0", "test")
	if err != nil || st.Pins["template"] != v1.Digest || digestServed() != v1.Digest {
		t.Fatalf("pin to 1.0.0: %v %+v; serving %s", err, st, digestServed())
	}
	e.expect("/prod/hello", 200, "v=doc-prod demo=x", d.ID)
	if _, err := e.m.Pin(ctx, "prod", "other", "1.0.0", "test"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("pinning a plugin the stage does not use: %v", err)
	}
	if _, err := e.m.Pin(ctx, "prod", "template", "sha256:"+strings.Repeat("0", 64), "test"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pinning an unknown digest: %v", err)
	}
	// The pin survives deploys and restarts, until removed.
	e.deploy(e.doc("template", "y"), "prod")
	e.m.Close()
	e.open()
	if digestServed() != v1.Digest {
		t.Fatal("the pin was lost")
	}
	if _, err := e.m.Unpin(ctx, "prod", "template", "test"); err != nil || digestServed() != v2.Digest {
		t.Fatalf("unpin: %v, serving %s", err, digestServed())
	}
	if ps, _ := e.m.Plugins(); len(ps) != 3 {
		t.Fatalf("plugins: %+v", ps)
	}
}

func TestCanary(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.push("template", "1.0.0", templateWasm(t))
	e.deploy(e.doc("template", "main"), "prod")
	d2 := e.deploy(e.doc("template", "canary"))
	if _, err := e.m.SetCanary(ctx, "prod", Canary{Deployment: d2.ID, Percent: 0}, "test"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("0%%: %v", err)
	}
	if _, err := e.m.SetCanary(ctx, "prod", Canary{Deployment: d2.ID, Percent: 30, Variables: map[string]string{"v": "canary"}}, "test"); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for i := 0; i < 1000; i++ {
		code, body, dep := e.get("/prod/hello")
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		want := map[string]string{"d-1": "v=doc-prod demo=main", "d-2": "v=canary demo=canary"}[dep]
		if body != want {
			t.Fatalf("%s answered %q", dep, body)
		}
		seen[dep]++
	}
	if seen["d-2"] < 220 || seen["d-2"] > 380 {
		t.Fatalf("canary share: %v, want about 30%%", seen)
	}
	st, err := e.m.PromoteCanary(ctx, "prod", "test")
	if err != nil || st.Deployment != d2.ID || st.Canary != nil || st.Variables["v"] != "canary" {
		t.Fatalf("promote: %v %+v", err, st)
	}
	e.expect("/prod/hello", 200, "v=canary demo=canary", d2.ID)
	if _, err := e.m.SetCanary(ctx, "prod", Canary{Deployment: "d-1", Percent: 100}, "test"); err != nil {
		t.Fatal(err)
	}
	e.expect("/prod/hello", 200, "", "d-1")
	if _, err := e.m.DropCanary(ctx, "prod", "test"); err != nil {
		t.Fatal(err)
	}
	e.expect("/prod/hello", 200, "", d2.ID)
}

func TestStageSettings(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.push("template", "1.0.0", templateWasm(t))
	e.deploy(e.doc("template", "x"), "prod")
	for name, spec := range map[string]StageSpec{
		"bad variable":  {Variables: map[string]string{"a-b": "x"}},
		"bad host":      {Hosts: []string{"http://x"}},
		"bad throttle":  {Throttle: &Throttle{RateLimit: 0, Burst: 1}},
		"bad cache ttl": {Cache: &Cache{Enabled: true, TTLSeconds: 7200}},
		"bad log":       {AccessLog: &AccessLog{Format: "xml"}},
		"no deployment": {Deployment: "d-42"},
	} {
		if _, err := e.m.PutStage(ctx, "prod", spec, "test"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := e.m.PutStage(ctx, "new", StageSpec{}, "test"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a new stage without a deployment: %v", err)
	}
	if _, err := e.m.PutStage(ctx, "beta", StageSpec{Deployment: "d-1", Hosts: []string{"Beta.Example.com"}, Throttle: &Throttle{RateLimit: 10000, Burst: 5000}}, "test"); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	e.gw.ServeHTTP(w, httptest.NewRequest("GET", "http://beta.example.com/hello", nil))
	if w.Code != 200 {
		t.Fatalf("by host: %d", w.Code)
	}
	if _, err := e.m.PutStage(ctx, "other", StageSpec{Deployment: "d-1", Hosts: []string{"beta.example.com"}}, "test"); !errors.Is(err, ErrConflict) {
		t.Fatalf("a host taken by another stage: %v", err)
	}
	if err := e.m.DeleteStage(ctx, "beta", "test"); err != nil {
		t.Fatal(err)
	}
	e.expect("/beta/hello", 404, "", "")
	if n := len(e.m.Stages()); n != 1 {
		t.Fatalf("%d stages", n)
	}
}

func TestExportRoundTrips(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bin := templateWasm(t)
	e.push("template", "1.0.0", bin)
	v2 := e.push("template", "2.0.0", variant(bin, "2"))
	d1 := e.deploy(e.doc("template@1.0.0", "x"), "prod")
	if _, err := e.m.Pin(ctx, "prod", "template", "2.0.0", "test"); err != nil {
		t.Fatal(err)
	}
	out, err := e.m.Export("", "prod", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "template@"+v2.Digest) || !strings.Contains(string(out), "v: doc-prod") {
		t.Fatalf("export does not pin the stage's digest or carry its variables:\n%s", out)
	}
	d2, err := e.m.Deploy(ctx, out, DeployOptions{Stages: []string{"staging"}})
	if err != nil {
		t.Fatalf("deploying the export: %v\n%s", err, out)
	}
	if d2.Plugins[0].Digest != v2.Digest || d2.Operations != d1.Operations {
		t.Fatalf("round trip: %+v", d2)
	}
	e.expect("/staging/hello", 200, "v= demo=x", d2.ID) // a new stage the export does not declare
	if _, err := e.m.Export("d-9", "", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("export of a missing deployment: %v", err)
	}
}

// A stage whose plugin vanished from the store still lets the others load.
func TestStartupSkipsBrokenStage(t *testing.T) {
	e := newEnv(t)
	e.push("template", "1.0.0", templateWasm(t))
	e.deploy(e.doc("template", "x"), "prod", "dev")
	e.m.mu.Lock()
	e.m.stages["dev"].Deployment = "d-7" // as if the store were damaged
	st := *e.m.stages["dev"]
	e.m.mu.Unlock()
	if err := e.m.db.Update(func(tx *bolt.Tx) error { return putJSON(tx.Bucket(bStages), []byte("dev"), st) }); err != nil {
		t.Fatal(err)
	}
	e.m.Close()
	e.open()
	e.expect("/prod/hello", 200, "", "d-1")
	e.expect("/dev/hello", 404, "", "")
	s, err := e.m.Stage("dev")
	if err != nil || s.Serving || !strings.Contains(s.Error, "d-7") {
		t.Fatalf("dev status: %+v %v", s, err)
	}
	if _, err := e.m.Rollback(context.Background(), "dev", "d-1", "test"); err != nil {
		t.Fatal(err)
	}
	e.expect("/dev/hello", 200, "", "d-1")
	_ = time.Second
}

// A stage named twice and a host listed twice are one of each; returned
// values are copies.
func TestDuplicatesAndCopies(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.push("template", "1.0.0", templateWasm(t))
	pools := e.gw.LivePools()
	d, err := e.m.Deploy(ctx, e.doc("template", "x"), DeployOptions{Stages: []string{"prod", "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := e.m.History("prod", 0); len(h) != 1 {
		t.Fatalf("%d events for one deploy", len(h))
	}
	if n := e.gw.LivePools(); n != pools+1 {
		t.Fatalf("%d pools after deploying one plugin (was %d)", n, pools)
	}
	st, err := e.m.PutStage(ctx, "prod", StageSpec{Hosts: []string{"a.example.com", "A.example.com"}}, "test")
	if err != nil || len(st.Hosts) != 1 {
		t.Fatalf("repeated host: %v %+v", err, st)
	}
	d.Plugins[0].Digest = "changed"
	st.Variables["v"] = "changed"
	s2, _ := e.m.Stage("prod")
	s2.Served[0] = "changed"
	if got, _ := e.m.Deployment(d.ID); got.Plugins[0].Digest == "changed" {
		t.Fatal("Deploy returned the manager's own deployment")
	}
	if got, _ := e.m.Stage("prod"); got.Variables["v"] == "changed" || got.Served[0] == "changed" {
		t.Fatal("stage values share maps or slices with the manager")
	}
	if _, err := e.m.SetCanary(ctx, "prod", Canary{Deployment: d.ID, Percent: math.NaN()}, "test"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("NaN percent: %v", err)
	}
}
