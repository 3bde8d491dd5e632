// Command proxybench measures wasmgate against a plain
// net/http/httputil.ReverseProxy on the same upstream, in one run, with
// the same load: an empty wasmgate pipeline, the same with a JSON access
// log to a file (the cost of logging and metrics), a 4-plugin pipeline, a
// rate-limit plugin whose limit is never reached (the cost of the check),
// the cache plugin answering every request from the stage's cache (all
// hits after the first), and the baseline; then the baseline and
// wasmgate again over TLS, with HTTP/1.1 and with HTTP/2. It prints
// req/s, p50/p99 latency and proxy CPU per request, with ratios to the
// baseline. The targets run in several interleaved rounds and each
// reports its median round: on a shared machine one noisy phase would
// otherwise decide a ratio. The main comparisons are also given round by
// round (plugins and rate-limit against the empty pipeline, the empty
// pipeline against the baseline), each round's targets having shared the
// machine's phase.
//
//	go run ./internal/cmd/proxybench -wasmgate bin/wasmgate
//
// The proxies run as child processes so their CPU time can be read from
// /proc; the upstream and the load generator share this process.
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "baseline" {
		baseline(os.Args[2:])
		return
	}
	wasmgate := flag.String("wasmgate", "bin/wasmgate", "wasmgate binary")
	plugins := flag.String("plugins", "", "a directory of plugin .wasm files for -pipeline (default: only the plugins embedded in wasmgate)")
	duration := flag.Duration("duration", 5*time.Second, "measured load per target and round")
	rounds := flag.Int("rounds", 3, "rounds over all targets; each target reports its median round (a shared machine has noisy phases)")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured load before each measurement")
	conns := flag.Int("conns", 32, "concurrent keep-alive connections")
	pipeline := flag.String("pipeline", strings.Join(fourPlugins, ";"), "the plugin entries (YAML flow maps) of the plugin pipeline, separated by ';'")
	only := flag.String("only", "", "measure only the targets whose name matches this regular expression (e.g. 'empty pipeline|Wasm plugins'); the baseline always runs")
	flag.Parse()
	onlyRE, err := regexp.Compile(*only)
	if err != nil {
		fmt.Fprintf(os.Stderr, "proxybench: -only: %v\n", err)
		os.Exit(2)
	}
	plugins4 := strings.Split(*pipeline, ";")

	up := startUpstream()
	fmt.Printf("upstream %s, %d connections, %v per target (after %v warm-up), %d rounds (median reported), GOMAXPROCS of proxies = all %d cores\n\n", up, *conns, *duration, *warmup, *rounds, numCPU())

	fmt.Printf("%q: a pipeline of %d plugins: %s\n\n", namePlugins, len(plugins4), strings.Join(plugins4, ", "))
	self, _ := os.Executable()
	dir, err := os.MkdirTemp("", "proxybench")
	check(err)
	defer os.RemoveAll(dir)

	certFile, keyFile := writeCert(dir)
	targets := []target{
		{nameBaseline, func(port string) *exec.Cmd {
			return exec.Command(self, "baseline", "127.0.0.1:"+port, up)
		}, ""},
		{nameEmpty, func(port string) *exec.Cmd {
			return wasmgateCmd(*wasmgate, *plugins, dir, "empty", port, up, nil)
		}, ""},
		{nameLog, func(port string) *exec.Cmd {
			// The cost of observability: the empty pipeline with a JSON
			// access log line per request written to a file (metrics are
			// always on).
			return wasmgateCmd(*wasmgate, *plugins, dir, "accesslog", port, up, nil,
				"--access-log", "json", "--access-log-dest", filepath.Join(dir, "access.log"))
		}, ""},
		{namePlugins, func(port string) *exec.Cmd {
			return wasmgateCmd(*wasmgate, *plugins, dir, "four", port, up, plugins4)
		}, ""},
		{nameRateLimit, func(port string) *exec.Cmd {
			// A limit never reached: the cost of the check itself (one
			// token bucket take in the in-memory store per request).
			return wasmgateCmd(*wasmgate, *plugins, dir, "ratelimit", port, up,
				[]string{`{plugin: rate-limit, config: {rate: 1000000000, burst: 1000000000, key: [route, ip]}}`})
		}, ""},
		{nameCache, func(port string) *exec.Cmd {
			// Every request after the first is a hit: answered from the
			// stage's cache without the upstream.
			return wasmgateCmd(*wasmgate, *plugins, dir, "cache", port, up,
				[]string{`{plugin: cache, config: {ttl: 3600}}`})
		}, ""},
	}
	// TLS: the same proxies behind the same certificate (ECDSA P-256),
	// TLS 1.3, HTTP/1.1 and then HTTP/2 from the client.
	for _, proto := range []string{"h1", "h2"} {
		targets = append(targets,
			target{"ReverseProxy, TLS " + proto, func(port string) *exec.Cmd {
				return exec.Command(self, "baseline", "127.0.0.1:"+port, up, certFile, keyFile)
			}, proto},
			target{"wasmgate, TLS " + proto, func(port string) *exec.Cmd {
				return wasmgateCmd(*wasmgate, *plugins, dir, "tls"+proto, port, up, nil,
					"--listen", "127.0.0.1:"+freePort(), "--tls-listen", "127.0.0.1:"+port, "--tls-cert", certFile, "--tls-key", keyFile)
			}, proto})
	}
	if *only != "" {
		kept := targets[:1] // the baseline: every ratio is against it
		for _, tg := range targets[1:] {
			if onlyRE.MatchString(tg.name) {
				kept = append(kept, tg)
			}
		}
		targets = kept
	}
	// Rounds interleave the targets, so a noisy phase of the machine hits
	// one round of each rather than all of one target.
	runs := make([][]result, len(targets))
	for round := 0; round < *rounds; round++ {
		for i, tg := range targets {
			runs[i] = append(runs[i], measure(tg.name, tg.cmd, tg.tls, *conns, *warmup, *duration))
		}
	}
	paired := pairedRatios(targets, runs)
	var results []result
	for i, rs := range runs {
		sort.Slice(rs, func(a, b int) bool { return rs[a].rps() < rs[b].rps() })
		results = append(results, rs[len(rs)/2])
		if len(rs) > 1 {
			var each []string
			for _, r := range runs[i] {
				each = append(each, fmt.Sprintf("%.0f", r.rps()))
			}
			fmt.Printf("%-28s rounds (req/s, sorted): %s\n", targets[i].name, strings.Join(each, " "))
		}
	}
	fmt.Println()
	report(results)
	if paired != "" {
		fmt.Print(paired)
	}
}

