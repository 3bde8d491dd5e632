package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"embed"
	"encoding/pem"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/examples"
	"github.com/wasmgate/wasmgate/host/admin"
	"github.com/wasmgate/wasmgate/host/apikeys"
	"github.com/wasmgate/wasmgate/host/callout"
	"github.com/wasmgate/wasmgate/host/config"
	"github.com/wasmgate/wasmgate/host/deploy"
	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/host/observe"
	"github.com/wasmgate/wasmgate/host/policy"
	"github.com/wasmgate/wasmgate/host/policy/cache"
	"github.com/wasmgate/wasmgate/host/wasm"
)

//go:embed embedded/plugins
var builtinPlugins embed.FS

func serveCmd() *cobra.Command {
	var settingsFile string
	var pluginDirs []string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the stored stages, an API document, a config directory, or the embedded example",
		Long: `Serve on HTTP/1.1 and h2c (--listen), HTTPS with HTTP/2 and HTTP/3
(--tls-listen, --http3), with the admin API on --admin-listen.

What is served is kept in the data directory (--data-dir): plugins,
deployments and stages, API keys and usage plans, changed with the admin
API and the CLI (wasmgate deploy, rollback, pin, canary, apikeys,
usageplans, ...). At start-up serve also deploys, when
it changed since it was last deployed:
  --api FILE        that document, to the stages it declares (x-wasmgate-stages;
                    none: served at the root);
  --config DIR      file-driven mode: DIR/api.yaml (or openapi.yaml, ...) and
                    DIR/plugins/*.wasm, watched for changes (settings from
                    DIR/wasmgate.yaml when present);
  neither           the embedded petstore example with its demo backend.

Settings come from defaults < --config file < WASMGATE_* environment < flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			configDir := ""
			if fi, err := os.Stat(settingsFile); err == nil && fi.IsDir() {
				configDir = settingsFile
				settingsFile = filepath.Join(configDir, "wasmgate.yaml")
				if _, err := os.Stat(settingsFile); err != nil {
					settingsFile = ""
				}
			}
			s, err := config.LoadSettings(settingsFile, cmd.Flags())
			if err != nil {
				return err
			}
			return serve(cmd.Context(), s, configDir, pluginDirs)
		},
	}
	f := cmd.Flags()
	f.StringVar(&settingsFile, "config", "", "settings file (YAML or JSON), or a config directory for file-driven mode")
	f.StringSliceVar(&pluginDirs, "plugins", nil, "directories of plugin .wasm files (NAME@VERSION.wasm or NAME.wasm) stored with --api's document")
	config.AddFlags(f)
	return cmd
}

// petstoreSource names the embedded example's deployments;
// petstoreBackend is where its stage variables expect the demo backend.
const (
	petstoreSource  = "examples/petstore/petstore.yaml"
	petstoreBackend = "127.0.0.1:9000"
)

func serve(ctx context.Context, s *config.Settings, configDir string, pluginDirs []string) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if path := os.Getenv("WASMGATE_CPUPROFILE"); path != "" {
		// A debugging aid for performance work: a CPU profile of the
		// whole run, written on shutdown.
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

	if err := os.MkdirAll(s.DataDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	policies, caches, shared, closePolicies, err := openPolicies(ctx, *s, logf)
	if err != nil {
		return err
	}
	defer closePolicies()
	engine, err := wasm.NewEngine(ctx, wasm.EngineConfig{
		SharedStore: shared,
		HTTPCaller:  callout.New(callout.Options{}), // plugins' DispatchHTTPCall (e.g. the jwt plugin's JWKS)
		CacheDir:    filepath.Join(s.DataDir, "compile-cache"),
		LogLevel:    abi.LogInfo,
		Log: func(p *wasm.PluginInfo, level abi.LogLevel, msg string) {
			logf("plugin[%s] %s: %s", p.Name, level, msg)
		},
	})
	if err != nil {
		return err
	}
	defer engine.Close(context.Background())

	demo := configDir == "" && s.API == ""
	store, err := gateway.OpenBoltStore(filepath.Join(s.DataDir, "services.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	keys, err := apikeys.Open(filepath.Join(s.DataDir, apikeys.StoreFile), apikeys.Options{})
	if err != nil {
		return err
	}
	defer keys.Close()
	var g *gateway.Gateway
	obs, err := observe.New(observe.Options{
		Defaults: observe.StageSettings{
			AccessLog: s.AccessLog, AccessLogDest: s.AccessLogDest,
			ExecLog: s.ExecLog, ExecLogDest: s.ExecLogDest,
		},
		Rotation: observe.Rotation{MaxSizeMB: int(s.LogMaxSizeMB), MaxBackups: int(s.LogMaxBackups)},
		Sources: observe.Sources{
			Plugins:       func() []*wasm.Plugin { return g.LivePlugins() },
			PluginMetrics: engine.Metrics,
		},
	})
	if err != nil {
		return fmt.Errorf("settings access_log/exec_log: %w", err)
	}
	defer obs.Close()
	trusted, err := gateway.ParseTrustedProxies(strings.Split(s.TrustedProxies, ","))
	if err != nil {
		return fmt.Errorf("settings: trusted_proxies: %w", err)
	}
	g = gateway.New(gateway.Options{
		Engine:           engine,
		Services:         store,
		MaxBodyBytes:     s.MaxBodyBytes,
		DeploymentHeader: s.DeploymentHeader || demo, // the example shows which deployment answered
		Policies:         policies,
		Caches:           caches,
		APIKeys:          keys,
		ErrorLog:         func(id, msg string) { logf("request %s: %s", id, msg) },
		Observe:          obs,
		TrustRequestID:   s.TrustRequestID,
		TrustedProxies:   trusted,
		PoolMax:          s.PluginPoolMax,
	})

	mopts := deploy.Options{Dir: s.DataDir, Engine: engine, Gateway: g, Log: logf}
	if demo {
		// The example's stages name the demo backend
		// http://127.0.0.1:9000; when that port is taken the backend runs
		// elsewhere and the variable is rewritten to reach it.
		backend, err := examples.StartPetstoreBackend(petstoreBackend)
		if err != nil {
			if backend, err = examples.StartPetstoreBackend("127.0.0.1:0"); err != nil {
				return err
			}
			mopts.RewriteVariables = func(vars map[string]string) {
				if vars["backend"] == "http://"+petstoreBackend {
					vars["backend"] = backend.URL
				}
			}
		}
		defer backend.Close()
		logf("demo backend for the petstore example on %s", backend.URL)
	}
	start := time.Now()
	m, err := deploy.Open(ctx, mopts)
	if err != nil {
		return err
	}
	defer m.Close()

	builtins, err := pushBuiltins(ctx, m)
	if err != nil {
		return err
	}
	var in *deploy.Input
	switch {
	case configDir != "":
		i, err := deploy.ReadDir(configDir)
		if err != nil {
			logf("config directory: %v (serving the stored stages; fix it and it is deployed)", err)
		} else {
			in = &i
		}
	case s.API != "":
		doc, err := os.ReadFile(s.API)
		if err != nil {
			return err
		}
		i := deploy.Input{Source: s.API, Doc: doc, FileRoot: filepath.Dir(s.API)}
		for _, dir := range pluginDirs {
			ps, err := readPluginDir(dir)
			if err != nil {
				return err
			}
			i.Plugins = append(i.Plugins, ps...)
		}
		in = &i
	default:
		in = &deploy.Input{Source: petstoreSource, Doc: examples.Petstore, Plugins: builtins}
	}
	if in != nil {
		d, err := m.ApplyInput(ctx, *in, "deployed by serve from "+in.Source, "serve")
		switch {
		case err != nil && !serving(m):
			return err
		case err != nil:
			logf("%s not deployed (serving the stored stages): %v", in.Source, err)
		case d != nil:
			logf("deployed %s as %s (%d operations) in %v", in.Source, d.ID, d.Operations, time.Since(start).Round(time.Millisecond))
		}
	}
	if configDir != "" {
		go m.WatchDir(ctx, configDir, s.WatchInterval)
	}

	sc := gateway.ServerConfig{
		Listen:            s.Listen,
		TLSListen:         s.TLSListen,
		CertFile:          s.TLSCert,
		KeyFile:           s.TLSKey,
		HTTP3:             s.HTTP3,
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		IdleTimeout:       s.IdleTimeout,
		ShutdownTimeout:   s.ShutdownTimeout,
	}
	if s.Compression != "" {
		cc := &gateway.CompressConfig{MinBytes: s.CompressionMinBytes}
		for _, enc := range strings.Split(s.Compression, ",") {
			if enc = strings.TrimSpace(enc); enc != "" {
				cc.Encodings = append(cc.Encodings, enc)
			}
		}
		sc.Compress = cc
	}
	if err := tlsSettings(ctx, s, &sc, logf); err != nil {
		return err
	}
	if sc.TLSListen != "" && sc.Certs == nil {
		cert, err := selfSigned(s.DataDir)
		if err != nil {
			return err
		}
		sc.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		logf("no tls_cert given: using a self-signed certificate for localhost (stored in %s)", s.DataDir)
	}
	srv := gateway.NewServer(g, sc)
	if err := srv.Start(); err != nil {
		return err
	}
	adminErr, stopAdmin, err := startAdmin(s, m, keys, obs, logf)
	if err != nil {
		_ = srv.Shutdown(context.Background())
		return err
	}
	defer stopAdmin()
	printURLs(m, srv, s.AdminListen, demo)

	select {
	case <-ctx.Done():
	case err := <-srv.Err():
		return err
	case err := <-adminErr:
		return err
	}
	logf("shutting down: draining in-flight requests (up to %v)", s.ShutdownTimeout)
	return srv.Shutdown(context.Background())
}

// openPolicies returns the token buckets and quotas, in Redis when a URL
// is set (cluster mode; checked with a PING at start-up), else in memory;
// the stages' response caches, with a Redis L2 when cache_l2 is on; and
// with Redis the plugins' shared data (nil: the engine's memory).
func openPolicies(ctx context.Context, s config.Settings, logf func(string, ...any)) (*gateway.Policies, *gateway.Caches, wasm.SharedStore, func(), error) {
	caches := &gateway.Caches{DefaultMB: s.CacheSizeMB, MaxEntryBytes: s.CacheMaxEntryBytes}
	url := s.Redis
	if url == "" {
		l := policy.NewLocal(policy.SystemClock{})
		return &gateway.Policies{Limiter: l, Quotas: l}, caches, nil, caches.Close, nil
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("redis: %w (want redis://[user:password@]host:port/db)", err)
	}
	// Short timeouts: a plugin waits on these calls, and its on_error
	// policy decides what a failure means.
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, 250*time.Millisecond, 250*time.Millisecond
	client := redis.NewClient(opts)
	r := policy.NewRedis(client, policy.SystemClock{}, "wasmgate:")
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := r.Healthy(pctx); err != nil {
		logf("redis %s is not answering (%v): rate limits follow each plugin's on_error policy until it does", opts.Addr, err)
	} else {
		logf("cluster mode: rate limits, quotas and plugins' shared data in redis %s", opts.Addr)
	}
	if s.CacheL2 {
		var mu sync.Mutex
		var last time.Time
		caches.L2 = func(stage string) cache.L2 { return cache.NewRedisL2(client, "wasmgate:cache:"+stage+":") }
		caches.OnL2Error = func(stage, op string, err error) {
			mu.Lock()
			defer mu.Unlock()
			if time.Since(last) >= 10*time.Second { // once per interval: the cache carries on without L2
				last = time.Now()
				logf("stage %s: cache L2 %s failed (%v): serving from memory until redis answers", stage, op, err)
			}
		}
	}
	shared := policy.NewRedisShared(client, "wasmgate:", 0)
	return &gateway.Policies{Limiter: r, Quotas: r}, caches, shared, func() { caches.Close(); _ = client.Close() }, nil
}

func serving(m *deploy.Manager) bool {
	for _, st := range m.Stages() {
		if st.Serving {
			return true
		}
	}
	return false
}

// builtinVersion is the version the embedded first-party plugins are
// stored under: a pre-release, so any version an operator pushes is newer.
func builtinVersion(bin []byte) string { return "0.0.0-builtin+" + wasm.Digest(bin)[7:19] }

// pushBuiltins stores the embedded first-party plugins (cors, mock,
// transform, ...) so documents can name them.
func pushBuiltins(ctx context.Context, m *deploy.Manager) ([]deploy.PluginFile, error) {
	entries, err := fs.ReadDir(builtinPlugins, "embedded/plugins")
	if err != nil {
		return nil, err
	}
	var out []deploy.PluginFile
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".wasm")
		if !ok {
			continue
		}
		bin, err := fs.ReadFile(builtinPlugins, "embedded/plugins/"+e.Name())
		if err != nil {
			return nil, err
		}
		pf := deploy.PluginFile{Name: name, Version: builtinVersion(bin), Bin: bin}
		if _, _, err := m.PushBuiltin(ctx, pf.Name, pf.Version, pf.Bin, "serve"); err != nil {
			return nil, fmt.Errorf("embedded plugin %s: %w", name, err)
		}
		out = append(out, pf)
	}
	return out, nil
}

// readPluginDir reads NAME@VERSION.wasm and NAME.wasm files.
func readPluginDir(dir string) ([]deploy.PluginFile, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
	if err != nil {
		return nil, err
	}
	var out []deploy.PluginFile
	for _, f := range files {
		bin, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		name, version, _ := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".wasm"), "@")
		out = append(out, deploy.PluginFile{Name: name, Version: version, Bin: bin})
	}
	return out, nil
}

// startAdmin serves the admin API when admin_listen is set. It refuses a
// non-loopback address without a token.
func startAdmin(s *config.Settings, m *deploy.Manager, keys *apikeys.Store, obs *observe.Observer, logf func(string, ...any)) (<-chan error, func(), error) {
	errc := make(chan error, 1)
	if s.AdminListen == "" {
		return errc, func() {}, nil
	}
	if err := admin.CheckListen(s.AdminListen, s.AdminToken); err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", s.AdminListen)
	if err != nil {
		return nil, nil, fmt.Errorf("admin_listen: %w", err)
	}
	srv := &http.Server{
		Handler:           admin.New(m, admin.Options{Token: s.AdminToken, APIKeys: keys, Log: logf, Metrics: obs.Metrics().Handler()}),
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		IdleTimeout:       s.IdleTimeout,
	}
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			errc <- fmt.Errorf("admin API: %w", err)
		}
	}()
	return errc, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx) // in-flight admin calls get 5 s; nothing to report
	}, nil
}

func printURLs(m *deploy.Manager, srv *gateway.Server, adminAddr string, demo bool) {
	base := func(kind, scheme string) string {
		a := srv.Addr(kind)
		if a == "" {
			return ""
		}
		host, port, _ := net.SplitHostPort(a)
		if host == "" || host == "::" || host == "0.0.0.0" {
			host = "localhost"
		}
		return scheme + "://" + net.JoinHostPort(host, port)
	}
	h, hs := base("http", "http"), base("https", "https")
	fmt.Println("wasmgate serving")
	if h != "" {
		fmt.Printf("  HTTP/1.1 + h2c  %s\n", h)
	}
	if hs != "" {
		proto := "HTTP/1.1 + HTTP/2"
		if srv.Addr("h3") != "" {
			proto += " + HTTP/3"
		}
		fmt.Printf("  %s  %s\n", proto, hs)
	}
	if adminAddr != "" {
		fmt.Printf("  admin API  http://%s (wasmgate stages, deploy, rollback, ...); Prometheus metrics at /metrics\n", adminAddr)
	}
	first := h
	if first == "" {
		first = hs
	}
	for _, st := range m.Stages() {
		prefix := "/" + st.Name
		if st.Name == gateway.DefaultStage {
			prefix = ""
		}
		state := st.Deployment
		if !st.Serving {
			state += ", NOT SERVING: " + st.Error
		}
		fmt.Printf("  stage %-8s %s%s/  (%s)\n", st.Name, first, prefix, state)
	}
	if !demo || first == "" {
		return
	}
	fmt.Println("try:")
	for _, p := range []string{"/pets", "/pets/1", "/hello/world", "/health", "/store/greeting"} {
		fmt.Printf("  curl -i %s/dev%s\n", first, p)
	}
	if hs != "" && srv.Addr("h3") != "" {
		fmt.Printf("  wasmgate request --http3 --insecure %s/dev/pets\n", hs)
	}
}

// selfSigned loads or creates a localhost certificate in dir.
func selfSigned(dir string) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, "selfsigned.crt"), filepath.Join(dir, "selfsigned.key")
	if c, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// tlsSettings loads the certificates (tls_cert/tls_key and tls_cert_dir,
// chosen by SNI and reloaded every tls_reload_interval while ctx lives),
// the minimum TLS version, the client CA for mTLS and the HTTP redirect.
func tlsSettings(ctx context.Context, s *config.Settings, sc *gateway.ServerConfig, logf func(string, ...any)) error {
	if sc.TLSListen == "" {
		return nil
	}
	var pairs []gateway.CertPair
	if s.TLSCert != "" {
		pairs = append(pairs, gateway.CertPair{Cert: s.TLSCert, Key: s.TLSKey})
	}
	if len(pairs) > 0 || s.TLSCertDir != "" {
		certs, err := gateway.NewCertStore(pairs, s.TLSCertDir)
		if err != nil {
			return err
		}
		sc.Certs = certs
		sc.CertFile, sc.KeyFile = "", ""
		go certs.Watch(s.TLSReloadInterval, ctx.Done(), func(msg string) { logf("%s", msg) })
		logf("tls: %d certificate(s), reloaded when their files change", certs.Count())
	}
	if s.TLSMinVersion == "1.3" {
		sc.MinTLSVersion = tls.VersionTLS13
	}
	if s.TLSClientCA != "" {
		pool, err := gateway.ClientCAPool(s.TLSClientCA)
		if err != nil {
			return err
		}
		sc.ClientCAs, sc.ClientAuth = pool, tls.VerifyClientCertIfGiven
		if s.TLSClientAuth == "require" {
			sc.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	sc.RedirectHTTP = s.HTTPRedirect
	return nil
}
