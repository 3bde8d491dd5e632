package gateway

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CertPair names a certificate chain file and its key file (PEM).
type CertPair struct{ Cert, Key string }

// CertStore serves TLS certificates chosen by SNI from PEM files, and
// reloads them when the files change, without a restart: handshakes after
// a reload get the new certificates, connections already open keep theirs.
// A reload that fails (a half-written file, a key that does not match)
// keeps the certificates that were serving and reports the error.
//
// Certificates come from Pairs and from Dir: every NAME.crt (or
// NAME.pem) with a NAME.key beside it. A certificate serves the DNS names
// of its SAN (and its CN when it has no SAN), wildcards (*.example.com)
// included; a handshake without SNI, or for a name no certificate has,
// gets the first certificate (the Pairs in order, then Dir's sorted by
// file name).
type CertStore struct {
	pairs []CertPair
	dir   string

	set     atomic.Pointer[certSet]
	mu      sync.Mutex // serializes Reload
	stamp   string     // the files' names, sizes and mtimes at the last load
	onError func(error)
}

type certSet struct {
	byName   map[string]*tls.Certificate // exact names, lower case
	wildcard map[string]*tls.Certificate // "example.com" for *.example.com
	first    *tls.Certificate
	count    int
}

// NewCertStore loads the certificates; it fails when none loads.
func NewCertStore(pairs []CertPair, dir string) (*CertStore, error) {
	s := &CertStore{pairs: pairs, dir: dir}
	if _, err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Count returns the number of certificates served.
func (s *CertStore) Count() int { return s.set.Load().count }

// GetCertificate implements tls.Config.GetCertificate.
func (s *CertStore) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	set := s.set.Load()
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if c := set.byName[name]; c != nil {
		return c, nil
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if c := set.wildcard[name[i+1:]]; c != nil {
			return c, nil
		}
	}
	return set.first, nil
}

// files lists the certificate and key files, in order.
func (s *CertStore) files() ([]CertPair, error) {
	out := append([]CertPair(nil), s.pairs...)
	if s.dir == "" {
		return out, nil
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("tls certificates directory: %w", err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && (strings.HasSuffix(n, ".crt") || strings.HasSuffix(n, ".pem")) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		key := filepath.Join(s.dir, strings.TrimSuffix(strings.TrimSuffix(n, ".crt"), ".pem")+".key")
		if _, err := os.Stat(key); err != nil {
			continue // a CA bundle or a chain without its key: not ours to serve
		}
		out = append(out, CertPair{Cert: filepath.Join(s.dir, n), Key: key})
	}
	return out, nil
}

func stampOf(pairs []CertPair) string {
	var b strings.Builder
	for _, p := range pairs {
		for _, f := range []string{p.Cert, p.Key} {
			fi, err := os.Stat(f)
			if err != nil {
				fmt.Fprintf(&b, "%s:missing;", f)
				continue
			}
			fmt.Fprintf(&b, "%s:%d:%d;", f, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return b.String()
}

// Reload reads the files again when they changed since the last load and
// swaps the certificates in; it reports whether it swapped. On error the
// previous certificates keep serving.
func (s *CertStore) Reload() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pairs, err := s.files()
	if err != nil {
		return false, err
	}
	stamp := stampOf(pairs)
	if stamp == s.stamp && s.set.Load() != nil {
		return false, nil
	}
	if len(pairs) == 0 {
		return false, errors.New("no tls certificate: give tls_cert and tls_key, or put NAME.crt and NAME.key files in tls_cert_dir")
	}
	set := &certSet{byName: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}}
	for _, p := range pairs {
		cert, err := tls.LoadX509KeyPair(p.Cert, p.Key)
		if err != nil {
			return false, fmt.Errorf("tls certificate %s with key %s: %w", p.Cert, p.Key, err)
		}
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return false, fmt.Errorf("tls certificate %s: %w", p.Cert, err)
		}
		cert.Leaf = leaf
		c := &cert
		names := leaf.DNSNames
		if len(names) == 0 && leaf.Subject.CommonName != "" {
			names = []string{leaf.Subject.CommonName}
		}
		for _, n := range names {
			n = strings.ToLower(n)
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				if set.wildcard[rest] == nil {
					set.wildcard[rest] = c
				}
			} else if set.byName[n] == nil {
				set.byName[n] = c
			}
		}
		if set.first == nil {
			set.first = c
		}
		set.count++
	}
	s.set.Store(set)
	s.stamp = stamp
	return true, nil
}

// Watch reloads the certificates every interval until stop is closed,
// telling log of each reload and failure.
func (s *CertStore) Watch(interval time.Duration, stop <-chan struct{}, log func(string)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		swapped, err := s.Reload()
		switch {
		case err != nil:
			if err.Error() != lastErr && log != nil {
				log("tls certificates not reloaded, the previous ones keep serving: " + err.Error())
			}
			lastErr = err.Error()
		case swapped:
			lastErr = ""
			if log != nil {
				log(fmt.Sprintf("tls certificates reloaded (%d)", s.Count()))
			}
		}
	}
}

// ClientCAPool reads a PEM bundle of client CA certificates for mTLS.
func ClientCAPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bytes.TrimSpace(b)) {
		return nil, fmt.Errorf("tls client CA %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// tlsVersionName names a TLS version as Envoy's connection.tls_version.
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return "unknown"
}
