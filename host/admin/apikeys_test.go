package admin_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/host/admin"
	"github.com/wasmgate/wasmgate/host/apikeys"
)

func apiStatus(err error) int {
	var ae *admin.APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// TestAPIKeysAndUsagePlans walks the key and plan endpoints through the
// Client over a real server, checking the store behind it.
func TestAPIKeysAndUsagePlans(t *testing.T) {
	e := newEnv(t, "tok")
	ctx := context.Background()
	c := e.c
	plan := must(c.CreateUsagePlan(ctx, apikeys.PlanSpec{Name: "basic", Throttle: &apikeys.Throttle{Rate: 10, Burst: 20},
		Quota: &apikeys.Quota{Limit: 10000, Period: "month"}, Stages: []string{"prod"}}))(t)
	if plan.ID == "" || plan.Throttle.Burst != 20 || len(plan.Keys) != 0 {
		t.Fatalf("created plan %+v", plan)
	}
	k := must(c.CreateAPIKey(ctx, apikeys.KeySpec{Name: "ci", Plan: plan.ID}))(t)
	if len(k.Value) != 40 || !k.Enabled || len(k.Plans) != 1 || k.Plans[0] != plan.ID {
		t.Fatalf("created key %+v", k)
	}
	if id, _, ok := e.keys.VerifyAPIKey("prod", k.Value); !ok || id != k.ID {
		t.Fatalf("the store does not verify the created key: %q %v", id, ok)
	}
	// The value is shown once: not in the key's or the list's answer.
	for _, path := range []string{"/v1/apikeys", "/v1/apikeys/" + k.ID, "/v1/usageplans", "/v1/usageplans/" + plan.ID} {
		status, _, resp := e.raw("GET", path, nil, "Authorization", "Bearer tok")
		body := rawBody(t, e, path)
		if status != 200 || strings.Contains(body, k.Value) || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: %d, contains the value: %v, cache-control %q", path, status, strings.Contains(body, k.Value), resp.Header.Get("Cache-Control"))
		}
	}
	if got := must(c.APIKey(ctx, k.ID))(t); got.Name != "ci" || got.Created.IsZero() {
		t.Fatalf("get key %+v", got)
	}
	if keys := must(c.APIKeys(ctx))(t); len(keys) != 1 || keys[0].ID != k.ID {
		t.Fatalf("list keys %+v", keys)
	}
	if p := must(c.UsagePlan(ctx, plan.ID))(t); len(p.Keys) != 1 || p.Keys[0] != k.ID {
		t.Fatalf("the plan does not list its key: %+v", p)
	}

	// Disable, and enable again.
	no, yes := false, true
	if got := must(c.UpdateAPIKey(ctx, k.ID, apikeys.KeyUpdate{Enabled: &no}))(t); got.Enabled {
		t.Fatal("still enabled")
	}
	if _, _, ok := e.keys.VerifyAPIKey("prod", k.Value); ok {
		t.Fatal("a disabled key verifies")
	}
	must(c.UpdateAPIKey(ctx, k.ID, apikeys.KeyUpdate{Enabled: &yes}))(t)

	// One plan per key and stage; a plan with keys is not deleted.
	other := must(c.CreateUsagePlan(ctx, apikeys.PlanSpec{Name: "other", Stages: []string{"prod", "dev"}}))(t)
	if _, err := c.AddUsagePlanKey(ctx, other.ID, k.ID); apiStatus(err) != http.StatusConflict || !strings.Contains(err.Error(), "at most one plan per stage") {
		t.Fatalf("second plan for prod: %v", err)
	}
	if _, err := c.PutUsagePlan(ctx, plan.ID, apikeys.PlanSpec{Name: "basic", Stages: []string{"dev"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteUsagePlan(ctx, plan.ID); apiStatus(err) != http.StatusConflict {
		t.Fatalf("delete a plan with keys: %v", err)
	}
	if p := must(c.RemoveUsagePlanKey(ctx, plan.ID, k.ID))(t); len(p.Keys) != 0 {
		t.Fatalf("after remove-key: %+v", p)
	}
	if p := must(c.AddUsagePlanKey(ctx, other.ID, k.ID))(t); len(p.Keys) != 1 {
		t.Fatalf("after add-key: %+v", p)
	}
	if err := c.DeleteUsagePlan(ctx, plan.ID); err != nil {
		t.Fatal(err)
	}
	if plans := must(c.UsagePlans(ctx))(t); len(plans) != 1 || plans[0].ID != other.ID {
		t.Fatalf("plans after delete: %+v", plans)
	}
	if err := c.DeleteAPIKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.APIKey(ctx, k.ID); apiStatus(err) != http.StatusNotFound {
		t.Fatalf("a deleted key: %v", err)
	}
	if _, _, ok := e.keys.VerifyAPIKey("prod", k.Value); ok {
		t.Fatal("a deleted key verifies")
	}
}

func rawBody(t *testing.T, e *env, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAPIKeyErrors(t *testing.T) {
	e := newEnv(t, "")
	k := must(e.keys.CreateKey(apikeys.KeySpec{Name: "k"}))(t)
	for _, c := range []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"POST", "/v1/apikeys", ``, 400, "empty body"},
		{"POST", "/v1/apikeys", `{"name":"x","secret":"y"}`, 400, "unknown field"},
		{"POST", "/v1/apikeys", `{"name":""}`, 400, "name is required"},
		{"POST", "/v1/apikeys", `{"name":"x","value":"short"}`, 400, "20 to 128"},
		{"POST", "/v1/apikeys", `{"name":"x","plan":"p-missing"}`, 404, "no usage plan p-missing"},
		{"POST", "/v1/apikeys?plan=p-1", `{"name":"x"}`, 400, "unknown query parameter"},
		{"GET", "/v1/apikeys/k-missing", ``, 404, "no api key k-missing"},
		{"PATCH", "/v1/apikeys/" + k.ID, `{}`, 400, "nothing to change"},
		{"PATCH", "/v1/apikeys/" + k.ID, `{"enabled":"no"}`, 400, "bad JSON body"},
		{"DELETE", "/v1/apikeys/k-missing", ``, 404, "k-missing"},
		{"POST", "/v1/usageplans", `{"name":"p","quota":{"limit":5,"period":"hour"}}`, 400, "quota.period"},
		{"POST", "/v1/usageplans", `{"name":"p","throttle":{"rate":-1}}`, 400, "throttle.rate"},
		{"PUT", "/v1/usageplans/p-missing", `{"name":"p"}`, 404, "p-missing"},
		{"PUT", "/v1/usageplans/p-missing/keys/" + k.ID, ``, 404, "p-missing"},
		{"POST", "/v1/apikeys/" + k.ID, `{}`, 405, "method not allowed"},
	} {
		status, msg, _ := e.raw(c.method, c.path, strings.NewReader(c.body))
		if status != c.status || !strings.Contains(msg, c.msg) {
			t.Errorf("%s %s %s: %d %q, want %d mentioning %q", c.method, c.path, c.body, status, msg, c.status, c.msg)
		}
	}

	// Without a key store the endpoints say so.
	srv := httptest.NewServer(admin.New(e.m, admin.Options{}))
	defer srv.Close()
	_, err := admin.NewClient(srv.URL, "").APIKeys(context.Background())
	if apiStatus(err) != http.StatusNotFound || !strings.Contains(err.Error(), "no API key store") {
		t.Fatalf("without a key store: %v", err)
	}
}
