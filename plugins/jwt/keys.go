package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	_ "crypto/sha256" // SHA-256 for HS256, RS256, PS256, ES256
	_ "crypto/sha512" // SHA-384 and SHA-512
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// The JWS algorithms this plugin verifies (RFC 7518 section 3). "none" is
// not one of them.
var algHash = map[string]crypto.Hash{
	"HS256": crypto.SHA256, "HS384": crypto.SHA384, "HS512": crypto.SHA512,
	"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512,
	"PS256": crypto.SHA256, "PS384": crypto.SHA384, "PS512": crypto.SHA512,
	"ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512,
}

// minRSABits is the smallest RSA modulus accepted (NIST SP 800-131A).
const minRSABits = 2048

// key is one verification key. Its type decides the algorithms it may
// verify (algs), so a token can never choose how its key is used: an RSA
// public key is never an HMAC secret (the RS256 → HS256 confusion).
type key struct {
	kid  string
	algs []string // allowed algorithms, decided by the key type, narrowed by "alg"

	rsa    *rsa.PublicKey
	ec     *ecdsa.PublicKey
	secret []byte // HMAC, when literal
	// stageVar names the stage variable holding the HMAC secret, resolved
	// per request (the stage is the request's); secretB64 says how to
	// decode it.
	stageVar  string
	secretB64 bool
	origin    string // "keys[2]" or "jwks", for logs
}

func (k *key) allows(alg string) bool { return slices.Contains(k.algs, alg) }

// restrict narrows the key's algorithms to alg (from the configuration or
// a JWK's "alg"); an alg the key type cannot do is an error.
func (k *key) restrict(alg string) error {
	if alg == "" {
		return nil
	}
	if !k.allows(alg) {
		return fmt.Errorf("alg %q cannot be used with this key (allowed: %s)", alg, strings.Join(k.algs, ", "))
	}
	k.algs = []string{alg}
	return nil
}

func hmacAlgs(n int) []string {
	// RFC 7518 3.2: the key must be at least as long as the hash output.
	var a []string
	for _, alg := range []string{"HS256", "HS384", "HS512"} {
		if n >= algHash[alg].Size() {
			a = append(a, alg)
		}
	}
	return a
}

func newRSAKey(pub *rsa.PublicKey) (*key, error) {
	if pub.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("RSA key of %d bits: at least %d are required", pub.N.BitLen(), minRSABits)
	}
	return &key{rsa: pub, algs: []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}}, nil
}

func newECKey(pub *ecdsa.PublicKey) (*key, error) {
	switch pub.Curve {
	case elliptic.P256():
		return &key{ec: pub, algs: []string{"ES256"}}, nil
	case elliptic.P384():
		return &key{ec: pub, algs: []string{"ES384"}}, nil
	case elliptic.P521():
		return &key{ec: pub, algs: []string{"ES512"}}, nil
	}
	return nil, errors.New("unsupported elliptic curve (want P-256, P-384 or P-521)")
}

// parsePEM reads a public key from PEM: PUBLIC KEY (PKIX), RSA PUBLIC KEY
// (PKCS #1) or CERTIFICATE (its public key). Private keys are refused:
// they do not belong in a gateway configuration.
func parsePEM(s string) (*key, error) {
	block, rest := pem.Decode([]byte(strings.TrimSpace(s)))
	if block == nil {
		return nil, errors.New("not a PEM block")
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, errors.New("more than one PEM block (give one key per entry)")
	}
	var pub any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	default:
		if strings.Contains(block.Type, "PRIVATE") {
			return nil, fmt.Errorf("PEM block %q is a private key: give the public key", block.Type)
		}
		return nil, fmt.Errorf("PEM block %q: want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("PEM %s: %w", block.Type, err)
	}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return newRSAKey(p)
	case *ecdsa.PublicKey:
		return newECKey(p)
	}
	return nil, fmt.Errorf("PEM %s: unsupported key type %T (want RSA or EC)", block.Type, pub)
}

// jwk is a JSON Web Key (RFC 7517) as far as verification needs it.
type jwk struct {
	Kty string   `json:"kty"`
	Kid string   `json:"kid"`
	Use string   `json:"use"`
	Alg string   `json:"alg"`
	Ops []string `json:"key_ops"`
	N   string   `json:"n"`
	E   string   `json:"e"`
	Crv string   `json:"crv"`
	X   string   `json:"x"`
	Y   string   `json:"y"`
	K   string   `json:"k"`
	D   string   `json:"d"`
}

var b64url = base64.RawURLEncoding.Strict()

