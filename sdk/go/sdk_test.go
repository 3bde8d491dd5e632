//go:build !wasip1

package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/wasm"
	"github.com/wasmgate/wasmgate/sdk/go/sdktest"
)

// plugin builds one of the test plugins in internal/testplugins.
func plugin(t *testing.T, name string) []byte {
	t.Helper()
	return sdktest.Build(t, filepath.Join("internal", "testplugins", name))
}

func header(pairs [][2]string, name string) (string, bool) {
	for _, p := range pairs {
		if strings.EqualFold(p[0], name) {
			return p[1], true
		}
	}
	return "", false
}

func mustOK(t *testing.T, res *sdktest.Result) {
	t.Helper()
	if res.Err != nil {
		t.Fatalf("request failed: %v", res.Err)
	}
}

func TestHeadersBodiesProperties(t *testing.T) {
	t.Parallel()
	h := sdktest.New(t, plugin(t, "headers"), sdktest.Options{
		Properties: map[string]string{
			"wasmgate.stage_variables.backend": "b1",
			"wasmgate.stage_variables.a":       "x",
			"wasmgate.route.params.id":         "42",
		},
	})
	res := h.Do(&sdktest.Request{
		Method: "POST",
		Path:   "/pets/42?x=1",
		Headers: [][2]string{
			{"X-Replace", "old"}, {"x-remove", "gone"}, {"x-echo", "hi"},
		},
		Body: []byte("hello"),
	})
	mustOK(t, res)
	up := res.Upstream
	if up == nil {
		t.Fatalf("the request did not reach the upstream; logs:\n%s", strings.Join(h.Logs(), "\n"))
	}
	want := map[string]string{
		"x-added":      "1",
		"x-replace":    "new",
		"x-count":      "7", // 4 pseudo-headers + 3
		"x-path":       "/pets/42?x=1",
		"x-stage-var":  "b1",
		"x-stage-vars": "a=x,backend=b1",
		"x-route-id":   "42",
		"x-echo":       "hi",
	}
	for k, v := range want {
		if got, _ := header(up.Headers, k); got != v {
			t.Errorf("upstream header %s = %q, want %q", k, got, v)
		}
	}
	if _, ok := header(up.Headers, "x-remove"); ok {
		t.Error("x-remove reached the upstream")
	}
	if up.Method != "POST" || up.Path != "/pets/42?x=1" {
		t.Errorf("upstream got %s %s", up.Method, up.Path)
	}
	if string(up.Body) != "hello+plugin" {
		t.Errorf("upstream body %q, want %q", up.Body, "hello+plugin")
	}
	if res.Status != 200 || res.Local {
		t.Errorf("status %d local %v", res.Status, res.Local)
	}
	if v, _ := header(res.Headers, "x-echo"); v != "hi" {
		t.Errorf("response x-echo = %q", v)
	}
	if v, _ := header(res.Headers, "x-status"); v != "200" {
		t.Errorf("response x-status = %q", v)
	}
	if string(res.Body) != "OK" {
		t.Errorf("response body %q, want OK", res.Body)
	}

	// Trailers, with a body the plugin buffers (PAUSE before the end of
	// the stream): the trailers are still delivered, and the body, which
	// the plugin changes only at its end of stream, passes unchanged.
	h3 := sdktest.New(t, plugin(t, "headers"), sdktest.Options{
		Upstream: func(req *sdktest.Request) *sdktest.Response {
			return &sdktest.Response{Status: 201, Body: []byte("made"), Trailers: [][2]string{{"grpc-status", "0"}}}
		},
	})
	res = h3.Do(&sdktest.Request{Body: []byte("b"), Trailers: [][2]string{{"x-t", "client"}, {"x-u", "1"}}})
	mustOK(t, res)
	if res.Upstream == nil || string(res.Upstream.Body) != "b" {
		t.Fatalf("upstream %+v", res.Upstream)
	}
	if v, _ := header(res.Upstream.Trailers, "x-t"); v != "plugin" {
		t.Errorf("upstream trailer x-t = %q", v)
	}
	if v, _ := header(res.Upstream.Trailers, "x-t-count"); v != "2" {
		t.Errorf("upstream trailer x-t-count = %q", v)
	}
	if v, _ := header(res.Trailers, "x-rt"); v != "seen-0" || res.Status != 201 || string(res.Body) != "made" {
		t.Errorf("response %d %q trailers %q", res.Status, res.Body, res.Trailers)
	}

	// Without stage variable and route parameter: NOT_FOUND is handled.
	h2 := sdktest.New(t, plugin(t, "headers"), sdktest.Options{})
	res = h2.Do(&sdktest.Request{Path: "/"})
	mustOK(t, res)
	if _, ok := header(res.Upstream.Headers, "x-stage-var"); ok {
		t.Error("x-stage-var set without a stage variable")
	}
}