// pairedRatios compares targets round by round: a round measures every
// target within a minute, so a slow phase of the machine slows a round's
// targets together, and the ratio within a round is steadier than the
// ratio of two medians taken from different rounds.
func pairedRatios(targets []target, runs [][]result) string {
	idx := map[string]int{}
	for i, tg := range targets {
		idx[tg.name] = i
	}
	var b strings.Builder
	for _, c := range [][2]string{{namePlugins, nameEmpty}, {nameRateLimit, nameEmpty}, {nameEmpty, nameBaseline}} {
		i, ok1 := idx[c[0]]
		j, ok2 := idx[c[1]]
		if !ok1 || !ok2 || len(runs[i]) < 2 {
			continue
		}
		var rs []float64
		for k := range runs[i] {
			rs = append(rs, runs[i][k].rps()/runs[j][k].rps())
		}
		sort.Float64s(rs)
		var each []string
		for _, r := range rs {
			each = append(each, fmt.Sprintf("%.2f", r))
		}
		if b.Len() == 0 {
			b.WriteString("\nper round (same-round ratios of req/s, sorted):\n")
		}
		fmt.Fprintf(&b, "  %s vs %s: %s (median %.2f)\n", c[0], c[1], strings.Join(each, " "), rs[len(rs)/2])
	}
	return b.String()
}

// measure starts a target, warms it up, and loads it for d.
func measure(name string, start func(port string) *exec.Cmd, tlsMode string, conns int, warmup, d time.Duration) result {
	port := freePort()
	cmd := start(port)
	cmd.Stderr = io.Discard
	cmd.Stdout = io.Discard
	check(cmd.Start())
	addr := "http://127.0.0.1:" + port
	if tlsMode != "" {
		addr = "https://127.0.0.1:" + port
	}
	if err := waitReady(addr+"/bench/ping", tlsMode); err != nil {
		cmd.Process.Kill()
		fmt.Fprintf(os.Stderr, "%s did not start: %v\n", name, err)
		os.Exit(1)
	}
	load(addr+"/bench/ping", conns, warmup, tlsMode)
	cpu0 := cpuTime(cmd.Process.Pid)
	r := load(addr+"/bench/ping", conns, d, tlsMode)
	r.cpu = cpuTime(cmd.Process.Pid) - cpu0
	r.name = name
	cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
	}
	return r
}

