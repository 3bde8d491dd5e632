package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/host/deploy"
	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/host/wasm"
	"github.com/wasmgate/wasmgate/internal/wasmbuild"
)

// TestHotSwapUnderLoad runs a load over real sockets while it makes 100
// alternating deploy, rollback, pin and unpin changes to the stage under
// load, and checks that no request fails, that every response comes from
// a deployment that was active while the request ran (each response names
// its deployment, and its body the plugin configuration that ran), and
// that plugin instance pools do not accumulate.
//
// In `make test` (race detector on) it runs a short load; with
// WASMGATE_HOTSWAP_FULL=1 (`make test`'s second step, without the race
// detector) it runs 20 s and requires at least 2,000 requests per second.
func TestHotSwapUnderLoad(t *testing.T) {
	full := os.Getenv("WASMGATE_HOTSWAP_FULL") != ""
	duration, minRate := 4*time.Second, 0.0
	if full {
		duration, minRate = 20*time.Second, 2000
	}
	if testing.Short() {
		t.Skip("a load test")
	}

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("x-marker"))
	}))
	defer up.Close()
	ctx := context.Background()
	eng, err := wasm.NewEngine(ctx, wasm.EngineConfig{CacheDir: filepath.Join(wasmbuild.CacheDir(), "compiled")})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	var errs logs
	gw := gateway.New(gateway.Options{Engine: eng, DeploymentHeader: true, ErrorLog: func(id, msg string) { errs.add(id + ": " + msg) }})
	m, err := deploy.Open(ctx, deploy.Options{Dir: t.TempDir(), Engine: eng, Gateway: gw, Log: func(f string, a ...any) { errs.add(fmt.Sprintf(f, a...)) }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	bin, err := wasmbuild.Build(pluginDirs["template"])
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1.0.0", "2.0.0"} {
		// Two versions: the same code under two digests (a custom
		// section tells them apart).
		b := append(append([]byte(nil), bin...), 0x00, byte(2+len(v)), 0x01, 'v')
		if _, _, err := m.PushPlugin(ctx, "template", v, append(b, v...), "test"); err != nil {
			t.Fatal(err)
		}
	}
	doc := func(marker string) []byte {
		return []byte(fmt.Sprintf(`openapi: 3.0.3
info: {title: hotswap, version: "1"}
paths:
  /hello:
    get:
      x-wasmgate-pipeline:
        - {plugin: template, config: {header: x-marker, value: %q}}
      x-wasmgate-integration: {type: http_proxy, uri: "%s/hello"}
      responses: {"200": {description: ok}}
`, marker, up.URL))
	}

	// markers[d] is the marker deployment d's plugin adds; active[k] the
	// deployment prod serves after change k.
	var (
		mu      sync.Mutex
		markers = map[string]string{}
		active  []string
		version atomic.Int64 // changes completed
	)
	d, err := m.Deploy(ctx, doc("m-1"), deploy.DeployOptions{Stages: []string{"prod"}})
	if err != nil {
		t.Fatal(err)
	}
	markers[d.ID], active = "m-1", []string{d.ID}

	srv := gateway.NewServer(gw, gateway.ServerConfig{Listen: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(ctx)
	url := "http://" + srv.Addr("http") + "/prod/hello"

	workers := 4 * runtime.GOMAXPROCS(0)
	tr := &http.Transport{MaxIdleConnsPerHost: workers, DialContext: (&net.Dialer{}).DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var (
		total, failed, misrouted atomic.Int64
		firstProblem             sync.Once
		problem                  string
	)
	report := func(format string, args ...any) {
		firstProblem.Do(func() { problem = fmt.Sprintf(format, args...) })
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				v0 := version.Load()
				resp, err := client.Get(url)
				if err != nil {
					failed.Add(1)
					report("request failed: %v", err)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				v1 := version.Load()
				total.Add(1)
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
					report("status %d %s (%v)", resp.StatusCode, body, err)
					continue
				}
				dep := resp.Header.Get("X-Wasmgate-Deployment")
				mu.Lock()
				ok := markers[dep] == string(body)
				valid := false
				// Active while the request ran: after change v0 up to
				// the change in progress when it ended.
				for k := v0; k <= v1+1 && int(k) < len(active); k++ {
					valid = valid || active[k] == dep
				}
				window := active[v0:min(len(active), int(v1)+2)]
				mu.Unlock()
				if !ok || !valid {
					misrouted.Add(1)
					report("response from %q with body %q while %v were active", dep, body, window)
				}
			}
		}()
	}

	// 100 changes spread over the load: deploy, rollback, pin, unpin.
	start := time.Now()
	const changes = 100
	pins := []string{"1.0.0", "2.0.0"}
	poolsAtStart := gw.LivePools()
	var deployTimes []time.Duration
	for i := 0; i < changes; i++ {
		time.Sleep(time.Until(start.Add(duration * time.Duration(i+1) / (changes + 1))))
		var st *deploy.Stage
		var err error
		// The new state is recorded before the change starts: a request
		// may see it as soon as the swap happens.
		switch i % 4 {
		case 0:
			marker := fmt.Sprintf("m-%d", i+2)
			doc := doc(marker)
			mu.Lock()
			next := fmt.Sprintf("d-%d", len(markers)+1)
			markers[next] = marker
			active = append(active, next)
			mu.Unlock()
			t0 := time.Now()
			var d *deploy.Deployment
			d, err = m.Deploy(ctx, doc, deploy.DeployOptions{Stages: []string{"prod"}})
			deployTimes = append(deployTimes, time.Since(t0))
			if err == nil && d.ID != next {
				t.Fatalf("deployment %s, expected %s", d.ID, next)
			}
		case 1:
			// Rollback goes to the newest older deployment prod served:
			// the one before the deploy of the previous change.
			cur, _ := m.Stage("prod")
			var seq int
			fmt.Sscanf(cur.Deployment, "d-%d", &seq)
			prev := fmt.Sprintf("d-%d", seq-1)
			mu.Lock()
			active = append(active, prev)
			mu.Unlock()
			st, err = m.Rollback(ctx, "prod", "", "test")
			if err == nil && st.Deployment != prev {
				t.Fatalf("rollback went to %s, expected %s", st.Deployment, prev)
			}
		case 2:
			mu.Lock()
			active = append(active, active[len(active)-1])
			mu.Unlock()
			_, err = m.Pin(ctx, "prod", "template", pins[(i/4)%2], "test")
		case 3:
			mu.Lock()
			active = append(active, active[len(active)-1])
			mu.Unlock()
			_, err = m.Unpin(ctx, "prod", "template", "test")
		}
		if err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
		version.Add(1)
	}
	time.Sleep(time.Until(start.Add(duration)))
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)

	rate := float64(total.Load()) / elapsed.Seconds()
	t.Logf("%d requests in %v (%.0f req/s, %d workers), %d changes; deploy took %v (median of %d)",
		total.Load(), elapsed.Round(time.Millisecond), rate, workers, changes, median(deployTimes), len(deployTimes))
	if failed.Load() > 0 || misrouted.Load() > 0 {
		t.Fatalf("%d failed and %d misrouted requests; first: %s\ngateway log:\n%s", failed.Load(), misrouted.Load(), problem, errs.String())
	}
	if rate < minRate {
		t.Fatalf("load of %.0f req/s, want at least %.0f", rate, minRate)
	}
	// Retired snapshots close their pools once their last request ends:
	// what is left is the pool the served deployment uses.
	deadline := time.Now().Add(10 * time.Second)
	for gw.LivePools() > poolsAtStart && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := gw.LivePools(); n > poolsAtStart {
		t.Fatalf("%d plugin pools open after %d changes, %d at the start", n, changes, poolsAtStart)
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}
