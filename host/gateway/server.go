package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// ServerConfig configures the listeners.
type ServerConfig struct {
	// Listen serves HTTP/1.1 and cleartext HTTP/2 (h2c, prior knowledge).
	Listen string
	// TLSListen serves HTTP/1.1 and HTTP/2 over TLS with TLSConfig (or
	// CertFile/KeyFile).
	TLSListen         string
	TLSConfig         *tls.Config
	CertFile, KeyFile string
	// Certs, when set, picks the TLS certificate by SNI (and reloads;
	// see CertStore); it takes precedence over CertFile/KeyFile and the
	// certificates of TLSConfig.
	Certs *CertStore
	// MinTLSVersion is the lowest TLS version accepted (default TLS 1.2).
	MinTLSVersion uint16
	// ClientCAs and ClientAuth verify client certificates (mTLS):
	// tls.VerifyClientCertIfGiven accepts clients without one (stages may
	// still require it), tls.RequireAndVerifyClientCert refuses them at
	// the handshake. A verified certificate's subject is the request's
	// connection.subject_peer_certificate property.
	ClientCAs  *x509.CertPool
	ClientAuth tls.ClientAuthType
	// RedirectHTTP makes the plain listener answer every request with a
	// 308 redirect to the same URL on the TLS listener.
	RedirectHTTP bool
	// HTTP3 also serves HTTP/3 (QUIC, UDP) on TLSListen and advertises it
	// with Alt-Svc on the TLS listener's responses.
	HTTP3 bool
	// ReadHeaderTimeout (default 10s) bounds how long a client may take to
	// send request headers (slowloris); IdleTimeout (default 120s) bounds
	// idle keep-alive connections; ShutdownTimeout (default 30s) bounds
	// the drain on Shutdown.
	ReadHeaderTimeout, IdleTimeout, ShutdownTimeout time.Duration
	// MaxHeaderBytes caps request headers (default 1 MiB → 431).
	MaxHeaderBytes int
	// Compress, when set with encodings, compresses responses (see
	// Compress).
	Compress *CompressConfig
}

// Server runs a Gateway's listeners.
type Server struct {
	cfg    ServerConfig
	h      http.Handler
	plain  *http.Server
	secure *http.Server
	h3     *http3.Server

	mu    sync.Mutex
	addrs map[string]string
	errc  chan error
}

// NewServer wraps a handler (normally a *Gateway) in listeners.
func NewServer(h http.Handler, cfg ServerConfig) *Server {
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = 10 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 120 * time.Second
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = 1 << 20
	}
	if cfg.Compress != nil {
		h = Compress(h, *cfg.Compress)
	}
	return &Server{cfg: cfg, h: h, addrs: map[string]string{}, errc: make(chan error, 3)}
}

// Start opens the listeners and serves in the background. Addr reports the
// bound addresses (useful with port 0).
func (s *Server) Start() error {
	c := s.cfg
	if c.Listen != "" {
		ln, err := net.Listen("tcp", c.Listen)
		if err != nil {
			return fmt.Errorf("listen %s: %w", c.Listen, err)
		}
		var protos http.Protocols
		protos.SetHTTP1(true)
		protos.SetUnencryptedHTTP2(true)
		plainHandler := s.h
		if c.RedirectHTTP && c.TLSListen != "" {
			plainHandler = http.HandlerFunc(s.redirect)
		}
		s.plain = &http.Server{
			Handler:           plainHandler,
			ReadHeaderTimeout: c.ReadHeaderTimeout,
			IdleTimeout:       c.IdleTimeout,
			MaxHeaderBytes:    c.MaxHeaderBytes,
			Protocols:         &protos,
		}
		s.setAddr("http", ln.Addr().String())
		go s.serve(func() error { return s.plain.Serve(ln) })
	}
	if c.TLSListen != "" {
		tlsCfg := c.TLSConfig
		if c.Certs != nil {
			if tlsCfg == nil {
				tlsCfg = &tls.Config{}
			}
			tlsCfg = tlsCfg.Clone()
			tlsCfg.Certificates = nil
			tlsCfg.GetCertificate = c.Certs.GetCertificate
		}
		if tlsCfg == nil {
			if c.CertFile == "" || c.KeyFile == "" {
				return errors.New("tls listener needs a certificate: set tls_cert and tls_key")
			}
			cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
			if err != nil {
				return fmt.Errorf("tls certificate: %w", err)
			}
			tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}}
		}
		tlsCfg = tlsCfg.Clone()
		if c.MinTLSVersion != 0 {
			tlsCfg.MinVersion = c.MinTLSVersion
		}
		if tlsCfg.MinVersion == 0 {
			tlsCfg.MinVersion = tls.VersionTLS12
		}
		if c.ClientCAs != nil {
			tlsCfg.ClientCAs = c.ClientCAs
			tlsCfg.ClientAuth = c.ClientAuth
			if tlsCfg.ClientAuth == tls.NoClientCert {
				tlsCfg.ClientAuth = tls.VerifyClientCertIfGiven
			}
		}
		tlsCfg.NextProtos = []string{"h2", "http/1.1"}
		ln, err := net.Listen("tcp", c.TLSListen)
		if err != nil {
			return fmt.Errorf("listen %s: %w", c.TLSListen, err)
		}
		handler := s.h
		if c.HTTP3 {
			udp, err := net.ListenPacket("udp", ln.Addr().String())
			if err != nil {
				ln.Close()
				return fmt.Errorf("listen udp %s for HTTP/3: %w", ln.Addr(), err)
			}
			s.h3 = &http3.Server{Handler: s.h, TLSConfig: http3.ConfigureTLSConfig(tlsCfg.Clone()), IdleTimeout: c.IdleTimeout}
			s.setAddr("h3", udp.LocalAddr().String())
			go s.serve(func() error { return s.h3.Serve(udp) })
			h3 := s.h3
			inner := s.h
			handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = h3.SetQUICHeaders(w.Header()) // adds Alt-Svc
				inner.ServeHTTP(w, r)
			})
		}
		s.secure = &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: c.ReadHeaderTimeout,
			IdleTimeout:       c.IdleTimeout,
			MaxHeaderBytes:    c.MaxHeaderBytes,
			TLSConfig:         tlsCfg,
		}
		s.setAddr("https", ln.Addr().String())
		go s.serve(func() error { return s.secure.Serve(tls.NewListener(ln, tlsCfg)) })
	}
	return nil
}

// redirect answers a plain-HTTP request with a 308 to the TLS listener.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if _, port, err := net.SplitHostPort(s.Addr("https")); err == nil && port != "443" {
		host = net.JoinHostPort(host, port)
	}
	w.Header().Set("Connection", "close")
	http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
}

func (s *Server) serve(fn func() error) {
	if err := fn(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		s.errc <- err
	}
}

func (s *Server) setAddr(k, v string) {
	s.mu.Lock()
	s.addrs[k] = v
	s.mu.Unlock()
}

// Addr returns the bound address of a listener: "http", "https" or "h3".
func (s *Server) Addr(kind string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[kind]
}

// Err delivers a listener's fatal error.
func (s *Server) Err() <-chan error { return s.errc }

// Shutdown stops accepting connections and waits (up to ShutdownTimeout,
// or ctx) for in-flight requests to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for _, srv := range []*http.Server{s.plain, s.secure} {
		if srv == nil {
			continue
		}
		wg.Add(1)
		go func(srv *http.Server) {
			defer wg.Done()
			errs <- srv.Shutdown(ctx)
		}(srv)
	}
	if s.h3 != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.h3.Shutdown(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	var first error
	for err := range errs {
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}
