package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/host/admin"
	"github.com/wasmgate/wasmgate/host/apikeys"
	"github.com/wasmgate/wasmgate/host/deploy"
	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/internal/deploytest"
)

// cliEnv is the admin API over a real Manager, and the CLI pointed at it
// through WASMGATE_ADMIN and WASMGATE_ADMIN_TOKEN.
type cliEnv struct {
	t    *testing.T
	m    *deploy.Manager
	gw   *gateway.Gateway
	up   *httptest.Server
	srv  *httptest.Server
	dir  string
	keys *apikeys.Store
}

func newCLIEnv(t *testing.T) *cliEnv {
	e := &cliEnv{t: t, dir: t.TempDir()}
	e.up = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "v=%s demo=%s", r.URL.Query().Get("v"), r.Header.Get("x-demo"))
	}))
	t.Cleanup(e.up.Close)
	eng, gw := deploytest.NewEngineGateway(t)
	e.gw = gw
	var err error
	e.m, err = deploy.Open(context.Background(), deploy.Options{Dir: filepath.Join(e.dir, "data"), Engine: eng, Gateway: e.gw})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.m.Close() })
	e.keys, err = apikeys.Open(filepath.Join(e.dir, "data", apikeys.StoreFile), apikeys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.keys.Close() })
	e.srv = httptest.NewServer(admin.New(e.m, admin.Options{Token: "tok", APIKeys: e.keys, Log: t.Logf}))
	t.Cleanup(e.srv.Close)
	t.Setenv("WASMGATE_ADMIN", e.srv.URL)
	t.Setenv("WASMGATE_ADMIN_TOKEN", "tok")
	t.Setenv("WASMGATE_AUTHOR", "tester")
	return e
}

// run runs the wasmgate command line in-process and returns its stdout
// and stderr.
func (e *cliEnv) run(args ...string) (string, string, error) {
	e.t.Helper()
	root := rootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(""))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// ok runs a command that must succeed and returns its stdout.
