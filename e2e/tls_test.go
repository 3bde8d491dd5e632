package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/host/gateway"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns PEM certificate and key for names (server) or a client
// certificate with the common name cn.
func (ca *testCA) issue(t *testing.T, serial int64, cn string, client bool, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	usage := x509.ExtKeyUsageServerAuth
	if client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"wasmgate tests"}},
		DNSNames: names, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func writePair(t *testing.T, dir, name string, cert, key []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".crt"), cert, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsServer serves e's gateway on a TLS listener with cfg.
func tlsServer(t *testing.T, e *env, cfg gateway.ServerConfig) *gateway.Server {
	t.Helper()
	cfg.TLSListen = "127.0.0.1:0"
	srv := gateway.NewServer(e.gw, cfg)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv
}

// handshake connects with SNI name and returns the serial of the
// certificate the server presented.
func handshake(t *testing.T, addr, name string, pool *x509.CertPool) (int64, error) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: name, RootCAs: pool})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
}

const tlsDoc = `openapi: 3.0.3
info: {title: tls, version: "1"}
paths:
  /hello:
    get:
      x-wasmgate-integration:
        type: mock
        mock: {status: 200, body: '{"hello":"tls"}'}
      responses: {"200": {description: ok}}
`

// TestTLSByNameAndReload: SNI picks the certificate of the name asked for
// (exact, wildcard, default), and a changed file is served after a reload
// without a restart; a broken file keeps the previous certificate.
func TestTLSByNameAndReload(t *testing.T) {
	ca := newTestCA(t, "test CA")
	dir := t.TempDir()
	c, k := ca.issue(t, 11, "a.test", false, "a.test")
	writePair(t, dir, "a", c, k)
	c, k = ca.issue(t, 12, "b.test", false, "b.test", "*.wild.test")
	writePair(t, dir, "b", c, k)
	certs, err := gateway.NewCertStore(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	e := startGateway(t, tlsDoc, nil)
	srv := tlsServer(t, e, gateway.ServerConfig{Certs: certs})
	addr := srv.Addr("https")

	for _, c := range []struct {
		name   string
		serial int64
	}{{"a.test", 11}, {"b.test", 12}, {"x.wild.test", 12}, {"unknown.test", 11}} {
		got, err := handshake(t, addr, c.name, ca.pool)
		if c.name == "unknown.test" {
			// The default certificate does not cover the name: a client
			// verifying it refuses; the serial is still the default's.
			got2, _ := handshakeInsecure(t, addr, c.name)
			if err == nil || got2 != c.serial {
				t.Fatalf("%s: err %v, serial %d; want a verification error and the default certificate %d", c.name, err, got2, c.serial)
			}
			continue
		}
		if err != nil || got != c.serial {
			t.Fatalf("%s: serial %d, err %v; want %d", c.name, got, err, c.serial)
		}
	}

	// A request over TLS through the gateway.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: "a.test"}}}
	defer client.CloseIdleConnections()
	if r := do(t, client, "GET", "https://"+addr+"/hello", nil); r.status != 200 || !strings.Contains(r.body, "tls") {
		t.Fatalf("https request: %d %s", r.status, r.body)
	}

	// Replace a.test's certificate: served after the reload.
	c, k = ca.issue(t, 21, "a.test", false, "a.test")
	writePair(t, dir, "a", c, k)
	if swapped, err := certs.Reload(); !swapped || err != nil {
		t.Fatalf("reload: %v %v", swapped, err)
	}
	if got, err := handshake(t, addr, "a.test", ca.pool); err != nil || got != 21 {
		t.Fatalf("after the reload: serial %d, err %v; want 21", got, err)
	}
	// A broken file: the reload fails and the previous certificate serves.
	os.WriteFile(filepath.Join(dir, "a.crt"), []byte("-----BEGIN CERTIFICATE-----\nnot a certificate\n"), 0o644)
	if _, err := certs.Reload(); err == nil || !strings.Contains(err.Error(), "a.crt") {
		t.Fatalf("a broken certificate reloaded: %v", err)
	}
	if got, err := handshake(t, addr, "a.test", ca.pool); err != nil || got != 21 {
		t.Fatalf("after a failed reload: serial %d, err %v; want 21 still", got, err)
	}
	// Watch picks up a fixed file by itself.
	stop := make(chan struct{})
	defer close(stop)
	go certs.Watch(20*time.Millisecond, stop, nil)
	c, k = ca.issue(t, 31, "a.test", false, "a.test")
	writePair(t, dir, "a", c, k)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got, _ := handshake(t, addr, "a.test", ca.pool); got == 31 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Watch did not load the fixed certificate within 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func handshakeInsecure(t *testing.T, addr, name string) (int64, error) {
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
}

// TestMTLSAndRedirect: client certificates verified against a CA,
// optional or required; TLS 1.3 only; plain HTTP redirected to HTTPS.
func TestMTLSAndRedirect(t *testing.T) {
	ca := newTestCA(t, "server CA")
	clientCA := newTestCA(t, "client CA")
	otherCA := newTestCA(t, "other CA")
	dir := t.TempDir()
	c, k := ca.issue(t, 1, "localhost", false, "localhost")
	writePair(t, dir, "server", c, k)
	certs, err := gateway.NewCertStore([]gateway.CertPair{{Cert: filepath.Join(dir, "server.crt"), Key: filepath.Join(dir, "server.key")}}, "")
	if err != nil {
		t.Fatal(err)
	}
	clientPEM, clientKey := clientCA.issue(t, 5, "alice", true)
	alice, _ := tls.X509KeyPair(clientPEM, clientKey)
	otherPEM, otherKey := otherCA.issue(t, 6, "mallory", true)
	mallory, _ := tls.X509KeyPair(otherPEM, otherKey)

	e := startGateway(t, tlsDoc, nil)
	get := func(addr string, certs ...tls.Certificate) (int, error) {
		cfg := &tls.Config{RootCAs: ca.pool, ServerName: "localhost"}
		if len(certs) > 0 {
			// Always send it, even when the server names other CAs.
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
		}
		cl := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		defer cl.CloseIdleConnections()
		r, err := cl.Get("https://" + addr + "/hello")
		if err != nil {
			return 0, err
		}
		r.Body.Close()
		return r.StatusCode, nil
	}
	for _, mode := range []tls.ClientAuthType{tls.VerifyClientCertIfGiven, tls.RequireAndVerifyClientCert} {
		srv := tlsServer(t, e, gateway.ServerConfig{Certs: certs, ClientCAs: clientCA.pool, ClientAuth: mode, MinTLSVersion: tls.VersionTLS13})
		addr := srv.Addr("https")
		if code, err := get(addr, alice); err != nil || code != 200 {
			t.Fatalf("%v with a valid client certificate: %d %v", mode, code, err)
		}
		if _, err := get(addr, mallory); err == nil {
			t.Fatalf("%v: a client certificate from another CA was accepted", mode)
		}
		code, err := get(addr)
		if mode == tls.VerifyClientCertIfGiven && (err != nil || code != 200) {
			t.Fatalf("optional mTLS without a certificate: %d %v", code, err)
		}
		if mode == tls.RequireAndVerifyClientCert && err == nil {
			t.Fatal("required mTLS accepted a client without a certificate")
		}
		// TLS 1.2 is refused.
		if _, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12, Certificates: []tls.Certificate{alice}}); err == nil {
			t.Fatal("a TLS 1.2 handshake was accepted with MinTLSVersion 1.3")
		}
	}

	// Redirect: the plain listener sends clients to the TLS one.
	srv := gateway.NewServer(e.gw, gateway.ServerConfig{Listen: "127.0.0.1:0", TLSListen: "127.0.0.1:0", Certs: certs, RedirectHTTP: true})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := noFollow.Get("http://" + srv.Addr("http") + "/hello?x=1")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	_, port, _ := strings.Cut(srv.Addr("https"), ":")
	if want := fmt.Sprintf("https://127.0.0.1:%s/hello?x=1", port); r.StatusCode != http.StatusPermanentRedirect || r.Header.Get("Location") != want {
		t.Fatalf("redirect: %d Location %q, want 308 %s", r.StatusCode, r.Header.Get("Location"), want)
	}
}
