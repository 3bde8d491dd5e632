package apikeys

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func openStore(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{Now: func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
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

// verify returns the document's plan id ("" for null), or "unknown".
func verify(t testing.TB, s *Store, stage, value string) (keyID, planID string) {
	t.Helper()
	id, doc, ok := s.VerifyAPIKey(stage, value)
	if !ok {
		return "", "unknown"
	}
	var d Document
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("document %s: %v", doc, err)
	}
	if d.ID != id {
		t.Fatalf("document id %q, returned id %q", d.ID, id)
	}
	if d.Plan == nil {
		return id, ""
	}
	return id, d.Plan.ID
}

func TestKeysPlansAndVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), StoreFile)
	s := openStore(t, path)
	prod := must(s.CreatePlan(PlanSpec{Name: "gold", Throttle: &Throttle{Rate: 10, Burst: 20},
		Quota: &Quota{Limit: 10000, Period: "month"}, Stages: []string{"prod", "prod", "$default"}}))(t)
	if strings.Join(prod.Stages, ",") != "$default,prod" || prod.ID[:2] != "p-" || len(prod.ID) != 12 {
		t.Fatalf("plan %+v: stages not de-duplicated and sorted, or a bad id", prod)
	}
	dev := must(s.CreatePlan(PlanSpec{Name: "dev", Throttle: &Throttle{Rate: 0.5}, Stages: []string{"dev"}}))(t)
	if dev.Throttle.Burst != 1 {
		t.Fatalf("burst defaults to the rate rounded up (at least 1): %+v", dev.Throttle)
	}
	k := must(s.CreateKey(KeySpec{Name: "ci", Plan: prod.ID}))(t)
	if len(k.Value) != 40 || k.ID[:2] != "k-" || !k.Enabled || strings.Join(k.Plans, ",") != prod.ID {
		t.Fatalf("created %+v", k)
	}
	other := must(s.CreateKey(KeySpec{Name: "mine", Value: "operator-chosen-value-1234"}))(t)
	if other.Value != "operator-chosen-value-1234" {
		t.Fatalf("the operator's value was not kept: %q", other.Value)
	}

	for _, c := range []struct{ stage, value, key, plan string }{
		{"prod", k.Value, k.ID, prod.ID},
		{"$default", k.Value, k.ID, prod.ID},
		{"dev", k.Value, k.ID, ""}, // valid key, no plan for dev
		{"prod", other.Value, other.ID, ""},
		{"prod", k.Value[:39], "", "unknown"},
		{"prod", k.Value + "x", "", "unknown"},
		{"prod", "", "", "unknown"},
		{"prod", strings.Repeat("a", 1<<20), "", "unknown"},
	} {
		if id, plan := verify(t, s, c.stage, c.value); id != c.key || plan != c.plan {
			t.Errorf("stage %s value %.20q: key %q plan %q, want %q %q", c.stage, c.value, id, plan, c.key, c.plan)
		}
	}

	// A key has at most one plan per stage.
	must(s.AddKey(dev.ID, k.ID))(t)
	if _, plan := verify(t, s, "dev", k.Value); plan != dev.ID {
		t.Fatalf("after add-key: plan %q for dev", plan)
	}
	clash := must(s.CreatePlan(PlanSpec{Name: "clash", Stages: []string{"dev", "qa"}}))(t)
	if _, err := s.AddKey(clash.ID, k.ID); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), dev.ID) {
		t.Fatalf("a second plan for dev: %v", err)
	}
	everywhere := must(s.CreatePlan(PlanSpec{Name: "everywhere"}))(t)
	if _, err := s.AddKey(everywhere.ID, k.ID); !errors.Is(err, ErrConflict) {
		t.Fatalf("a plan for every stage next to stage plans: %v", err)
	}
	must(s.AddKey(everywhere.ID, other.ID))(t)
	if _, plan := verify(t, s, "anything", other.Value); plan != everywhere.ID {
		t.Fatalf("a plan without stages covers every stage: %q", plan)
	}
	// Widening dev's plan onto prod would give k two plans for prod.
	if _, err := s.PutPlan(dev.ID, PlanSpec{Name: "dev", Stages: []string{"dev", "prod"}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("put plan overlapping: %v", err)
	}
	if err := s.DeletePlan(prod.ID); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), k.ID) {
		t.Fatalf("deleting a plan with keys: %v", err)
	}

	// Disabled: refused like an unknown key; enabled again: back.
	must(s.UpdateKey(k.ID, KeyUpdate{Enabled: new(bool)}))(t)
	if _, plan := verify(t, s, "prod", k.Value); plan != "unknown" {
		t.Fatalf("disabled key verified: %q", plan)
	}
	yes := true
	must(s.UpdateKey(k.ID, KeyUpdate{Enabled: &yes}))(t)

	// Everything survives a reopen, and the file holds no value.
	s.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(k.Value)) || bytes.Contains(raw, []byte(other.Value)) {
		t.Fatal("the store file contains a key's plaintext value")
	}
	s = openStore(t, path)
	if id, plan := verify(t, s, "prod", k.Value); id != k.ID || plan != prod.ID {
		t.Fatalf("after reopen: %q %q", id, plan)
	}
	if p := must(s.Plan(prod.ID))(t); strings.Join(p.Keys, ",") != k.ID || p.Quota.Limit != 10000 {
		t.Fatalf("plan after reopen: %+v", p)
	}
	must(s.RemoveKey(prod.ID, k.ID))(t)
	if err := s.DeletePlan(prod.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKey(other.ID); err != nil {
		t.Fatal(err)
	}
	if _, plan := verify(t, s, "prod", other.Value); plan != "unknown" {
		t.Fatal("a deleted key still verifies")
	}
	if _, plan := verify(t, s, "prod", k.Value); plan != "" {
		t.Fatalf("a key whose plan was removed: plan %q, want null", plan)
	}
}