func TestSendHTTPResponse403(t *testing.T) {
	t.Parallel()
	h := sdktest.New(t, plugin(t, "deny"), sdktest.Options{})
	res := h.Do(&sdktest.Request{Path: "/secret"})
	mustOK(t, res)
	if res.Status != 403 || !res.Local || res.Upstream != nil {
		t.Fatalf("got status %d local %v upstream %v, want a local 403", res.Status, res.Local, res.Upstream)
	}
	if string(res.Body) != `{"message":"Forbidden"}` {
		t.Errorf("body %q", res.Body)
	}
	if v, _ := header(res.Headers, "content-type"); v != "application/json" {
		t.Errorf("content-type %q", v)
	}
	if !contains(h.Logs(), "info: deny: no api key") {
		t.Errorf("logs: %q", h.Logs())
	}

	res = h.Do(&sdktest.Request{Path: "/secret", Headers: [][2]string{{"x-api-key", "k"}}})
	mustOK(t, res)
	if res.Status != 200 || res.Local || res.Upstream == nil {
		t.Fatalf("with a key: status %d local %v", res.Status, res.Local)
	}
}

func TestPanicAnswers500AndInstanceSurvives(t *testing.T) {
	t.Parallel()
	t.Run("context per request", func(t *testing.T) { testPanics(t, "") })
	t.Run("shared context", func(t *testing.T) { testPanics(t, "shared") })
}

func testPanics(t *testing.T, config string) {
	t.Parallel()
	h := sdktest.New(t, plugin(t, "panics"), sdktest.Options{Config: config})
	served := 0
	ok := func() {
		t.Helper()
		res := h.Do(&sdktest.Request{Path: "/"})
		served++
		mustOK(t, res)
		if res.Status != 200 || res.Local {
			t.Fatalf("healthy request: status %d local %v", res.Status, res.Local)
		}
		if v, _ := header(res.Headers, "x-served"); v != fmt.Sprint(served) {
			t.Fatalf("x-served = %q, want %d: the instance lost its state", v, served)
		}
	}
	failed := func(path, logWant string) {
		t.Helper()
		res := h.Do(&sdktest.Request{Path: path})
		served++
		mustOK(t, res)
		if res.Status != 500 || !res.Local {
			t.Fatalf("%s: status %d local %v, want a local 500", path, res.Status, res.Local)
		}
		if string(res.Body) != `{"message":"plugin panic"}` {
			t.Errorf("%s: body %q", path, res.Body)
		}
		if v, _ := header(res.Headers, "content-type"); v != "application/json" {
			t.Errorf("%s: content-type %q", path, v)
		}
		if res.LocalDetails != "wasmgate_plugin_panic" {
			t.Errorf("%s: details %q", path, res.LocalDetails)
		}
		logs := strings.Join(h.Logs(), "\n")
		if !strings.Contains(logs, logWant) || !strings.Contains(logs, "goroutine ") {
			t.Errorf("%s: want a critical log with %q and a stack, got:\n%s", path, logWant, logs)
		}
	}
	// With a shared context, a failed request keeps an entry until the
	// ring of ended streams is drained (every 16), and callbacks take the
	// general path meanwhile: drain before each failure, so the shared
	// path's recovery is the one tested.
	drain := func() {
		for i := 0; config == "shared" && i < 17; i++ {
			ok()
		}
	}
	ok()
	failed("/panic", "critical: sdk: panic in OnHTTPRequestHeaders: assignment to entry in nil map")
	ok()
	drain()
	failed("/panic-value", "critical: sdk: panic in OnHTTPRequestHeaders: handler failed on purpose")
	drain()
	failed("/panic-response", "critical: sdk: panic in OnHTTPResponseHeaders: response handler failed on purpose")
	ok()
	if config != "shared" { // a shared context is not created per request
		res := h.Do(&sdktest.Request{Path: "/arm-create-panic"})
		served++
		mustOK(t, res)
		failed("/", "critical: sdk: panic in NewHTTPContext: NewHTTPContext failed on purpose")
		ok()
	}
	if st := h.Plugin().Stats(); st.Discarded != 0 || st.Created != 1 {
		t.Errorf("pool %+v: the instance should have survived every panic", st)
	}
}

