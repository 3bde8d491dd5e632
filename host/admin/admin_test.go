package admin_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wasmgate/wasmgate/host/admin"
	"github.com/wasmgate/wasmgate/host/apikeys"
	"github.com/wasmgate/wasmgate/host/deploy"
	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/internal/deploytest"
)

type env struct {
	t    testing.TB
	m    *deploy.Manager
	gw   *gateway.Gateway
	up   *httptest.Server
	srv  *httptest.Server
	c    *admin.Client
	keys *apikeys.Store
	mu   sync.Mutex
	logs []string
}

// newEnv serves the admin API over a real Manager (with a gateway and an
// engine) on an httptest server.
func newEnv(t testing.TB, token string) *env {
	t.Helper()
	e := &env{t: t}
	e.up = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "v=%s demo=%s", r.URL.Query().Get("v"), r.Header.Get("x-demo"))
	}))
	t.Cleanup(e.up.Close)
	eng, gw := deploytest.NewEngineGateway(t)
	e.gw = gw
	var err error
	e.m, err = deploy.Open(context.Background(), deploy.Options{Dir: t.TempDir(), Engine: eng, Gateway: e.gw})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.m.Close() })
	e.keys, err = apikeys.Open(filepath.Join(t.TempDir(), apikeys.StoreFile), apikeys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.keys.Close() })
	e.srv = httptest.NewServer(admin.New(e.m, admin.Options{Token: token, APIKeys: e.keys, Log: func(f string, a ...any) {
		e.mu.Lock()
		e.logs = append(e.logs, fmt.Sprintf(f, a...))
		e.mu.Unlock()
	}}))
	t.Cleanup(e.srv.Close)
	e.c = admin.NewClient(e.srv.URL, token)
	return e
}

// doc is an API whose one operation runs the template plugin (adding
// x-demo: value) and proxies to the test upstream with
// ?v=${stageVariables.v}.
func (e *env) doc(plugin, value string) []byte { return deploytest.Doc(e.up.URL, plugin, value) }

// expect requests path through the gateway.
func (e *env) expect(path string, status int, body, dep string) {
	e.t.Helper()
	w := httptest.NewRecorder()
	e.gw.ServeHTTP(w, httptest.NewRequest("GET", "http://gw.test"+path, nil))
	b, _ := io.ReadAll(w.Result().Body)
	if w.Code != status || (body != "" && string(b) != body) || w.Header().Get("X-Wasmgate-Deployment") != dep {
		e.t.Fatalf("GET %s = %d %q from %q, want %d %q from %q", path, w.Code, b, w.Header().Get("X-Wasmgate-Deployment"), status, body, dep)
	}
}

