package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http/httptest"
	"testing"

	"github.com/wasmgate/wasmgate/abi"
)

func TestConnectionProperties(t *testing.T) {
	plain := &reqCtx{r: httptest.NewRequest("GET", "http://gw/x", nil), stage: &stage{name: "prod"}}
	if v, ok := plain.Property(abi.PropConnectionMTLS); !ok || v[0] != 0 {
		t.Fatalf("plain HTTP mtls = %v %v", v, ok)
	}
	for _, p := range []string{abi.PropConnectionTLSVersion, abi.PropConnectionSNI, abi.PropConnectionPeerSubject} {
		if _, ok := plain.Property(p); ok {
			t.Fatalf("plain HTTP has %s", p)
		}
	}
	r := httptest.NewRequest("GET", "https://gw/x", nil)
	r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, ServerName: "api.example.com",
		VerifiedChains: [][]*x509.Certificate{{{Subject: pkix.Name{CommonName: "alice", Organization: []string{"Example"}}}}}}
	rc := &reqCtx{r: r, stage: &stage{name: "prod"}}
	for p, want := range map[string]string{
		abi.PropConnectionMTLS:        "\x01",
		abi.PropConnectionTLSVersion:  "TLSv1.3",
		abi.PropConnectionSNI:         "api.example.com",
		abi.PropConnectionPeerSubject: "CN=alice,O=Example",
	} {
		if v, ok := rc.Property(p); !ok || string(v) != want {
			t.Errorf("%s = %q %v, want %q", p, v, ok, want)
		}
	}
}
