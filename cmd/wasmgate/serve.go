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
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/examples"
	"github.com/wasmgate/wasmgate/host/config"
	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/host/wasm"
)

//go:embed embedded/plugins
var builtinPlugins embed.FS

func serveCmd() *cobra.Command {
	var settingsFile string
	var pluginDirs []string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve an API document (default: the embedded petstore example)",
		Long: `Serve an API document on HTTP/1.1 and h2c (--listen), HTTPS with HTTP/2
and HTTP/3 (--tls-listen). Without --api it serves the embedded petstore
example with its built-in demo backend.

Settings come from defaults < --config file < WASMGATE_* environment < flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := config.LoadSettings(settingsFile, cmd.Flags())
			if err != nil {
				return err
			}
			return serve(cmd.Context(), s, pluginDirs)
		},
	}
	f := cmd.Flags()
	f.StringVar(&settingsFile, "config", "", "settings file (YAML or JSON)")
	f.StringSliceVar(&pluginDirs, "plugins", nil, "directories holding plugin .wasm files (NAME@VERSION.wasm or NAME.wasm)")
	config.AddFlags(f)
	return cmd
}

func serve(ctx context.Context, s *config.Settings, pluginDirs []string) error {
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
	engine, err := wasm.NewEngine(ctx, wasm.EngineConfig{
		CacheDir: filepath.Join(s.DataDir, "compile-cache"),
		LogLevel: abi.LogInfo,
		Log: func(p *wasm.PluginInfo, level abi.LogLevel, msg string) {
			logf("plugin[%s] %s: %s", p.Name, level, msg)
		},
	})
	if err != nil {
		return err
	}
	defer engine.Close(context.Background())

	var api *config.API
	docDir := "."
	builtinBackend := false
	if s.API == "" {
		api, err = config.Parse("examples/petstore/petstore.yaml", examples.Petstore)
		builtinBackend = true
	} else {
		api, err = config.Load(s.API)
		docDir = filepath.Dir(s.API)
	}
	if err != nil {
		return err
	}
	if builtinBackend {
		backend, err := examples.StartPetstoreBackend("127.0.0.1:0")
		if err != nil {
			return err
		}
		defer backend.Close()
		for i := range api.Stages {
			if api.Stages[i].Variables == nil {
				api.Stages[i].Variables = map[string]string{}
			}
			api.Stages[i].Variables["backend"] = backend.URL
		}
		logf("demo backend for the petstore example on %s", backend.URL)
	}

	store, err := gateway.OpenBoltStore(filepath.Join(s.DataDir, "services.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	sub, _ := fs.Sub(builtinPlugins, "embedded/plugins")
	g := gateway.New(gateway.Options{
		Engine:       engine,
		Plugins:      &gateway.DirSource{DocDir: docDir, Dirs: pluginDirs, FS: sub},
		Services:     store,
		MaxBodyBytes: s.MaxBodyBytes,
		ErrorLog:     func(id, msg string) { logf("request %s: %s", id, msg) },
	})
	start := time.Now()
	snap, err := g.Build(ctx, api, "d-1")
	if err != nil {
		return err
	}
	g.Swap(snap)
	logf("deployed %s (%s, %d operations) in %v", api.Name, api.Source, len(api.Operations), time.Since(start).Round(time.Millisecond))

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
	if sc.TLSListen != "" && sc.CertFile == "" {
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
	printURLs(api, srv)

	select {
	case <-ctx.Done():
	case err := <-srv.Err():
		return err
	}
	logf("shutting down: draining in-flight requests (up to %v)", s.ShutdownTimeout)
	err = srv.Shutdown(context.Background())
	if old := g.Swap(nil); old != nil {
		old.Retire()
		<-old.Done()
	}
	return err
}

func printURLs(api *config.API, srv *gateway.Server) {
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
	fmt.Printf("wasmgate serving %q\n", api.Name)
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
	prefix := ""
	if len(api.Stages) > 0 {
		prefix = "/" + api.Stages[0].Name
	}
	fmt.Println("try:")
	seen := 0
	for _, op := range api.Operations {
		if op.Method != "GET" || strings.Contains(op.Path, "+}") || seen >= 6 {
			continue
		}
		p := strings.NewReplacer("{id}", "1", "{name}", "world", "{key}", "greeting").Replace(op.Path)
		if h != "" {
			fmt.Printf("  curl -i %s%s%s%s\n", h, prefix, api.BasePath, p)
		}
		seen++
	}
	if hs != "" && srv.Addr("h3") != "" {
		fmt.Printf("  wasmgate request --http3 --insecure %s%s%s/pets\n", hs, prefix, api.BasePath)
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