// raw sends a request to the admin API and returns the status, the
// decoded error message (if the body is an error) and the response.
func (e *env) raw(method, path string, body io.Reader, header ...string) (int, string, *http.Response) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var eb struct {
		Message string `json:"message"`
	}
	if resp.StatusCode >= 400 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			e.t.Errorf("%s %s: %d with Content-Type %q, want application/json: %s", method, path, resp.StatusCode, ct, b)
		}
		if err := json.Unmarshal(b, &eb); err != nil || eb.Message == "" {
			e.t.Errorf("%s %s: %d with body %q, want {\"message\": ...}", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, eb.Message, resp
}

// must(f())(t) is f's value, or a fatal error.
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// TestEndpoints walks every endpoint's happy path through the Client.
func TestEndpoints(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	c := e.c
	c.Author = "alice"
	bin := deploytest.TemplateWasm(t)

	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}

	// Plugins.
	v1, created, err := c.PushPlugin(ctx, "template", "1.0.0", bin)
	if err != nil || !created || !strings.HasPrefix(v1.Digest, "sha256:") || v1.Size != len(bin) {
		t.Fatalf("push: %+v created=%v %v", v1, created, err)
	}
	if again, created, err := c.PushPlugin(ctx, "template", "1.0.0", bin); err != nil || created || again.Digest != v1.Digest {
		t.Fatalf("push again: %+v created=%v %v", again, created, err)
	}
	v2, _, err := c.PushPlugin(ctx, "template", "2.0.0", deploytest.Variant(bin, "2"))
	if err != nil {
		t.Fatal(err)
	}
	if ps := must(c.Plugins(ctx))(t); len(ps) != 2 || ps[0].Digest != v1.Digest {
		t.Fatalf("plugins: %+v", ps)
	}
	if p := must(c.Plugin(ctx, v2.Digest))(t); p.Version != "2.0.0" || p.Tags[0] != "template@2.0.0" {
		t.Fatalf("plugin: %+v", p)
	}

	// Deployments.
	d1, err := c.Deploy(ctx, e.doc("template", "one"), admin.DeployRequest{Stages: []string{"prod", "prod"}, Description: "first", Source: "demo.yaml"})
	if err != nil || d1.ID != "d-1" || d1.Source != "demo.yaml" || d1.Description != "first" || d1.Author != "alice" || d1.Plugins[0].Digest != v2.Digest {
		t.Fatalf("deploy: %+v %v", d1, err)
	}
	e.expect("/prod/hello", 200, "v=doc-prod demo=one", "d-1")
	d2, err := c.Deploy(ctx, e.doc("template", "two"), admin.DeployRequest{Author: "bob"}) // recorded only
	if err != nil || d2.ID != "d-2" || d2.Author != "bob" {
		t.Fatalf("deploy without a stage: %+v %v", d2, err)
	}
	if ds := must(c.Deployments(ctx))(t); len(ds) != 2 || ds[0].ID != "d-2" {
		t.Fatalf("deployments: %+v", ds)
	}
	if d := must(c.Deployment(ctx, "d-1"))(t); d.DocDigest != d1.DocDigest {
		t.Fatalf("deployment: %+v", d)
	}

	// Stages.
	if sts := must(c.Stages(ctx))(t); len(sts) != 1 || sts[0].Name != "prod" || !sts[0].Serving || sts[0].Deployment != "d-1" {
		t.Fatalf("stages: %+v", sts)
	}
	st, err := c.PutStage(ctx, "prod", deploy.StageSpec{Variables: map[string]string{"v": "set"}})
	if err != nil || st.Deployment != "d-1" || st.Variables["v"] != "set" {
		t.Fatalf("put stage: %+v %v", st, err)
	}
	e.expect("/prod/hello", 200, "v=set demo=one", "d-1")
	if st, err := c.PutStage(ctx, "beta", deploy.StageSpec{Deployment: "d-2", Hosts: []string{"beta.example.com"}}); err != nil || st.Deployment != "d-2" {
		t.Fatalf("new stage: %+v %v", st, err)
	}
	e.expect("/beta/hello", 200, "v= demo=two", "d-2")
	if s := must(c.Stage(ctx, "beta"))(t); s.Hosts[0] != "beta.example.com" || !s.Serving {
		t.Fatalf("stage: %+v", s)
	}

	// Canary: set, promote, set again, drop.
	if st, err := c.SetCanary(ctx, "prod", deploy.Canary{Deployment: "d-2", Percent: 100, Sticky: "ip", Variables: map[string]string{"v": "canary"}}); err != nil || st.Canary == nil || st.Canary.Deployment != "d-2" {
		t.Fatalf("canary: %+v %v", st, err)
	}
	e.expect("/prod/hello", 200, "v=canary demo=two", "d-2")
	if st, err := c.PromoteCanary(ctx, "prod"); err != nil || st.Deployment != "d-2" || st.Canary != nil || st.Variables["v"] != "canary" {
		t.Fatalf("promote: %+v %v", st, err)
	}
	if _, err := c.SetCanary(ctx, "prod", deploy.Canary{Deployment: "d-1", Percent: 100}); err != nil {
		t.Fatal(err)
	}
	e.expect("/prod/hello", 200, "", "d-1")
	if st, err := c.DropCanary(ctx, "prod"); err != nil || st.Canary != nil {
		t.Fatalf("drop: %+v %v", st, err)
	}
	e.expect("/prod/hello", 200, "", "d-2")

	// Pins.
	for _, ref := range []string{"1.0.0", "template@1.0.0", v1.Digest} {
		if st, err := c.Pin(ctx, "prod", "template", ref); err != nil || st.Pins["template"] != v1.Digest {
			t.Fatalf("pin %s: %+v %v", ref, st, err)
		}
	}
	if out := must(c.Export(ctx, "", "prod", ""))(t); !strings.Contains(string(out), "template@"+v1.Digest) {
		t.Fatalf("the stage export does not carry the pin:\n%s", out)
	}
	if st, err := c.Unpin(ctx, "prod", "template"); err != nil || len(st.Pins) != 0 {
		t.Fatalf("unpin: %+v %v", st, err)
	}

	// Rollback: to the previous deployment, then to a named one.
	if st, err := c.Rollback(ctx, "prod", ""); err != nil || st.Deployment != "d-1" {
		t.Fatalf("rollback: %+v %v", st, err)
	}
	e.expect("/prod/hello", 200, "", "d-1")
	if st, err := c.Rollback(ctx, "prod", "d-2"); err != nil || st.Deployment != "d-2" {
		t.Fatalf("rollback --to: %+v %v", st, err)
	}
	// A raw rollback with no body at all works too.
	if code, msg, _ := e.raw("POST", "/v1/stages/prod/rollback", nil); code != 200 {
		t.Fatalf("rollback without a body: %d %s", code, msg)
	}

	// Exports.
	for _, f := range []struct{ format, want string }{{"", "openapi: 3.0.3"}, {"oas3", "openapi:"}, {"swagger2", "swagger: \"2.0\""}} {
		out, err := c.Export(ctx, "d-1", "", f.format)
		if err != nil || !strings.Contains(string(out), f.want) || !strings.Contains(string(out), "template@"+v2.Digest) {
			t.Fatalf("export d-1 %q: %v\n%s", f.format, err, out)
		}
	}
	if out := must(c.Export(ctx, "d-2", "beta", ""))(t); !strings.Contains(string(out), "beta.example.com") || !strings.Contains(string(out), "value: two") {
		t.Fatalf("export of beta with d-2:\n%s", out)
	}
	if code, _, resp := e.raw("GET", "/v1/deployments/d-1/export", nil); code != 200 || resp.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("export content type: %d %q", code, resp.Header.Get("Content-Type"))
	}
	if code, _, resp := e.raw("GET", "/v1/stages/prod/export?format=swagger2", nil); code != 200 || resp.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("stage export content type: %d %q", code, resp.Header.Get("Content-Type"))
	}

	// History.
	h := must(c.History(ctx, "prod", 0))(t)
	var got []string
	for _, ev := range h {
		got = append(got, ev.Action+":"+ev.Deployment+":"+ev.Author)
	}
	want := "rollback:d-1:admin rollback:d-2:alice rollback:d-1:alice unpin:d-2:alice pin:d-2:alice pin:d-2:alice pin:d-2:alice " +
		"drop-canary:d-2:alice canary:d-1:alice promote:d-2:alice canary:d-2:alice update-stage:d-1:alice deploy:d-1:alice"
	if strings.Join(got, " ") != want {
		t.Fatalf("prod history:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if h := must(c.History(ctx, "", 2))(t); len(h) != 2 || h[0].Action != "rollback" {
		t.Fatalf("history limit 2: %+v", h)
	}
	if h := must(c.History(ctx, "nope", 0))(t); h == nil || len(h) != 0 {
		t.Fatalf("history of an unknown stage: %#v", h)
	}

	// Delete.
	if err := c.DeleteStage(ctx, "beta"); err != nil {
		t.Fatal(err)
	}
	e.expect("/beta/hello", 404, "", "")
	if code, _, _ := e.raw("DELETE", "/v1/stages/prod", nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if sts := must(c.Stages(ctx))(t); sts == nil || len(sts) != 0 {
		t.Fatalf("stages after deleting them all: %#v", sts)
	}
}

// TestErrors checks the status and message of failing requests.
func TestErrors(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	bin := deploytest.TemplateWasm(t)
	if _, _, err := e.c.PushPlugin(ctx, "template", "1.0.0", bin); err != nil {
		t.Fatal(err)
	}
	must(e.c.Deploy(ctx, e.doc("template", "one"), admin.DeployRequest{Stages: []string{"prod"}}))(t)
	must(e.c.PutStage(ctx, "beta", deploy.StageSpec{Deployment: "d-1", Hosts: []string{"beta.example.com"}}))(t)
	zeros := "sha256:" + strings.Repeat("0", 64)

	cases := []struct {
		name         string
		method, path string
		body         string
		status       int
		msg          string
	}{
		{"unknown endpoint", "GET", "/v1/nope", "", 404, "no endpoint GET /v1/nope"},
		{"unknown root", "GET", "/", "", 404, "under /v1"},
		{"wrong method", "POST", "/v1/health", "", 405, "allowed: GET, HEAD"},
		{"wrong method on a stage", "PATCH", "/v1/stages/prod", "", 405, "allowed: DELETE, GET, HEAD, PUT"},
		{"unknown stage", "GET", "/v1/stages/nope", "", 404, `no stage "nope"`},
		{"unknown deployment", "GET", "/v1/deployments/d-9", "", 404, "no deployment d-9"},
		{"unknown plugin", "GET", "/v1/plugins/" + zeros, "", 404, "no plugin"},
		{"unknown query parameter", "GET", "/v1/history?stages=prod", "", 400, `unknown query parameter "stages"`},
		{"bad limit", "GET", "/v1/history?limit=x", "", 400, "limit=x"},
		{"negative limit", "GET", "/v1/history?limit=-1", "", 400, "limit=-1"},
		{"push without a version", "POST", "/v1/plugins?name=x", "abc", 400, "name and version"},
		{"push an empty body", "POST", "/v1/plugins?name=x&version=1", "", 400, "empty body"},
		{"push a broken module", "POST", "/v1/plugins?name=x&version=1", "\x00asm garbage", 400, "x@1"},
		{"push a bad name", "POST", "/v1/plugins?name=Bad%20Name&version=1", string(bin), 400, "plugin name"},
		{"push other bytes as a tag", "POST", "/v1/plugins?name=template&version=1.0.0", string(deploytest.Variant(bin, "x")), 409, "versions never change"},
		{"deploy an empty body", "POST", "/v1/deployments?stage=prod", " \n", 400, "empty body"},
		{"deploy a broken document", "POST", "/v1/deployments?stage=prod", "openapi: 3.0.3\npaths: [\n", 400, "api.yaml"},
		{"deploy a bad stage name", "POST", "/v1/deployments?stage=a/b", string(e.doc("template", "x")), 400, "stage name"},
		{"deploy an unknown plugin", "POST", "/v1/deployments?stage=prod", string(e.doc("nope", "x")), 400, "push it first"},
		{"deploy a host conflict", "POST", "/v1/deployments?stage=other", strings.Replace(string(e.doc("template", "x")), "- name: prod", "- name: other\n    hosts: [beta.example.com]\n  - name: prod", 1), 409, "beta.example.com"},
		{"bad JSON", "PUT", "/v1/stages/prod", "{", 400, "bad JSON body"},
		{"unknown field", "PUT", "/v1/stages/prod", `{"deploymentt":"d-1"}`, 400, `unknown field "deploymentt"`},
		{"wrong type", "PUT", "/v1/stages/prod", `{"variables":["a"]}`, 400, "bad JSON body"},
		{"two values", "PUT", "/v1/stages/prod", `{} {}`, 400, "more than one JSON value"},
		{"empty stage body", "PUT", "/v1/stages/prod", "", 400, "empty body"},
		{"new stage without a deployment", "PUT", "/v1/stages/new", `{}`, 400, "give the deployment"},
		{"stage on a missing deployment", "PUT", "/v1/stages/prod", `{"deployment":"d-42"}`, 404, "no deployment d-42"},
		{"bad variable", "PUT", "/v1/stages/prod", `{"variables":{"a-b":"x"}}`, 400, "stage variable name"},
		{"host taken", "PUT", "/v1/stages/prod", `{"hosts":["beta.example.com"]}`, 409, "beta.example.com"},
		{"delete a missing stage", "DELETE", "/v1/stages/nope", "", 404, `no stage "nope"`},
		{"rollback with nothing older", "POST", "/v1/stages/prod/rollback", "", 400, "name one"},
		{"rollback to a missing deployment", "POST", "/v1/stages/prod/rollback", `{"to":"d-99"}`, 404, "no deployment d-99"},
		{"rollback with a bad body", "POST", "/v1/stages/prod/rollback", `{"too":"d-1"}`, 400, `unknown field "too"`},
		{"rollback a missing stage", "POST", "/v1/stages/nope/rollback", "", 404, `no stage "nope"`},
		{"pin without a ref", "PUT", "/v1/stages/prod/pins/template", `{}`, 400, "give a ref"},
		{"pin an unused plugin", "PUT", "/v1/stages/prod/pins/other", `{"ref":"1.0.0"}`, 400, "does not use"},
		{"pin a missing version", "PUT", "/v1/stages/prod/pins/template", `{"ref":"9.9.9"}`, 404, "template@9.9.9"},
		{"pin a missing digest", "PUT", "/v1/stages/prod/pins/template", `{"ref":"` + zeros + `"}`, 404, "not in the store"},
		{"unpin what is not pinned", "DELETE", "/v1/stages/prod/pins/template", "", 404, "does not pin"},
		{"canary at 0%", "PUT", "/v1/stages/prod/canary", `{"deployment":"d-1","percent":0}`, 400, "canary percent"},
		{"canary with a bad sticky", "PUT", "/v1/stages/prod/canary", `{"deployment":"d-1","percent":5,"sticky":"moon"}`, 400, "sticky"},
		{"canary on a missing deployment", "PUT", "/v1/stages/prod/canary", `{"deployment":"d-9","percent":5}`, 404, "no deployment d-9"},
		{"promote without a canary", "POST", "/v1/stages/prod/canary/promote", "", 404, "has no canary"},
		{"drop without a canary", "DELETE", "/v1/stages/prod/canary", "", 404, "has no canary"},
		{"export in a bad format", "GET", "/v1/deployments/d-1/export?format=raml", "", 400, "unknown format"},
		{"export a missing deployment", "GET", "/v1/deployments/d-9/export", "", 404, "no deployment"},
		{"export a missing stage", "GET", "/v1/stages/nope/export", "", 404, `no stage "nope"`},
		{"long author", "PUT", "/v1/stages/prod/canary", `{"deployment":"d-1","percent":5}`, 400, "X-Wasmgate-Author"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			header := []string{}
			if c.name == "long author" {
				header = []string{admin.AuthorHeader, strings.Repeat("a", 201)}
			}
			code, msg, _ := e.raw(c.method, c.path, body, header...)
			if code != c.status || !strings.Contains(msg, c.msg) {
				t.Errorf("%s %s = %d %q, want %d mentioning %q", c.method, c.path, code, msg, c.status, c.msg)
			}
		})
	}
	// Nothing above changed what is served.
	e.expect("/prod/hello", 200, "v=doc-prod demo=one", "d-1")
	if ds := must(e.c.Deployments(ctx))(t); len(ds) != 1 {
		t.Fatalf("failed deploys left deployments: %+v", ds)
	}

	// The Client reports errors as *APIError carrying the server's message.
	_, err := e.c.Stage(ctx, "nope")
	var ae *admin.APIError
	if !errors.As(err, &ae) || ae.Status != 404 || err.Error() != `no stage "nope"` {
		t.Fatalf("client error: %#v", err)
	}
}