// parseJWK builds a key from a JWK. allowOct allows symmetric ("oct")
// keys, which only an operator's own configuration may hold, never a
// JWKS fetched over the network.
func parseJWK(j *jwk, allowOct bool) (*key, error) {
	if j.D != "" {
		return nil, errors.New(`the JWK holds a private key ("d"): give the public key`)
	}
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf(`"use" is %q, not "sig"`, j.Use)
	}
	if len(j.Ops) > 0 && !slices.Contains(j.Ops, "verify") {
		return nil, errors.New(`"key_ops" does not include "verify"`)
	}
	var k *key
	var err error
	switch j.Kty {
	case "RSA":
		n, err1 := b64url.DecodeString(j.N)
		e, err2 := b64url.DecodeString(j.E)
		if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return nil, errors.New(`RSA JWK: "n" and "e" must be base64url big-endian integers`)
		}
		exp := int(new(big.Int).SetBytes(e).Int64())
		if exp < 3 || exp%2 == 0 {
			return nil, fmt.Errorf("RSA JWK: bad public exponent %d", exp)
		}
		k, err = newRSAKey(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp})
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("EC JWK: unsupported curve %q (want P-256, P-384 or P-521)", j.Crv)
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := b64url.DecodeString(j.X)
		y, err2 := b64url.DecodeString(j.Y)
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil, fmt.Errorf(`EC JWK: "x" and "y" must be base64url coordinates of %d bytes`, size)
		}
		pub, perr := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if perr != nil {
			return nil, fmt.Errorf("EC JWK: %w", perr)
		}
		k, err = newECKey(pub)
	case "oct":
		if !allowOct {
			return nil, errors.New(`symmetric ("oct") keys are not accepted from a JWKS URL`)
		}
		s, derr := b64url.DecodeString(j.K)
		if derr != nil {
			return nil, errors.New(`oct JWK: "k" must be base64url`)
		}
		k, err = newSecretKey(s)
	default:
		return nil, fmt.Errorf("unsupported key type %q (want RSA, EC or oct)", j.Kty)
	}
	if err != nil {
		return nil, err
	}
	if err := k.restrict(j.Alg); err != nil {
		return nil, err
	}
	k.kid = j.Kid
	return k, nil
}

func newSecretKey(s []byte) (*key, error) {
	if len(s) < 32 {
		return nil, fmt.Errorf("HMAC secret of %d bytes: at least 32 are required", len(s))
	}
	return &key{secret: s, algs: hmacAlgs(len(s))}, nil
}

// decodeBase64 accepts standard and URL-safe base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// parseJWKS reads a JWK Set, keeping the usable signature keys; keys it
// cannot use (encryption keys, other types) are skipped and reported.
func parseJWKS(b []byte) (keys []*key, skipped []string, err error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, nil, fmt.Errorf("not a JWK set: %w", err)
	}
	if set.Keys == nil {
		return nil, nil, errors.New(`not a JWK set: no "keys" array`)
	}
	for i, raw := range set.Keys {
		var j jwk
		if err := json.Unmarshal(raw, &j); err != nil {
			skipped = append(skipped, fmt.Sprintf("keys[%d]: %v", i, err))
			continue
		}
		k, err := parseJWK(&j, false)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("keys[%d] (kid %q): %v", i, j.Kid, err))
			continue
		}
		k.origin = "jwks"
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, skipped, fmt.Errorf("no usable signature key in the JWK set (%d keys)", len(set.Keys))
	}
	return keys, skipped, nil
}

// verify checks sig over signed with alg; the caller has checked that the
// key allows alg.
func (k *key) verify(alg string, signed, sig, secret []byte) bool {
	h := algHash[alg]
	if !h.Available() {
		return false
	}
	switch {
	case alg[0] == 'H':
		if k.rsa != nil || k.ec != nil || len(secret) == 0 {
			return false // never use a public key as an HMAC secret
		}
		m := hmac.New(h.New, secret)
		m.Write(signed)
		return hmac.Equal(m.Sum(nil), sig)
	case k.rsa != nil:
		d := h.New()
		d.Write(signed)
		if alg[0] == 'P' {
			return rsa.VerifyPSS(k.rsa, h, d.Sum(nil), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
		}
		return rsa.VerifyPKCS1v15(k.rsa, h, d.Sum(nil), sig) == nil
	case k.ec != nil:
		size := (k.ec.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size { // JWS uses r || s, fixed size (RFC 7518 3.4), not ASN.1
			return false
		}
		d := h.New()
		d.Write(signed)
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k.ec, d.Sum(nil), r, s)
	}
	return false
}