func TestValidation(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), StoreFile))
	p := must(s.CreatePlan(PlanSpec{Name: "p"}))(t)
	k := must(s.CreateKey(KeySpec{Name: "k", Value: "a-value-of-twenty-chars"}))(t)
	rate := func(r float64, b int) *Throttle { return &Throttle{Rate: r, Burst: b} }
	for _, c := range []struct {
		name string
		err  error
		kind error
		want string
	}{
		{"key without name", second(s.CreateKey(KeySpec{})), ErrInvalid, "name is required"},
		{"short value", second(s.CreateKey(KeySpec{Name: "x", Value: "short"})), ErrInvalid, "20 to 128"},
		{"value with a space", second(s.CreateKey(KeySpec{Name: "x", Value: "twenty chars and more!"})), ErrInvalid, "visible ASCII"},
		{"duplicate value", second(s.CreateKey(KeySpec{Name: "x", Value: "a-value-of-twenty-chars"})), ErrConflict, k.ID},
		{"unknown plan", second(s.CreateKey(KeySpec{Name: "x", Plan: "p-nope"})), ErrNotFound, "p-nope"},
		{"control character", second(s.CreateKey(KeySpec{Name: "a\nb"})), ErrInvalid, "control character"},
		{"plan without name", second(s.CreatePlan(PlanSpec{})), ErrInvalid, "name"},
		{"rate 0", second(s.CreatePlan(PlanSpec{Name: "x", Throttle: rate(0, 1)})), ErrInvalid, "throttle.rate"},
		{"negative burst", second(s.CreatePlan(PlanSpec{Name: "x", Throttle: rate(1, -1)})), ErrInvalid, "throttle.burst"},
		{"quota 0", second(s.CreatePlan(PlanSpec{Name: "x", Quota: &Quota{Period: "day"}})), ErrInvalid, "quota.limit"},
		{"quota per hour", second(s.CreatePlan(PlanSpec{Name: "x", Quota: &Quota{Limit: 1, Period: "hour"}})), ErrInvalid, "quota.period"},
		{"bad stage", second(s.CreatePlan(PlanSpec{Name: "x", Stages: []string{"pro d"}})), ErrInvalid, "stage name"},
		{"bad route", second(s.CreatePlan(PlanSpec{Name: "x", RouteThrottles: map[string]Throttle{"get /pets": {Rate: 1}}})), ErrInvalid, "METHOD /route"},
		{"bad route throttle", second(s.CreatePlan(PlanSpec{Name: "x", RouteThrottles: map[string]Throttle{"GET /pets": {}}})), ErrInvalid, "route_throttles[GET /pets].rate"},
		{"unknown key", second(s.Key("k-nope")), ErrNotFound, "k-nope"},
		{"put unknown plan", second(s.PutPlan("p-nope", PlanSpec{Name: "x"})), ErrNotFound, "p-nope"},
		{"add unknown key", second(s.AddKey(p.ID, "k-nope")), ErrNotFound, "k-nope"},
		{"remove a key not in the plan", second(s.RemoveKey(p.ID, k.ID)), ErrNotFound, "not in usage plan"},
		{"delete unknown key", s.DeleteKey("k-nope"), ErrNotFound, "k-nope"},
		{"update unknown key", second(s.UpdateKey("k-nope", KeyUpdate{})), ErrNotFound, "k-nope"},
		{"rename to nothing", second(s.UpdateKey(k.ID, KeyUpdate{Name: new(string)})), ErrInvalid, "name is required"},
	} {
		if !errors.Is(c.err, c.kind) || !strings.Contains(fmtErr(c.err), c.want) {
			t.Errorf("%s: %v, want %v mentioning %q", c.name, c.err, c.kind, c.want)
		}
	}
	// The caller's spec is not changed by validation (defaults go to the copy).
	spec := PlanSpec{Name: "x", Throttle: &Throttle{Rate: 2.5}, Stages: []string{"b", "a"}}
	must(s.CreatePlan(spec))(t)
	if spec.Throttle.Burst != 0 || spec.Stages[0] != "b" {
		t.Fatalf("CreatePlan modified its argument: %+v", spec)
	}
}