// TestBodyLimits checks the 413s: a document over 10 MiB sent in chunks,
// and a plugin whose Content-Length is over 64 MiB (refused before it is
// read).
func TestBodyLimits(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()

	big := bytes.Repeat([]byte("#"), admin.MaxDocumentBytes+1)
	// io.MultiReader hides the length: the body goes chunked.
	code, msg, _ := e.raw("POST", "/v1/deployments", io.MultiReader(bytes.NewReader(big)))
	if code != 413 || !strings.Contains(msg, "10 MiB") {
		t.Fatalf("a chunked 10 MiB + 1 document: %d %q", code, msg)
	}
	_, err := e.c.Deploy(ctx, big, admin.DeployRequest{})
	var ae *admin.APIError
	if !errors.As(err, &ae) || ae.Status != 413 {
		t.Fatalf("Client.Deploy of 10 MiB + 1: %v", err)
	}
	code, msg, _ = e.raw("PUT", "/v1/stages/prod", io.MultiReader(bytes.NewReader(big)))
	if code != 413 {
		t.Fatalf("a 10 MiB + 1 JSON body: %d %q", code, msg)
	}

	// A plugin announced as 64 MiB + 1: the answer comes before the body.
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/plugins?name=big&version=1 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", admin.MaxPluginBytes+1)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 || !strings.Contains(string(b), "64 MiB") {
		t.Fatalf("a 64 MiB + 1 plugin: %d %s", resp.StatusCode, b)
	}
	// Through the Client, with the whole body sent.
	_, _, err = e.c.PushPlugin(ctx, "big", "1", make([]byte, admin.MaxPluginBytes+1))
	if !errors.As(err, &ae) || ae.Status != 413 {
		t.Fatalf("Client.PushPlugin of 64 MiB + 1: %v", err)
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, "s3cret")
	ctx := context.Background()
	for _, c := range []struct {
		name, path, auth string
		status           int
	}{
		{"no token", "/v1/health", "", 401},
		{"wrong token", "/v1/health", "Bearer nope", 401},
		{"token without Bearer", "/v1/health", "s3cret", 401},
		{"token as a prefix", "/v1/health", "Bearer s3cret2", 401},
		{"basic auth", "/v1/health", "Basic czNjcmV0", 401},
		{"unknown endpoint, no token", "/v1/nope", "", 401},
		{"right token", "/v1/health", "Bearer s3cret", 200},
		{"right token, unknown endpoint", "/v1/nope", "Bearer s3cret", 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			var header []string
			if c.auth != "" {
				header = []string{"Authorization", c.auth}
			}
			code, msg, resp := e.raw("GET", c.path, nil, header...)
			if code != c.status {
				t.Fatalf("%d %q, want %d", code, msg, c.status)
			}
			if code == 401 && (!strings.Contains(msg, "WASMGATE_ADMIN_TOKEN") || resp.Header.Get("WWW-Authenticate") == "") {
				t.Fatalf("401: %q, WWW-Authenticate %q", msg, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	if err := e.c.Health(ctx); err != nil {
		t.Fatalf("the client with the token: %v", err)
	}
	err := admin.NewClient(e.srv.URL, "wrong").Health(ctx)
	var ae *admin.APIError
	if !errors.As(err, &ae) || ae.Status != 401 {
		t.Fatalf("the client with a wrong token: %v", err)
	}
}

func TestCheckListen(t *testing.T) {
	for _, c := range []struct {
		addr, token string
		ok          bool
		msg         string
	}{
		{"127.0.0.1:9901", "", true, ""},
		{"127.8.9.10:9901", "", true, ""},
		{"[::1]:9901", "", true, ""},
		{"localhost:9901", "", true, ""},
		{"LocalHost:9901", "", true, ""},
		{"[::ffff:127.0.0.1]:9901", "", true, ""},
		{"", "", true, ""}, // the admin API is off
		{"0.0.0.0:9901", "", false, "admin_listen 0.0.0.0:9901 is not a loopback address: set admin_token (env WASMGATE_ADMIN_TOKEN) or bind 127.0.0.1"},
		{":9901", "", false, "admin_listen :9901 listens on every interface: set admin_token (env WASMGATE_ADMIN_TOKEN) or bind 127.0.0.1"},
		{"[::]:9901", "", false, "is not a loopback address"},
		{"10.0.0.5:9901", "", false, "is not a loopback address"},
		{"admin.example.com:9901", "", false, "is not a loopback address"},
		{"localhost.example.com:9901", "", false, "is not a loopback address"},
		{"0.0.0.0:9901", "t", true, ""},
		{":9901", "t", true, ""},
		{"127.0.0.1", "", false, "want HOST:PORT"},
		{"127.0.0.1", "t", false, "want HOST:PORT"},
	} {
		err := admin.CheckListen(c.addr, c.token)
		if (err == nil) != c.ok || (err != nil && !strings.Contains(err.Error(), c.msg)) {
			t.Errorf("CheckListen(%q, %q) = %v, want ok=%v mentioning %q", c.addr, c.token, err, c.ok, c.msg)
		}
	}
}

// An internal failure is a 500 with the message, and is logged.
func TestInternalError(t *testing.T) {
	e := newEnv(t, "")
	e.m.Close() // the store is closed: reading the history fails
	code, msg, _ := e.raw("GET", "/v1/history", nil)
	if code != 500 || msg == "" {
		t.Fatalf("%d %q", code, msg)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.logs) != 1 || !strings.Contains(e.logs[0], "GET /v1/history") {
		t.Fatalf("logs: %q", e.logs)
	}
}

// A Client pointed at something that is not the admin API says so.
func TestClientWrongServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, err := admin.NewClient(strings.TrimPrefix(srv.URL, "http://"), "").Stages(context.Background())
	var ae *admin.APIError
	if !errors.As(err, &ae) || ae.Status != 404 || !strings.Contains(err.Error(), "is this wasmgate's admin API?") {
		t.Fatalf("%v", err)
	}
}
