package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"

	"github.com/wasmgate/wasmgate/sdk/go/sdktest"
)

var (
	buildOnce sync.Once
	wasmBin   []byte
)

func pluginWasm(t testing.TB) []byte {
	t.Helper()
	buildOnce.Do(func() { wasmBin = sdktest.Build(t, ".") })
	return wasmBin
}

// Test keys, generated once per test binary.
var (
	keysOnce            sync.Once
	rsaKey, rsaKey2     *rsa.PrivateKey
	ecKey, ecKey384     *ecdsa.PrivateKey
	hmacSecret          = []byte("0123456789abcdef0123456789abcdef") // 32 bytes
	rsaPEM, rsaCertLess string
)

func testKeys(t testing.TB) {
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
		if rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			t.Fatal(err)
		}
		if ecKey384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			t.Fatal(err)
		}
		rsaPEM = pubPEM(t, &rsaKey.PublicKey)
	})
}

func pubPEM(t testing.TB, pub any) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rsaJWK and ecJWK render public keys as JWKs.
func rsaJWK(kid string, pub *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
}

func ecJWK(kid string, pub *ecdsa.PublicKey) map[string]any {
	size := (pub.Curve.Params().BitSize + 7) / 8
	crv := map[int]string{32: "P-256", 48: "P-384", 66: "P-521"}[size]
	b, err := pub.Bytes()
	if err != nil {
		panic(err)
	}
	return map[string]any{"kty": "EC", "kid": kid, "crv": crv, "x": b64(b[1 : 1+size]), "y": b64(b[1+size:])}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// sign builds a compact JWS over header and claims with alg and signer
// (an *rsa.PrivateKey, *ecdsa.PrivateKey or []byte secret; nil: no
// signature).
func sign(t testing.TB, header, claims map[string]any, signer any) string {
	t.Helper()
	alg, _ := header["alg"].(string)
	in := b64([]byte(mustJSON(header))) + "." + b64([]byte(mustJSON(claims)))
	return in + "." + b64(sigOf(t, alg, in, signer))
}

func sigOf(t testing.TB, alg, in string, signer any) []byte {
	t.Helper()
	h := algHash[alg]
	if signer == nil || h == 0 {
		return nil
	}
	d := h.New()
	d.Write([]byte(in))
	sum := d.Sum(nil)
	switch k := signer.(type) {
	case []byte:
		m := hmac.New(h.New, k)
		m.Write([]byte(in))
		return m.Sum(nil)
	case *rsa.PrivateKey:
		var s []byte
		var err error
		if alg[0] == 'P' {
			s, err = rsa.SignPSS(rand.Reader, k, h, sum, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			s, err = rsa.SignPKCS1v15(rand.Reader, k, h, sum)
		}
		if err != nil {
			t.Fatal(err)
		}
		return s
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, sum)
		if err != nil {
			t.Fatal(err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out
	}
	t.Fatalf("unknown signer %T", signer)
	return nil
}

var _ = crypto.SHA256