func TestSharedDataCAS(t *testing.T) {
	t.Parallel()
	h := sdktest.New(t, plugin(t, "shared"), sdktest.Options{})
	for i := 1; i <= 3; i++ {
		res := h.Do(&sdktest.Request{})
		mustOK(t, res)
		if v, _ := header(res.Headers, "x-count"); v != fmt.Sprint(i) {
			t.Fatalf("request %d: x-count %q", i, v)
		}
		if v, _ := header(res.Headers, "x-cas-mismatch"); v != "true" {
			t.Fatalf("request %d: a write with a stale CAS token did not fail with ErrCASMismatch", i)
		}
	}
}

func TestSharedDataCASAcrossInstances(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts several instances")
	}
	h := sdktest.New(t, plugin(t, "shared"), sdktest.Options{
		PluginConfig: wasm.PluginConfig{PoolMin: 4, PoolMax: 4, CallTimeout: time.Second},
	})
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if res := h.Do(&sdktest.Request{}); res.Err != nil {
					errs <- res.Err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	res := h.Do(&sdktest.Request{})
	mustOK(t, res)
	if v, _ := header(res.Headers, "x-count"); v != fmt.Sprint(workers*each+1) {
		t.Fatalf("x-count %q, want %d: increments were lost", v, workers*each+1)
	}
}

func TestHTTPCallPauseAndResume(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls [][][2]string
	caller := wasm.HTTPCallerFunc(func(ctx context.Context, upstream string, headers [][2]string, body []byte, trailers [][2]string, timeout time.Duration) (*wasm.HTTPCallResponse, error) {
		mu.Lock()
		calls = append(calls, headers)
		mu.Unlock()
		if upstream != "auth" {
			return nil, fmt.Errorf("unknown upstream %q", upstream)
		}
		authz, _ := header(headers, "authorization")
		switch authz {
		case "Bearer good":
			time.Sleep(20 * time.Millisecond) // answer after the plugin has paused
			return &wasm.HTTPCallResponse{
				Headers: [][2]string{{":status", "200"}, {"x-user", "alice"}},
				Body:    []byte("auth-ok"),
			}, nil
		case "Bearer down":
			return nil, errors.New("connection refused")
		}
		return &wasm.HTTPCallResponse{Headers: [][2]string{{":status", "403"}}}, nil
	})
	h := sdktest.New(t, plugin(t, "httpcall"), sdktest.Options{HTTPCaller: caller})

	res := h.Do(&sdktest.Request{Path: "/orders", Headers: [][2]string{{"authorization", "Bearer good"}}})
	mustOK(t, res)
	if res.Upstream == nil {
		t.Fatalf("not resumed: status %d body %q logs %q", res.Status, res.Body, h.Logs())
	}
	if v, _ := header(res.Upstream.Headers, "x-user"); v != "alice" {
		t.Errorf("x-user = %q", v)
	}
	if v, _ := header(res.Upstream.Headers, "x-auth-body"); v != "auth-ok" {
		t.Errorf("x-auth-body = %q", v)
	}
	mu.Lock()
	if len(calls) != 1 {
		t.Fatalf("%d callouts", len(calls))
	}
	if p, _ := header(calls[0], ":path"); p != "/check" {
		t.Errorf("callout :path %q", p)
	}
	mu.Unlock()

	res = h.Do(&sdktest.Request{Headers: [][2]string{{"authorization", "Bearer bad"}}})
	mustOK(t, res)
	if res.Status != 401 || !res.Local {
		t.Errorf("denied: status %d local %v", res.Status, res.Local)
	}
	res = h.Do(&sdktest.Request{Headers: [][2]string{{"authorization", "Bearer down"}}})
	mustOK(t, res)
	if res.Status != 503 || !res.Local {
		t.Errorf("failed callout: status %d local %v", res.Status, res.Local)
	}
}

func TestPausedRequestTimesOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	caller := wasm.HTTPCallerFunc(func(ctx context.Context, upstream string, headers [][2]string, body []byte, trailers [][2]string, timeout time.Duration) (*wasm.HTTPCallResponse, error) {
		if v, _ := header(headers, "authorization"); v == "Bearer slow" {
			<-release // answer only after the request gave up
		}
		return &wasm.HTTPCallResponse{Headers: [][2]string{{":status", "200"}, {"x-user", "bob"}}}, nil
	})
	h := sdktest.New(t, plugin(t, "httpcall"), sdktest.Options{HTTPCaller: caller, Timeout: 200 * time.Millisecond})
	res := h.Do(&sdktest.Request{Headers: [][2]string{{"authorization", "Bearer slow"}}})
	if !errors.Is(res.Err, sdktest.ErrTimeout) || res.Upstream != nil {
		t.Fatalf("got %v (upstream %v), want sdktest.ErrTimeout", res.Err, res.Upstream)
	}
	close(release) // the late answer finds its request gone: the SDK drops it
	time.Sleep(50 * time.Millisecond)
	res = h.Do(&sdktest.Request{Headers: [][2]string{{"authorization", "Bearer fast"}}})
	mustOK(t, res)
	if res.Upstream == nil {
		t.Fatalf("the plugin no longer works after a dropped callout: %d %q, logs %q", res.Status, res.Body, h.Logs())
	}
	for _, l := range h.Logs() {
		if strings.HasPrefix(l, "critical:") {
			t.Errorf("unexpected log %q", l)
		}
	}
}

func TestGoroutinesRunDuringYield(t *testing.T) {
	t.Parallel()
	h := sdktest.New(t, plugin(t, "goroutines"), sdktest.Options{
		PluginConfig: wasm.PluginConfig{YieldEvery: 1},
	})
	for i := 1; i <= 5; i++ {
		res := h.Do(&sdktest.Request{})
		mustOK(t, res)
		if v, _ := header(res.Headers, "x-worker"); v != fmt.Sprint(i*i) {
			t.Fatalf("request %d: x-worker %q, want %d: the worker goroutine did not run during wasmgate_yield", i, v, i*i)
		}
	}
}

