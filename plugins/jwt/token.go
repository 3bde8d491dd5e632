package main

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
)

// authError is why a request is refused: 401 invalid_token (or no error
// code when there was no token), or 403 insufficient_scope / missing
// claims.
type authError struct {
	status int    // 401 or 403
	code   string // invalid_token, insufficient_scope, "" (no token)
	desc   string // error_description: fixed texts, no quotes
}

var (
	errNoToken      = &authError{401, "", ""}
	errMalformed    = &authError{401, "invalid_token", "the token is malformed"}
	errTooLarge     = &authError{401, "invalid_token", "the token is too large"}
	errAlg          = &authError{401, "invalid_token", "the token's algorithm is not accepted"}
	errCrit         = &authError{401, "invalid_token", "the token has critical header parameters this gateway does not understand"}
	errUnknownKey   = &authError{401, "invalid_token", "no key matches the token's key id"}
	errSignature    = &authError{401, "invalid_token", "the token's signature is invalid"}
	errExpired      = &authError{401, "invalid_token", "the token has expired"}
	errNoExp        = &authError{401, "invalid_token", "the token has no expiry"}
	errNotYet       = &authError{401, "invalid_token", "the token is not valid yet"}
	errFutureIat    = &authError{401, "invalid_token", "the token was issued in the future"}
	errTooOld       = &authError{401, "invalid_token", "the token is too old"}
	errIssuer       = &authError{401, "invalid_token", "the token's issuer is not accepted"}
	errAudience     = &authError{401, "invalid_token", "the token's audience is not accepted"}
	errTimeClaims   = &authError{401, "invalid_token", "the token's exp, nbf or iat is not a number"}
	errClaims       = &authError{403, "", ""}
	errScope        = &authError{403, "insufficient_scope", "the token lacks a required scope"}
	errKeysNotReady = &authError{401, "invalid_token", "the signing keys are not available"}
)

// header is the JOSE header, as far as verification needs it.
type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// parsed is a JWS in compact serialization whose parts decoded; nothing
// about it is trusted yet.
type parsed struct {
	header
	signed  []byte // the ASCII header.payload the signature covers
	payload []byte // decoded, not parsed
	sig     []byte
}

// parseToken splits and decodes a compact JWS: exactly three base64url
// parts (no padding, canonical), a JSON header with a supported alg and
// no "crit". The payload is parsed only after the signature is verified.
func parseToken(tok string, maxBytes int) (*parsed, *authError) {
	if len(tok) > maxBytes {
		return nil, errTooLarge
	}
	i := strings.IndexByte(tok, '.')
	j := strings.LastIndexByte(tok, '.')
	if i < 0 || i == j || strings.IndexByte(tok[i+1:j], '.') >= 0 {
		return nil, errMalformed // not three parts (JWE has five)
	}
	hb, err1 := b64url.DecodeString(tok[:i])
	pb, err2 := b64url.DecodeString(tok[i+1 : j])
	sig, err3 := b64url.DecodeString(tok[j+1:])
	if err1 != nil || err2 != nil || err3 != nil || len(hb) == 0 || len(pb) == 0 {
		return nil, errMalformed
	}
	p := &parsed{signed: []byte(tok[:j]), payload: pb, sig: sig}
	if err := json.Unmarshal(hb, &p.header); err != nil {
		return nil, errMalformed
	}
	if _, ok := algHash[p.Alg]; !ok { // "none", "", unknown
		return nil, errAlg
	}
	if len(p.Crit) > 0 && string(p.Crit) != "null" {
		return nil, errCrit
	}
	if len(sig) == 0 {
		return nil, errSignature
	}
	return p, nil
}

// checkClaims parses the verified payload and checks the registered
// claims, then the required claims and scopes.
func (c *config) checkClaims(payload []byte, now int64) (map[string]any, *authError) {
	var claims map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil || claims == nil || dec.More() {
		return nil, errMalformed
	}
	exp, hasExp, ok1 := numericDate(claims, "exp")
	nbf, hasNbf, ok2 := numericDate(claims, "nbf")
	iat, hasIat, ok3 := numericDate(claims, "iat")
	if !ok1 || !ok2 || !ok3 {
		return nil, errTimeClaims
	}
	switch {
	case !hasExp && c.requireExp:
		return nil, errNoExp
	case hasExp && now >= exp+c.skew:
		return nil, errExpired
	case hasNbf && now+c.skew < nbf:
		return nil, errNotYet
	case hasIat && now+c.skew < iat:
		return nil, errFutureIat
	case c.maxAge > 0 && (!hasIat || now-c.skew > iat+c.maxAge):
		return nil, errTooOld
	}
	if len(c.issuers) > 0 {
		iss, _ := claims["iss"].(string)
		if !slices.Contains(c.issuers, iss) {
			return nil, errIssuer
		}
	}
	if len(c.audiences) > 0 && !c.audienceOK(claims["aud"]) {
		return nil, errAudience
	}
	for _, name := range c.claims {
		if v, ok := claims[name]; !ok || v == nil {
			return nil, errClaims
		}
	}
	if len(c.scopes) > 0 {
		have := scopesOf(claims, c.scopeClaim)
		for _, s := range c.scopes {
			if !slices.Contains(have, s) {
				return nil, errScope
			}
		}
	}
	return claims, nil
}

// numericDate reads a NumericDate claim (RFC 7519 2): seconds, possibly
// fractional. ok is false when present but not a finite number.
func numericDate(claims map[string]any, name string) (v int64, present, ok bool) {
	raw, present := claims[name]
	if !present {
		return 0, false, true
	}
	n, isNum := raw.(json.Number)
	if !isNum {
		return 0, true, false
	}
	if i, err := n.Int64(); err == nil {
		return i, true, true
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > 1e15 || f < -1e15 {
		return 0, true, false
	}
	return int64(math.Floor(f)), true, true
}

func (c *config) audienceOK(aud any) bool {
	switch a := aud.(type) {
	case string:
		return slices.Contains(c.audiences, a)
	case []any:
		for _, v := range a {
			if s, ok := v.(string); ok && slices.Contains(c.audiences, s) {
				return true
			}
		}
	}
	return false
}

// scopesOf reads the granted scopes: the configured claim, else "scope"
// (a space-separated string, RFC 8693) and "scp" (a string or an array,
// as Azure AD and Okta issue).
func scopesOf(claims map[string]any, claim string) []string {
	names := []string{"scope", "scp"}
	if claim != "" {
		names = []string{claim}
	}
	var out []string
	for _, n := range names {
		switch v := claims[n].(type) {
		case string:
			out = append(out, strings.Fields(v)...)
		case []any:
			for _, s := range v {
				if s, ok := s.(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// claimText renders a claim for a header or a property: strings as they
// are, numbers and booleans as JSON, arrays of strings joined with ",",
// anything else as compact JSON.
func claimText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				b, _ := json.Marshal(v)
				return string(b)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ",")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// headerSafe reports whether s can be sent as a header value.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 && b != '\t' || b == 0x7f {
			return false
		}
	}
	return len(s) <= 4096
}