func second[T any](_ T, err error) error { return err }

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestVerifyDoesNotAllocate(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), StoreFile))
	p := must(s.CreatePlan(PlanSpec{Name: "p", Throttle: &Throttle{Rate: 1}, Stages: []string{"prod"}}))(t)
	k := must(s.CreateKey(KeySpec{Name: "k", Plan: p.ID}))(t)
	long := strings.Repeat("x", MaxValueLen)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, _, ok := s.VerifyAPIKey("prod", k.Value); !ok {
			t.Fatal("not found")
		}
		if _, _, ok := s.VerifyAPIKey("prod", long); ok {
			t.Fatal("found")
		}
	})
	if allocs != 0 {
		t.Fatalf("VerifyAPIKey allocates %v times per call pair, want 0", allocs)
	}
}

// TestHammer verifies keys from many goroutines while keys and plans
// change (run with -race): a lookup sees the state before or after a
// change, never a torn one.
func TestHammer(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), StoreFile))
	p := must(s.CreatePlan(PlanSpec{Name: "p", Stages: []string{"prod"}}))(t)
	stable := must(s.CreateKey(KeySpec{Name: "stable", Plan: p.ID}))(t)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Int64
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				id, doc, ok := s.VerifyAPIKey("prod", stable.Value)
				if !ok || id != stable.ID || !bytes.Contains(doc, []byte(p.ID)) {
					bad.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 25; i++ {
		k := must(s.CreateKey(KeySpec{Name: "churn"}))(t)
		must(s.AddKey(p.ID, k.ID))(t)
		must(s.UpdateKey(k.ID, KeyUpdate{Enabled: new(bool)}))(t)
		if err := s.DeleteKey(k.ID); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if bad.Load() > 0 {
		t.Fatalf("%d lookups of an unchanged key failed during changes", bad.Load())
	}
}
