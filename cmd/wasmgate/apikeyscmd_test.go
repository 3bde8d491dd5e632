package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestCLIAPIKeys drives apikeys and usageplans through the admin API
// into a real key store.
func TestCLIAPIKeys(t *testing.T) {
	e := newCLIEnv(t)
	out := e.ok("usageplans", "create", "--name", "basic", "--rate", "10", "--burst", "20", "--quota", "10000/month",
		"--stages", "prod,dev", "--route-throttle", "GET /pets/{id}=1/2")
	mustMatch(t, "usageplans create", out, `^usage plan p-[a-z0-9]{10} \(basic\) created: throttle 10/s burst 20, quota 10000/month, stages dev, prod\n$`)
	plan := regexp.MustCompile(`p-[a-z0-9]{10}`).FindString(out)

	out, errOut, err := e.run("apikeys", "create", "--name", "ci", "--plan", plan)
	if err != nil {
		t.Fatalf("apikeys create: %v %s", err, errOut)
	}
	mustMatch(t, "apikeys create", out, `^api key k-[a-z0-9]{10} \(ci\) created in usage plan `+plan+`\nvalue: [A-Za-z0-9]{40}\n$`)
	if !strings.Contains(errOut, "not shown again") {
		t.Errorf("no warning that the value is shown once: %q", errOut)
	}
	key := regexp.MustCompile(`k-[a-z0-9]{10}`).FindString(out)
	value := regexp.MustCompile(`value: (\S+)`).FindStringSubmatch(out)[1]
	if id, doc, ok := e.keys.VerifyAPIKey("prod", value); !ok || id != key || !strings.Contains(string(doc), `"GET /pets/{id}":{"rate":1,"burst":2}`) {
		t.Fatalf("the store: %q %s %v", id, doc, ok)
	}

	mustMatch(t, "apikeys", e.ok("apikeys"), `(?m)^ID +NAME +STATE +PLANS +CREATED\n`+key+` +ci +enabled +`+plan+` +\d{4}-`)
	mustMatch(t, "usageplans list", e.ok("usageplans", "list"), `(?m)^`+plan+` +basic +10/s burst 20 +10000/month +dev, prod +1$`)
	if out := e.ok("apikeys", "show", key); strings.Contains(out, value) || !strings.Contains(out, `"enabled": true`) {
		t.Fatalf("apikeys show: %s", out)
	}
	e.ok("apikeys", "disable", key)
	if _, _, ok := e.keys.VerifyAPIKey("prod", value); ok {
		t.Fatal("disabled from the CLI, still verifies")
	}
	mustMatch(t, "apikeys enable", e.ok("apikeys", "enable", key), `^api key `+key+` enabled\n$`)

	other := regexp.MustCompile(`p-[a-z0-9]{10}`).FindString(e.ok("usageplans", "create", "--name", "other", "--stages", "dev"))
	e.fails("at most one plan per stage", "usageplans", "add-key", other, key)
	e.fails("remove them from it first", "usageplans", "delete", plan)
	mustMatch(t, "remove-key", e.ok("usageplans", "remove-key", plan, key), `removed from usage plan `+plan+` \(0 keys\)`)
	mustMatch(t, "add-key", e.ok("usageplans", "add-key", other, key), `added to usage plan `+other+` \(1 keys\)`)
	e.ok("usageplans", "delete", plan)
	e.ok("apikeys", "delete", key)
	e.fails("no api key "+key, "apikeys", "show", key)

	// Flags are checked before anything is sent.
	e.fails("--name is required", "apikeys", "create")
	e.fails("LIMIT/PERIOD", "usageplans", "create", "--name", "x", "--quota", "lots")
	e.fails("--burst needs --rate", "usageplans", "create", "--name", "x", "--burst", "3")
	e.fails("METHOD /route/template=RATE", "usageplans", "create", "--name", "x", "--route-throttle", "GET /pets")
	e.fails(`quota.period "hour"`, "usageplans", "create", "--name", "x", "--quota", "5/hour")
}