func (e *cliEnv) ok(args ...string) string {
	e.t.Helper()
	out, errOut, err := e.run(args...)
	if err != nil {
		e.t.Fatalf("wasmgate %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// fails runs a command that must fail with a message containing msg.
func (e *cliEnv) fails(msg string, args ...string) {
	e.t.Helper()
	_, _, err := e.run(args...)
	if err == nil || !strings.Contains(err.Error(), msg) {
		e.t.Fatalf("wasmgate %s: %v, want an error mentioning %q", strings.Join(args, " "), err, msg)
	}
}

func (e *cliEnv) write(name string, data []byte) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *cliEnv) doc(value string) []byte {
	return []byte(fmt.Sprintf(`openapi: 3.0.3
info: {title: demo, version: "1"}
paths:
  /hello:
    get:
      x-wasmgate-pipeline:
        - {plugin: template, config: {header: x-demo, value: %q}}
      x-wasmgate-integration: {type: http_proxy, uri: "%s/hello?v=${stageVariables.v}"}
      responses: {"200": {description: ok}}
`, value, e.up.URL))
}

// get requests path through the gateway and returns the body and the
// deployment that served it.
func (e *cliEnv) get(path string) (string, string) {
	w := httptest.NewRecorder()
	e.gw.ServeHTTP(w, httptest.NewRequest("GET", "http://gw.test"+path, nil))
	b, _ := io.ReadAll(w.Result().Body)
	return string(b), w.Header().Get("X-Wasmgate-Deployment")
}

func mustMatch(t *testing.T, what, out, pattern string) {
	t.Helper()
	if !regexp.MustCompile(pattern).MatchString(out) {
		t.Fatalf("%s: output does not match %s:\n%s", what, pattern, out)
	}
}

// TestCLI drives a gateway through the admin API with the CLI: plugin
// push and list, deploy, stages, pin, canary, rollback, history, export.
func TestCLI(t *testing.T) {
	e := newCLIEnv(t)
	bin := deploytest.TemplateWasm(t)

	// Plugins: the name and version from NAME@VERSION.wasm, or flags.
	v1 := strings.TrimSpace(e.ok("plugin", "push", e.write("template@1.0.0.wasm", bin)))
	mustMatch(t, "push", v1, `^sha256:[0-9a-f]{64}$`)
	bin2 := append(append([]byte(nil), bin...), 0x00, 3, 1, 'v', '2') // a custom section: another digest
	v2 := strings.TrimSpace(e.ok("plugin", "push", e.write("build.wasm", bin2), "--name", "template", "--version", "2.0.0"))
	if v2 == v1 {
		t.Fatal("the variant has the same digest")
	}
	if _, errOut, err := e.run("plugin", "push", filepath.Join(e.dir, "template@1.0.0.wasm")); err != nil || !strings.Contains(errOut, "already stored") {
		t.Fatalf("pushing again: %v %q", err, errOut)
	}
	e.fails("give the plugin's version", "plugin", "push", e.write("template.wasm", bin))
	e.fails("versions never change", "plugin", "push", filepath.Join(e.dir, "build.wasm"), "--name", "template", "--version", "1.0.0")
	out := e.ok("plugin", "list")
	mustMatch(t, "plugin list", out, `(?m)^NAME +VERSION +DIGEST +SIZE +UPLOADED\n`)
	mustMatch(t, "plugin list", out, `(?m)^template +1\.0\.0 +`+regexp.QuoteMeta(shortDigest(v1))+` +[0-9.]+ MiB +\d{4}-`)
	mustMatch(t, "plugin list", out, `(?m)^template +2\.0\.0 +`+regexp.QuoteMeta(shortDigest(v2)))
	if out := e.ok("plugin", "list", "--no-trunc"); !strings.Contains(out, v1) {
		t.Fatalf("plugin list --no-trunc:\n%s", out)
	}

	// Deploy.
	api := e.write("api.yaml", e.doc("one"))
	out = e.ok("deploy", api, "--stage", "prod", "--description", "first")
	if out != "d-1 deployed to prod (1 operation, 1 plugin)\n" {
		t.Fatalf("deploy: %q", out)
	}
	if body, dep := e.get("/prod/hello"); body != "v= demo=one" || dep != "d-1" {
		t.Fatalf("prod serves %q from %s", body, dep)
	}
	out = e.ok("deploy", e.write("api2.yaml", e.doc("two")), "-s", "prod", "-s", "dev")
	if out != "d-2 deployed to prod, dev (1 operation, 1 plugin)\n" {
		t.Fatalf("deploy: %q", out)
	}
	mustMatch(t, "deploy without a stage", e.ok("deploy", api), `^d-3 recorded, serving no stage`)
	e.fails("broken.yaml", "deploy", e.write("broken.yaml", []byte("openapi: 3.0.3\npaths: [\n")))
	e.fails("empty body", "deploy", e.write("empty.yaml", []byte("\n")))
	if d, _ := e.m.Deployment("d-1"); d.Author != "tester" || d.Description != "first" || d.Source != "api.yaml" {
		t.Fatalf("d-1: %+v", d)
	}

	// Stages, pins and a canary.
	out = e.ok("stages")
	mustMatch(t, "stages", out, `(?m)^NAME +DEPLOYMENT +CANARY +PINS +HOSTS\n`)
	mustMatch(t, "stages", out, `(?m)^dev +d-2 +- +- +-\n`)
	mustMatch(t, "stages", out, `(?m)^prod +d-2 +- +- +-\n`)
	if out := e.ok("pin", "prod", "template", "1.0.0"); out != "prod: template pinned to "+v1+"\n" {
		t.Fatalf("pin: %q", out)
	}
	e.fails(`does not use a plugin named "other"`, "pin", "prod", "other", "1.0.0")
	mustMatch(t, "canary", e.ok("canary", "prod", "--deployment", "d-1", "--percent", "12.5", "--sticky", "ip"),
		`^prod serves d-2, canary 12.5% → d-1 \(sticky ip\), pins template=sha256:[0-9a-f]{8}…\n$`)
	e.fails(`required flag(s) "deployment" not set`, "canary", "prod", "--percent", "5")
	e.fails("canary percent", "canary", "prod", "--deployment", "d-1", "--percent", "200")
	out = e.ok("stages")
	mustMatch(t, "stages", out, `(?m)^prod +d-2 +12\.5% → d-1 \(sticky ip\) +template=`+regexp.QuoteMeta(shortDigest(v1))+` +-\n`)
	mustMatch(t, "canary drop", e.ok("canary", "drop", "prod"), `^prod: canary dropped; prod serves d-2, pins`)
	e.fails("has no canary", "canary", "promote", "prod")
	e.ok("canary", "dev", "--deployment", "d-3", "--percent", "100", "--var", "v=canary")
	mustMatch(t, "canary promote", e.ok("canary", "promote", "dev"), `^dev: canary promoted; dev serves d-3\n$`)
	if body, dep := e.get("/dev/hello"); body != "v=canary demo=one" || dep != "d-3" {
		t.Fatalf("dev serves %q from %s", body, dep)
	}

	// stages show / set / delete.
	var st deploy.StageStatus
	if err := json.Unmarshal([]byte(e.ok("stages", "show", "prod")), &st); err != nil || st.Pins["template"] != v1 || !st.Serving {
		t.Fatalf("stages show: %v %+v", err, st)
	}
	e.ok("stages", "set", "prod", "--var", "v=x", "--var", "w=y", "--host", "Prod.Example.com")
	e.ok("stages", "set", "prod", "--unset-var", "w") // keeps v and the host
	if s, _ := e.m.Stage("prod"); len(s.Variables) != 1 || s.Variables["v"] != "x" || len(s.Hosts) != 1 || s.Hosts[0] != "prod.example.com" || s.Deployment != "d-2" || s.Pins["template"] != v1 {
		t.Fatalf("after stages set: %+v", s)
	}
	if body, _ := e.get("/prod/hello"); body != "v=x demo=two" {
		t.Fatalf("prod serves %q", body)
	}
	mustMatch(t, "stages", e.ok("stages"), `(?m)^prod +d-2 +- +template=\S+ +prod\.example\.com\n`)
	e.ok("stages", "set", "prod", "--host", "")
	if s, _ := e.m.Stage("prod"); len(s.Hosts) != 0 || s.Variables["v"] != "x" {
		t.Fatalf("after --host '': %+v", s)
	}
	if out := e.ok("stages", "set", "beta", "--deployment", "d-1"); out != "beta serves d-1\n" {
		t.Fatalf("new stage: %q", out)
	}
	if out := e.ok("stages", "set", "beta", "--cache-size-mb", "8"); out != "beta serves d-1, cache 8 MB\n" {
		t.Fatalf("cache size: %q", out)
	}
	if out := e.ok("stages", "set", "beta", "--cache", "off"); out != "beta serves d-1, cache off\n" {
		t.Fatalf("cache off: %q", out)
	}
	if s, _ := e.m.Stage("beta"); s.Cache == nil || s.Cache.Enabled || s.Cache.SizeMB != 8 {
		t.Fatalf("stage cache setting: %+v", s.Cache)
	}
	if out := e.ok("stages", "set", "beta", "--throttle-rate", "100", "--throttle-burst", "50"); out != "beta serves d-1, cache off, throttle 100/s burst 50\n" {
		t.Fatalf("throttle: %q", out)
	}
	if out := e.ok("stages", "set", "beta", "--throttle", "off"); out != "beta serves d-1, cache off\n" {
		t.Fatalf("throttle off: %q", out)
	}
	e.fails("must be more than 0", "stages", "set", "beta", "--throttle-rate", "0")
	if out := e.ok("stages", "set", "beta", "--client-cert", "required"); !strings.Contains(out, "client certificate required") {
		t.Fatalf("client-cert required: %q", out)
	}
	if out := e.ok("stages", "set", "beta", "--client-cert", "optional"); strings.Contains(out, "client certificate") {
		t.Fatalf("client-cert optional: %q", out)
	}
	e.fails("want required or optional", "stages", "set", "beta", "--client-cert", "maybe")
	e.fails("want on or off", "stages", "set", "beta", "--cache", "maybe")
	e.fails("want 1 or more", "stages", "set", "beta", "--cache-size-mb", "0")
	e.fails("give the deployment it serves", "stages", "set", "gamma", "--var", "a=b")
	e.fails("want NAME=VALUE", "stages", "set", "beta", "--var", "novalue")
	if out := e.ok("stages", "delete", "beta"); out != "stage beta deleted\n" {
		t.Fatalf("delete: %q", out)
	}
	e.fails(`no stage "beta"`, "stages", "delete", "beta")

	// Rollback: to what prod served before, then to a named deployment.
	if out := e.ok("rollback", "prod"); out != "prod rolled back: d-2 → d-1\n" {
		t.Fatalf("rollback: %q", out)
	}
	if _, dep := e.get("/prod/hello"); dep != "d-1" {
		t.Fatalf("prod serves %s after the rollback", dep)
	}
	e.fails("has served no deployment older than d-1", "rollback", "prod")
	if out := e.ok("rollback", "prod", "--to", "d-3"); out != "prod rolled back: d-1 → d-3\n" {
		t.Fatalf("rollback --to: %q", out)
	}
	e.fails(`no stage "nope"`, "rollback", "nope")
	if out := e.ok("unpin", "prod", "template"); out != "prod: template unpinned; d-3's choice applies\n" {
		t.Fatalf("unpin: %q", out)
	}
	e.fails(`does not pin "template"`, "unpin", "prod", "template")

	// History, newest first.
	out = e.ok("history", "--stage", "prod")
	var actions []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		actions = append(actions, f[3]) // SEQ, date, time, ACTION
	}
	if got := strings.Join(actions, " "); got != "unpin rollback rollback update-stage update-stage update-stage drop-canary canary pin deploy deploy" {
		t.Fatalf("history actions: %s\n%s", got, out)
	}
	mustMatch(t, "history", out, `(?m)^\d+ +\S+ \S+ +rollback +prod +d-2 → d-1 +tester\s*$`)
	mustMatch(t, "history", out, `(?m)^\d+ +\S+ \S+ +pin +prod +template sha256:[0-9a-f]{8}… +tester\s*$`)
	mustMatch(t, "history", out, `(?m) +deploy +prod +d-1 +tester +first$`)
	if out := e.ok("history", "-n", "2"); strings.Count(out, "\n") != 3 {
		t.Fatalf("history -n 2:\n%s", out)
	}
	mustMatch(t, "history", e.ok("history", "--limit", "0"), `(?m) +push-plugin +- +template@1\.0\.0 sha256:`)

	// Export: the stage's document, another deployment's, another format.
	out = e.ok("export", "prod")
	if !strings.Contains(out, "openapi: 3.0.3") || !strings.Contains(out, "template@"+v2) || !strings.Contains(out, "name: prod") || !strings.Contains(out, `value: one`) {
		t.Fatalf("export prod:\n%s", out)
	}
	out = e.ok("export", "--deployment", "d-2", "--format", "swagger2")
	if !strings.Contains(out, `swagger: "2.0"`) || !strings.Contains(out, "value: two") || strings.Contains(out, "x-wasmgate-stages") {
		t.Fatalf("export --deployment d-2:\n%s", out)
	}
	e.ok("pin", "prod", "template", "template@1.0.0")
	if out := e.ok("export", "prod", "--deployment", "d-2"); !strings.Contains(out, "value: two") || !strings.Contains(out, "template@"+v1) {
		t.Fatalf("export prod --deployment d-2 (with prod's pin):\n%s", out)
	}
	e.fails("give a STAGE or --deployment", "export")
	e.fails("unknown format", "export", "prod", "--format", "raml")

	// The exported document deploys as is.
	exported := e.write("exported.yaml", []byte(e.ok("export", "prod")))
	mustMatch(t, "deploy an export", e.ok("deploy", exported, "--stage", "copy"), `^d-4 deployed to copy \(1 operation, 1 plugin\)`)
	if d, _ := e.m.Deployment("d-4"); d.Plugins[0].Digest != v1 {
		t.Fatalf("the export's pin was lost: %+v", d.Plugins)
	}
}

// The admin connection: flags over the environment, the token, and
// errors that say what went wrong.
func TestCLIAdminConnection(t *testing.T) {
	e := newCLIEnv(t)
	e.fails("missing or wrong admin token", "stages", "--token", "wrong")
	t.Setenv("WASMGATE_ADMIN_TOKEN", "")
	e.fails("missing or wrong admin token", "stages")
	if out := e.ok("stages", "--token", "tok"); !strings.HasPrefix(out, "NAME") {
		t.Fatalf("stages --token: %q", out)
	}
	t.Setenv("WASMGATE_ADMIN", "http://127.0.0.1:1")
	e.fails("admin API at http://127.0.0.1:1: dial tcp", "history", "--token", "tok")
	if out := e.ok("plugin", "list", "--token", "tok", "--admin", strings.TrimPrefix(e.srv.URL, "http://")); !strings.HasPrefix(out, "NAME") {
		t.Fatalf("plugin list --admin HOST:PORT: %q", out)
	}
}
