package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/callout"
	"github.com/wasmgate/wasmgate/host/config"
	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/host/policy"
	"github.com/wasmgate/wasmgate/host/wasm"
	"github.com/wasmgate/wasmgate/internal/wasmbuild"
)

// pluginDirs maps plugin names used in test documents to their sources.
var pluginDirs = map[string]string{
	"template":       "../sdk/go/template",
	"cors":           "../plugins/cors",
	"mock":           "../plugins/mock",
	"transform":      "../plugins/transform",
	"hello-function": "../plugins/hello-function",
	"headers":        "../sdk/go/internal/testplugins/headers",
	"deny":           "../sdk/go/internal/testplugins/deny",
	"panics":         "../sdk/go/internal/testplugins/panics",
	"rate-limit":     "../plugins/rate-limit",
	"cache":          "../plugins/cache",
	"shared":         "../sdk/go/internal/testplugins/shared",
	// header-rules is written in C: its checked-in build.
	"header-rules": "../plugins/header-rules/header-rules.wasm",
	"api-key":      "../plugins/api-key",
	"pausebody":    "../sdk/go/internal/testplugins/pausebody",
	// testfn (sdk/go/lambda's test function, on StartJSON) echoes the
	// proxy event it received, or answers with the proxy response in the
	// request body, or fails, by the x-test-mode request header.
	"testfn": "../sdk/go/lambda/internal/testfn",

	"request-validator": "../plugins/request-validator",
	"jwt":               "../plugins/jwt",
	// jwt-claims (plugins/jwt's test plugin) copies the wasmgate.jwt.claims
	// properties into request headers.
	"jwt-claims": "../plugins/jwt/internal/claimsecho",
	"ip-filter":  "../plugins/ip-filter",
	// trapper traps (unreachable) in proxy_on_request_headers.
	"trapper": "testdata/trapper.wat",
	// Custom authorizers: the example token authorizer, and testauth
	// (sdk/go/lambda/internal/testauth, a REQUEST authorizer on
	// StartAuthorizerJSON whose answer the x-user header selects).
	"token-authorizer": "../plugins/token-authorizer",
	"testauth":         "../sdk/go/lambda/internal/testauth",
}

// sourcePlugins builds referenced plugins from source (cached).
type sourcePlugins struct{}

func (sourcePlugins) Resolve(_ context.Context, ref config.PluginRef) ([]byte, error) {
	dir, ok := pluginDirs[ref.Name]
	if !ok {
		return nil, fmt.Errorf("plugin %q not found", ref.Ref)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("plugin %q: %w", ref.Name, err)
	}
	if strings.HasSuffix(dir, ".wasm") {
		return os.ReadFile(dir)
	}
	if strings.HasSuffix(dir, ".wat") {
		out, err := exec.Command("wat2wasm", dir, "--output=-").Output()
		if err != nil {
			return nil, fmt.Errorf("plugin %q: wat2wasm %s (apt: wabt): %w", ref.Name, dir, err)
		}
		return out, nil
	}
	return wasmbuild.Build(dir)
}

type env struct {
	t       testing.TB
	engine  *wasm.Engine
	gw      *gateway.Gateway
	srv     *gateway.Server
	base    string // http://host:port
	tlsBase string // https://host:port
	errs    *logs
}

type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// startGateway serves doc (an OpenAPI document) on loopback listeners,
// with in-memory policies; edit, when given, adjusts the gateway options.
func startGateway(t testing.TB, doc string, tlsCfg *tls.Config, edit ...func(*gateway.Options)) *env {
	t.Helper()
	api, err := config.Parse("test.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("document: %v", err)
	}
	e := &env{t: t, errs: &logs{}}
	e.engine, err = wasm.NewEngine(context.Background(), wasm.EngineConfig{
		CacheDir: filepath.Join(wasmbuild.CacheDir(), "compiled"),
		// HTTP callouts as `wasmgate serve` makes them.
		HTTPCaller: callout.New(callout.Options{}),
		Log: func(p *wasm.PluginInfo, level abi.LogLevel, msg string) {
			e.errs.add(fmt.Sprintf("plugin[%s] %s: %s", p.Name, level, msg))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	store, err := gateway.OpenBoltStore(filepath.Join(t.TempDir(), "services.db"))
	if err != nil {
		t.Fatal(err)
	}
	opts := gateway.Options{
		Engine:   e.engine,
		Plugins:  sourcePlugins{},
		Services: store,
		PoolMin:  1,
		PoolMax:  4,
		ErrorLog: func(id, msg string) { e.errs.add(id + ": " + msg) },
	}
	local := policy.NewLocal(policy.SystemClock{})
	opts.Policies = &gateway.Policies{Limiter: local, Quotas: local}
	for _, f := range edit {
		f(&opts)
	}
	e.gw = gateway.New(opts)
	snap, err := e.gw.Build(context.Background(), api, "d-1")
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	e.gw.Swap(snap)
	sc := gateway.ServerConfig{Listen: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second}
	if tlsCfg != nil {
		sc.TLSListen, sc.TLSConfig, sc.HTTP3 = "127.0.0.1:0", tlsCfg, true
	}
	e.srv = gateway.NewServer(e.gw, sc)
	if err := e.srv.Start(); err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + e.srv.Addr("http")
	if tlsCfg != nil {
		e.tlsBase = "https://" + e.srv.Addr("https")
	}
	t.Cleanup(func() {
		e.srv.Shutdown(context.Background())
		if old := e.gw.Swap(nil); old != nil {
			old.Retire()
			<-old.Done()
		}
		e.engine.Close(context.Background())
		store.Close()
		if t.Failed() {
			t.Logf("gateway log:\n%s", e.errs)
		}
	})
	return e
}

type resp struct {
	status int
	header http.Header
	body   string
	proto  string
}

func do(t testing.TB, c *http.Client, method, url string, body io.Reader, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if c == nil {
		c = http.DefaultClient
	}
	r, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp{status: r.StatusCode, header: r.Header, body: string(b), proto: r.Proto}
}
