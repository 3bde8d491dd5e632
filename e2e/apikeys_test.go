package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/admin"
	"github.com/wasmgate/wasmgate/host/apikeys"
	"github.com/wasmgate/wasmgate/host/deploy"
	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/host/policy"
	"github.com/wasmgate/wasmgate/host/wasm"
	"github.com/wasmgate/wasmgate/internal/wasmbuild"
)

// TestAPIKeysEndToEnd: a usage plan and a key created through the admin
// API, examples/apikeys/api.yaml deployed through it, and requests over
// real sockets: 403 without a key or with a bad one, 200 with the key
// (the upstream gets its id, never its value), 429 after the plan's
// burst, 403 in a stage the plan does not cover, 403 once disabled; the
// key id property is the host's and a plugin cannot overwrite it.
func TestAPIKeysEndToEnd(t *testing.T) {
	ctx := context.Background()
	up := newRecordingUpstream(t)
	dir := t.TempDir()
	errs := &logs{}
	eng, err := wasm.NewEngine(ctx, wasm.EngineConfig{CacheDir: filepath.Join(wasmbuild.CacheDir(), "compiled"),
		Log: func(p *wasm.PluginInfo, _ abi.LogLevel, msg string) { errs.add(p.Name + ": " + msg) }})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	keys, err := apikeys.Open(filepath.Join(dir, apikeys.StoreFile), apikeys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	local := policy.NewLocal(policy.SystemClock{})
	gw := gateway.New(gateway.Options{Engine: eng, PoolMin: 1, PoolMax: 2, APIKeys: keys,
		Policies: &gateway.Policies{Limiter: local, Quotas: local},
		ErrorLog: func(id, msg string) { errs.add(id + ": " + msg) }})
	m, err := deploy.Open(ctx, deploy.Options{Dir: dir, Engine: eng, Gateway: gw})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	adm := httptest.NewServer(admin.New(m, admin.Options{APIKeys: keys}))
	defer adm.Close()
	srv := gateway.NewServer(gw, gateway.ServerConfig{Listen: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(ctx)
	base := "http://" + srv.Addr("http")
	defer func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", errs)
		}
	}()

	c := admin.NewClient(adm.URL, "")
	for _, name := range []string{"api-key", "headers", "mock"} {
		bin, err := wasmbuild.Build(pluginDirs[name])
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.PushPlugin(ctx, name, "1.0.0", bin); err != nil {
			t.Fatal(err)
		}
	}
	// One request per 100 s, bursts of 3: the fourth request in a row is
	// throttled whatever the machine's speed.
	plan, err := c.CreateUsagePlan(ctx, apikeys.PlanSpec{Name: "e2e", Throttle: &apikeys.Throttle{Rate: 0.01, Burst: 3},
		Quota: &apikeys.Quota{Limit: 1000, Period: "month"}, Stages: []string{"prod"}})
	if err != nil {
		t.Fatal(err)
	}
	key, err := c.CreateAPIKey(ctx, apikeys.KeySpec{Name: "e2e", Plan: plan.ID})
	if err != nil {
		t.Fatal(err)
	}

	example, err := os.ReadFile("../examples/apikeys/api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(example), "backend: http://127.0.0.1:9000", "backend: "+up.URL, 1)
	if doc == string(example) {
		t.Fatal("examples/apikeys/api.yaml no longer sets the backend variable this test rewrites")
	}
	if _, err := c.Deploy(ctx, []byte(doc), admin.DeployRequest{Stages: []string{"prod"}}); err != nil {
		t.Fatal(err)
	}
	dev := fmt.Sprintf(`openapi: 3.0.3
info: {title: dev, version: "1"}
paths:
  /pets:
    get:
      x-wasmgate-pipeline: [{plugin: api-key}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/pets"}
      responses: {"200": {description: ok}}
  /after:
    get:
      x-wasmgate-pipeline: [{plugin: api-key, config: {require_plan: false}}, {plugin: headers}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/after"}
      responses: {"200": {description: ok}}
`, up.URL)
	if _, err := c.Deploy(ctx, []byte(dev), admin.DeployRequest{Stages: []string{"dev"}}); err != nil {
		t.Fatal(err)
	}

	forbidden := func(what string, r resp) {
		t.Helper()
		if r.status != 403 || r.body != `{"message":"Forbidden"}`+"\n" || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %q (%s), want 403 {\"message\":\"Forbidden\"}", what, r.status, r.body, r.header.Get("Content-Type"))
		}
	}
	before := up.count()
	forbidden("no key", do(t, nil, "GET", base+"/prod/pets", nil))
	bad := key.Value[:39] + "x"
	if bad == key.Value { // the generated key may end in x
		bad = key.Value[:39] + "y"
	}
	forbidden("a bad key", do(t, nil, "GET", base+"/prod/pets", nil, "x-api-key", bad))
	forbidden("the key in the wrong header", do(t, nil, "GET", base+"/prod/pets", nil, "authorization", key.Value))
	forbidden("a key in another stage than its plan's", do(t, nil, "GET", base+"/dev/pets", nil, "x-api-key", key.Value))
	if n := up.count(); n != before {
		t.Fatalf("refused requests reached the upstream: %d", n-before)
	}
	if r := do(t, nil, "GET", base+"/prod/health", nil); r.status != 200 {
		t.Fatalf("a route without the plugin: %d %s", r.status, r.body)
	}

	// The key: through, with its id and without its value.
	r := do(t, nil, "GET", base+"/prod/pets/7?x=1", nil, "x-api-key", key.Value, "x-api-key-id", "k-forged")
	got, _ := up.last()
	if r.status != 200 || got.Path != "/pets/7" {
		t.Fatalf("with the key: %d %s, upstream path %q", r.status, r.body, got.Path)
	}
	if ids := got.Header.Values("X-Api-Key-Id"); len(ids) != 1 || ids[0] != key.ID {
		t.Errorf("upstream X-Api-Key-Id %q, want [%s]", ids, key.ID)
	}
	if got.Header.Get("X-Api-Key") != "" {
		t.Error("the key's value reached the upstream in x-api-key")
	}
	for name, vs := range got.Header {
		for _, v := range vs {
			if strings.Contains(v, key.Value) {
				t.Errorf("the key's value reached the upstream in %s", name)
			}
		}
	}
	if strings.Contains(got.Path+got.RawQuery, key.Value) {
		t.Error("the key's value reached the upstream in the URL")
	}

	// The host sets wasmgate.api_key.id; a later plugin reads it and
	// cannot overwrite it.
	do(t, nil, "GET", base+"/dev/after", nil, "x-api-key", key.Value, "x-forge-api-key-id", "k-forged")
	got, _ = up.last()
	if got.Path != "/after" || got.Header.Get("X-Api-Key-Id-Prop") != key.ID {
		t.Errorf("the property after api-key: %q (path %s), want %s", got.Header.Get("X-Api-Key-Id-Prop"), got.Path, key.ID)
	}
	if res := got.Header.Get("X-Forge-Result"); res == "ok" || res == "" {
		t.Errorf("a plugin overwrote wasmgate.api_key.id: %q", res)
	}

	// The burst of 3: one request was made on prod; two more, then 429.
	for i := 0; i < 2; i++ {
		if r := do(t, nil, "GET", base+"/prod/pets", nil, "x-api-key", key.Value); r.status != 200 {
			t.Fatalf("request %d within the burst: %d %s", i+2, r.status, r.body)
		}
	}
	r = do(t, nil, "GET", base+"/prod/pets", nil, "x-api-key", key.Value)
	if r.status != 429 || r.body != `{"message":"Too Many Requests"}`+"\n" || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the burst: %d %q Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
	}

	// Disabled through the admin API: refused from the next request on.
	no := false
	if _, err := c.UpdateAPIKey(ctx, key.ID, apikeys.KeyUpdate{Enabled: &no}); err != nil {
		t.Fatal(err)
	}
	forbidden("a disabled key", do(t, nil, "GET", base+"/prod/pets", nil, "x-api-key", key.Value))
}