// fourPlugins is the measured pipeline: four pools of the SDK template
// plugin (a header added on the request, one on the response, a counter).
var fourPlugins = []string{
	`{plugin: template, config: {header: x-zero, value: "0"}}`,
	`{plugin: template, config: {header: x-one, value: "1"}}`,
	`{plugin: template, config: {header: x-two, value: "2"}}`,
	`{plugin: template, config: {header: x-three, value: "3"}}`,
}

func wasmgateCmd(bin, plugins, dir, name, port, upstream string, pipeline []string, extra ...string) *exec.Cmd {
	doc := fmt.Sprintf(`openapi: 3.0.3
info: {title: bench-%s, version: "1"}
x-wasmgate-stages: [{name: bench, variables: {backend: %q}}]
x-wasmgate-pipeline: [%s]
paths:
  /ping:
    get:
      x-wasmgate-integration: {type: http_proxy, uri: "${stageVariables.backend}/ping"}
      responses: {"200": {description: ok}}
`, name, upstream, strings.Join(pipeline, ", "))
	path := filepath.Join(dir, name+".yaml")
	check(os.WriteFile(path, []byte(doc), 0o644))
	args := []string{"serve", "--api", path, "--listen", "127.0.0.1:" + port,
		"--tls-listen", "", "--admin-listen", "", "--data-dir", filepath.Join(dir, name+"-data")}
	if plugins != "" {
		args = append(args, "--plugins", plugins)
	}
	// Later flags win: extra may move the listeners.
	args = append(args, extra...)
	return exec.Command(bin, args...)
}

// baseline is the yardstick: httputil.ReverseProxy with the same transport
// tuning as wasmgate's, stripping the stage prefix like the gateway.
func baseline(args []string) {
	listen, upstream := args[0], args[1]
	u, err := url.Parse(upstream)
	check(err)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        2048,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     32 << 10,
		ReadBufferSize:      32 << 10,
	}
	h := http.StripPrefix("/bench", rp)
	srv := &http.Server{Addr: listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if len(args) == 4 { // cert and key: TLS (HTTP/2 offered by ALPN)
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		check(srv.ListenAndServeTLS(args[2], args[3]))
		return
	}
	check(srv.ListenAndServe())
}

func startUpstream() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	body := []byte(`{"pets":[{"id":1,"name":"Rex"},{"id":2,"name":"Tom"}]}` + "\n")
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	return "http://" + ln.Addr().String()
}

type result struct {
	name     string
	requests int64
	errors   int64
	elapsed  time.Duration
	lat      []time.Duration
	cpu      time.Duration
}

// client returns the load generator's transport: plain, or TLS speaking
// HTTP/1.1 ("h1") or HTTP/2 ("h2") only.
func client(conns int, tlsMode string) *http.Transport {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	switch tlsMode {
	case "h1":
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	case "h2":
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		tr.ForceAttemptHTTP2 = true
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetHTTP2(true)
	}
	return tr
}

// load runs conns closed-loop clients for d.
func load(target string, conns int, d time.Duration, tlsMode string) result {
	tr := client(conns, tlsMode)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var n, errs atomic.Int64
	lats := make([][]time.Duration, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, "GET", target, nil)
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs.Add(1)
					continue
				}
				lats[i] = append(lats[i], time.Since(t0))
				n.Add(1)
			}
		}(i)
	}
	wg.Wait()
	r := result{requests: n.Load(), errors: errs.Load(), elapsed: time.Since(start)}
	for _, l := range lats {
		r.lat = append(r.lat, l...)
	}
	sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
	return r
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[int(math.Min(float64(len(r.lat)-1), p*float64(len(r.lat))))]
}

func (r result) cpuPerReq() float64 {
	if r.requests == 0 {
		return 0
	}
	return float64(r.cpu.Microseconds()) / float64(r.requests)
}