func TestMemoryUnderPressure(t *testing.T) {
	t.Parallel()
	h := sdktest.New(t, plugin(t, "stress"), sdktest.Options{
		PluginConfig: wasm.PluginConfig{CallTimeout: 2 * time.Second},
	})
	for i := 0; i < 60; i++ {
		var headers [][2]string
		sum := 0
		for j := 0; j < 20; j++ {
			v := strings.Repeat(string(rune('a'+j%26)), (i*37+j*101)%3000)
			headers = append(headers, [2]string{fmt.Sprintf("x-h%d", j), v})
			sum += len(v)
		}
		headers = append(headers, [2]string{"x-dup", "1"}, [2]string{"x-dup", "22"})
		sum += 3
		depth := fmt.Sprint(i * 40)
		headers = append(headers, [2]string{"x-depth", depth})
		sum += len(depth)
		if i%10 == 0 {
			headers = append(headers, [2]string{"x-gc", "1"})
			sum++
		}
		body := make([]byte, (i*7919)%200000)
		bodySum := 0
		for k := range body {
			body[k] = byte(k * 31)
			bodySum += int(body[k]) * (k%7 + 1)
		}
		res := h.Do(&sdktest.Request{Headers: headers, Body: body})
		mustOK(t, res)
		if v, _ := header(res.Headers, "x-sum"); v != fmt.Sprint(sum) {
			t.Fatalf("request %d: x-sum %s, want %d", i, v, sum)
		}
		if v, _ := header(res.Headers, "x-body-sum"); v != fmt.Sprint(bodySum) {
			t.Fatalf("request %d: x-body-sum %s, want %d", i, v, bodySum)
		}
	}
}

func TestRootContextTicksQueuesMetrics(t *testing.T) {
	t.Parallel()
	h := sdktest.New(t, plugin(t, "rootctx"), sdktest.Options{VMConfig: "vm-config", LogLevel: abi.LogInfo})
	for _, p := range []string{"/a", "/bb", "/ccc"} {
		mustOK(t, h.Do(&sdktest.Request{Path: p}))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ticks, _ := h.Metric("ticks_total")
		items, _ := h.Metric("queue_items_total")
		if ticks >= 2 && items == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ticks_total %d (want ≥ 2), queue_items_total %d (want 3); logs:\n%s", ticks, items, strings.Join(h.Logs(), "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if v, ok := h.Metric("inflight"); !ok || v != 0 {
		t.Errorf("inflight = %d, want 0 after every stream ended", v)
	}
	if v, ok := h.Metric("path_lengths"); !ok || v != 3 {
		t.Errorf("path_lengths has %d samples, want 3", v)
	}
	logs := h.Logs()
	for _, want := range []string{"info: rootctx: vm config: vm-config", "info: rootctx: plugin name: sdktest", "info: rootctx: queued /bb"} {
		if !contains(logs, want) {
			t.Errorf("missing log %q in %q", want, logs)
		}
	}
	if contains(logs, "debug: rootctx: debug enabled") {
		t.Error("LogEnabled ignored the host's level")
	}
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

// The host reads the declared hooks after OnPluginStart: a plugin can
// declare body hooks only when its configuration needs them.
func TestHooksDependOnConfiguration(t *testing.T) {
	t.Parallel()
	bin := plugin(t, "hooks")
	for _, c := range []struct {
		config    string
		body      bool
		bodyCalls string
	}{
		{"", false, ""},
		{"bodies", true, "1"},
	} {
		h := sdktest.New(t, bin, sdktest.Options{Config: c.config})
		if got := h.Plugin().Handles(abi.ExportOnRequestBody); got != c.body {
			t.Errorf("config %q: handles the request body = %v, want %v", c.config, got, c.body)
		}
		if got := h.Plugin().Handles(abi.ExportOnRequestHeaders); !got {
			t.Errorf("config %q: does not handle request headers", c.config)
		}
		res := h.Do(&sdktest.Request{Method: "POST", Body: []byte("data")})
		if res.Err != nil || res.Header("x-body-calls") != c.bodyCalls {
			t.Errorf("config %q: x-body-calls = %q (%v), want %q", c.config, res.Header("x-body-calls"), res.Err, c.bodyCalls)
		}
		if c.body {
			// With trailers: the body callback buffers, the trailers
			// callback reads the whole body.
			res := h.Do(&sdktest.Request{Method: "POST", Body: []byte("with trailers"), Trailers: [][2]string{{"x-checksum", "1"}}})
			if res.Err != nil || res.Header("x-trailer-body") != "with trailers" || res.Upstream == nil || string(res.Upstream.Body) != "with trailers" {
				t.Errorf("body read in the trailers callback: %q (%v); upstream %+v", res.Header("x-trailer-body"), res.Err, res.Upstream)
			}
		}
	}
}