func report(rs []result) {
	base := rs[0]
	fmt.Printf("%-28s %10s %9s %9s %9s %12s %8s %10s %10s\n", "target", "req/s", "p50", "p99", "errors", "CPU µs/req", "× req/s", "× p99", "× CPU")
	for _, r := range rs {
		fmt.Printf("%-28s %10.0f %9s %9s %9d %12.1f %8.2f %10.2f %10.2f\n", r.name, r.rps(),
			r.pct(0.50).Round(time.Microsecond), r.pct(0.99).Round(time.Microsecond), r.errors, r.cpuPerReq(),
			r.rps()/base.rps(), float64(r.pct(0.99))/float64(base.pct(0.99)), r.cpuPerReq()/base.cpuPerReq())
	}
	byName := map[string]result{}
	for _, r := range rs {
		byName[r.name] = r
	}
	empty, hasEmpty := byName[nameEmpty]
	if r, ok := byName[nameLog]; ok && hasEmpty {
		fmt.Printf("\nJSON access log vs empty pipeline: %.3f× req/s (%.1f%% throughput change), %+.1f µs CPU per request for logging and metrics\n",
			r.rps()/empty.rps(), (r.rps()/empty.rps()-1)*100, r.cpuPerReq()-empty.cpuPerReq())
	}
	if r, ok := byName[namePlugins]; ok && hasEmpty {
		fmt.Printf("plugins vs empty pipeline: %.2f× req/s, %.1f µs CPU per request for the plugins\n",
			r.rps()/empty.rps(), r.cpuPerReq()-empty.cpuPerReq())
	}
	if r, ok := byName[nameRateLimit]; ok && hasEmpty {
		fmt.Printf("rate-limit vs empty pipeline: %.2f× req/s, %.1f µs CPU per request for the plugin\n",
			r.rps()/empty.rps(), r.cpuPerReq()-empty.cpuPerReq())
	}
	if r, ok := byName[nameCache]; ok {
		fmt.Printf("cache hits vs baseline: %.2f× req/s, %.2f× CPU per request", r.rps()/base.rps(), r.cpuPerReq()/base.cpuPerReq())
		if hasEmpty {
			fmt.Printf(" (vs empty pipeline: %.2f× req/s)", r.rps()/empty.rps())
		}
		fmt.Println()
	}
	// Over TLS, wasmgate (empty pipeline) against the baseline behind the
	// same certificate and protocol.
	for _, proto := range []string{"h1", "h2"} {
		b, okb := byName["ReverseProxy, TLS "+proto]
		w, okw := byName["wasmgate, TLS "+proto]
		if okb && okw {
			fmt.Printf("%s vs %s: %.2f× req/s, %.2f× p99, %.2f× CPU per request\n", w.name, b.name,
				w.rps()/b.rps(), float64(w.pct(0.99))/float64(b.pct(0.99)), w.cpuPerReq()/b.cpuPerReq())
		}
	}
}

// The names of the targets the report compares.
// target is one proxy under load.
type target struct {
	name string
	cmd  func(port string) *exec.Cmd
	tls  string // "": plain HTTP/1.1; "h1" or "h2": over TLS
}

const (
	nameBaseline  = "ReverseProxy (baseline)"
	nameEmpty     = "wasmgate, empty pipeline"
	nameLog       = "wasmgate, empty, JSON log"
	namePlugins   = "wasmgate, Wasm plugins"
	nameRateLimit = "wasmgate, rate-limit plugin"
	nameCache     = "wasmgate, cache plugin (hits)"
)

// writeCert writes a self-signed ECDSA certificate for 127.0.0.1 and its
// key into dir, for the TLS targets.
func writeCert(dir string) (certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	check(err)
	kb, err := x509.MarshalECPrivateKey(key)
	check(err)
	certFile, keyFile = filepath.Join(dir, "bench.crt"), filepath.Join(dir, "bench.key")
	check(os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	check(os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return certFile, keyFile
}

// cpuTime reads a process's user+system CPU time from /proc.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	s = s[strings.LastIndexByte(s, ')')+2:]
	f := strings.Fields(s)
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / hz
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer ln.Close()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

func waitReady(u, tlsMode string) error {
	deadline := time.Now().Add(60 * time.Second)
	c := &http.Client{Transport: client(1, tlsMode)}
	for time.Now().Before(deadline) {
		resp, err := c.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no 200 from %s within 60s", u)
}

func numCPU() int {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "processor") {
			n++
		}
	}
	return n
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxybench:", err)
		os.Exit(1)
	}
}
