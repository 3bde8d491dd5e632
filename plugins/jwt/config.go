package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// rawConfig is the JSON configuration; unknown fields are errors.
type rawConfig struct {
	From            []rawSource       `json:"from"`
	Keys            []rawKey          `json:"keys"`
	JWKS            *rawJWKS          `json:"jwks"`
	Algorithms      []string          `json:"algorithms"`
	Issuers         []string          `json:"issuers"`
	Audiences       []string          `json:"audiences"`
	ClockSkew       *int              `json:"clock_skew_seconds"`
	MaxAge          int               `json:"max_age_seconds"`
	RequireExp      *bool             `json:"require_exp"`
	RequiredClaims  []string          `json:"required_claims"`
	RequiredScopes  []string          `json:"required_scopes"`
	ScopeClaim      string            `json:"scope_claim"`
	ClaimsToHeaders map[string]string `json:"claims_to_headers"`
	ClaimsProperty  string            `json:"claims_property"`
	RemoveToken     bool              `json:"remove_token"`
	Optional        bool              `json:"optional"`
	Realm           string            `json:"realm"`
	MaxTokenBytes   int               `json:"max_token_bytes"`
}

// rawSource is where a token is read: one of header (with an optional
// scheme), query or cookie.
type rawSource struct {
	Header string  `json:"header"`
	Scheme *string `json:"scheme"`
	Query  string  `json:"query"`
	Cookie string  `json:"cookie"`
}

// rawKey is a configured verification key: exactly one of pem, jwk,
// secret, secret_base64.
type rawKey struct {
	Kid          string          `json:"kid"`
	Alg          string          `json:"alg"`
	PEM          string          `json:"pem"`
	JWK          json.RawMessage `json:"jwk"`
	Secret       string          `json:"secret"`
	SecretBase64 string          `json:"secret_base64"`
}

type rawJWKS struct {
	URL                string `json:"url"`
	TTL                *int   `json:"ttl_seconds"`
	MinRefreshInterval *int   `json:"min_refresh_interval_seconds"`
	Timeout            *int   `json:"timeout_ms"`
}

// source kinds.
const (
	fromHeader = iota
	fromQuery
	fromCookie
)

type source struct {
	kind   int
	name   string // header (lower case), query parameter or cookie name
	scheme string // "bearer " (lower case, with the space) or ""
}

// config is the validated configuration.
type config struct {
	from        []source
	keys        []*key
	jwks        *jwksConfig
	algs        map[string]bool // nil: every algorithm a key allows
	issuers     []string
	audiences   []string
	skew        int64 // seconds
	maxAge      int64
	requireExp  bool
	claims      []string
	scopes      []string
	scopeClaim  string
	headers     []claimHeader
	props       string // json, each, both, none
	removeToken bool
	optional    bool
	realm       string
	maxToken    int
}

type claimHeader struct{ claim, header string }

type jwksConfig struct {
	url        string
	upstream   string // origin, the callout's upstream
	path       string
	authority  string
	ttl        time.Duration
	minRefresh time.Duration
	timeoutMS  uint32
}

var (
	stageVarRef = regexp.MustCompile(`^\$\{stageVariables\.([A-Za-z0-9_.-]+)\}$`)
	headerName  = regexp.MustCompile(`^[!#$%&'*+.^_|~0-9a-zA-Z-]+$`)
)

func parseConfig(data []byte) (*config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New(`configuration is empty; want at least {"keys": [...]} or {"jwks": {"url": "..."}}`)
	}
	var r rawConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("configuration is not valid JSON for jwt: %w", err)
	}
	if dec.More() {
		return nil, errors.New("configuration: trailing data after the JSON object")
	}
	c := &config{skew: 60, requireExp: true, scopeClaim: r.ScopeClaim, removeToken: r.RemoveToken,
		optional: r.Optional, realm: r.Realm, maxToken: 8192, props: "both", maxAge: int64(r.MaxAge)}
	if len(r.Keys) == 0 && r.JWKS == nil {
		return nil, errors.New(`configuration: give "keys" or "jwks" (or both): there is nothing to verify tokens with`)
	}
	if strings.ContainsAny(c.realm, "\"\\\r\n") {
		return nil, errors.New(`configuration: "realm" must not contain quotes, backslashes or line breaks`)
	}
	if err := c.parseSources(r.From); err != nil {
		return nil, err
	}
	for i, rk := range r.Keys {
		k, err := parseKey(rk)
		if err != nil {
			return nil, fmt.Errorf("configuration: keys[%d]: %w", i, err)
		}
		k.origin = fmt.Sprintf("keys[%d]", i)
		c.keys = append(c.keys, k)
	}
	if r.JWKS != nil {
		j, err := parseJWKSConfig(r.JWKS)
		if err != nil {
			return nil, err
		}
		c.jwks = j
	}
	if len(r.Algorithms) > 0 {
		c.algs = map[string]bool{}
		for i, a := range r.Algorithms {
			if _, ok := algHash[a]; !ok {
				return nil, fmt.Errorf(`configuration: algorithms[%d] %q: want one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 ("none" is never accepted)`, i, a)
			}
			c.algs[a] = true
		}
		for i, k := range c.keys {
			if !slices.ContainsFunc(k.algs, func(a string) bool { return c.algs[a] }) {
				return nil, fmt.Errorf(`configuration: keys[%d] can only verify %s, which "algorithms" does not allow`, i, strings.Join(k.algs, ", "))
			}
		}
	}
	if err := nonEmpty("issuers", r.Issuers); err != nil {
		return nil, err
	}
	if err := nonEmpty("audiences", r.Audiences); err != nil {
		return nil, err
	}
	c.issuers, c.audiences = r.Issuers, r.Audiences
	if r.ClockSkew != nil {
		if *r.ClockSkew < 0 || *r.ClockSkew > 3600 {
			return nil, fmt.Errorf(`configuration: "clock_skew_seconds" %d must be between 0 and 3600`, *r.ClockSkew)
		}
		c.skew = int64(*r.ClockSkew)
	}
	if r.MaxAge < 0 {
		return nil, fmt.Errorf(`configuration: "max_age_seconds" %d must not be negative`, r.MaxAge)
	}
	if r.RequireExp != nil {
		c.requireExp = *r.RequireExp
	}
	if err := nonEmpty("required_claims", r.RequiredClaims); err != nil {
		return nil, err
	}
	c.claims = r.RequiredClaims
	for i, s := range r.RequiredScopes {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			return nil, fmt.Errorf(`configuration: required_scopes[%d] %q must be a non-empty scope token (no spaces, quotes or backslashes)`, i, s)
		}
	}
	c.scopes = r.RequiredScopes
	for claim, h := range r.ClaimsToHeaders {
		if claim == "" {
			return nil, errors.New(`configuration: claims_to_headers: a claim name is empty`)
		}
		if !headerName.MatchString(h) {
			return nil, fmt.Errorf(`configuration: claims_to_headers[%q]: %q is not a valid header name`, claim, h)
		}
		lh := strings.ToLower(h)
		if lh == "host" || lh == "content-length" || lh == "transfer-encoding" || lh == "authorization" || lh == "cookie" {
			return nil, fmt.Errorf(`configuration: claims_to_headers[%q]: the header %q cannot be set from a claim`, claim, h)
		}
		c.headers = append(c.headers, claimHeader{claim: claim, header: lh})
	}
	slices.SortFunc(c.headers, func(a, b claimHeader) int { return strings.Compare(a.header, b.header) })
	for i := 1; i < len(c.headers); i++ {
		if c.headers[i].header == c.headers[i-1].header {
			return nil, fmt.Errorf(`configuration: claims_to_headers: the header %q is set from two claims`, c.headers[i].header)
		}
	}
	switch r.ClaimsProperty {
	case "":
	case "json", "each", "both", "none":
		c.props = r.ClaimsProperty
	default:
		return nil, fmt.Errorf(`configuration: "claims_property" %q: want "json", "each", "both" or "none"`, r.ClaimsProperty)
	}
	if r.MaxTokenBytes != 0 {
		if r.MaxTokenBytes < 64 || r.MaxTokenBytes > 65536 {
			return nil, fmt.Errorf(`configuration: "max_token_bytes" %d must be between 64 and 65536`, r.MaxTokenBytes)
		}
		c.maxToken = r.MaxTokenBytes
	}
	return c, nil
}

func nonEmpty(field string, list []string) error {
	for i, s := range list {
		if s == "" {
			return fmt.Errorf("configuration: %s[%d] is empty", field, i)
		}
	}
	return nil
}

func (c *config) parseSources(raw []rawSource) error {
	if len(raw) == 0 {
		c.from = []source{{kind: fromHeader, name: "authorization", scheme: "bearer "}}
		return nil
	}
	for i, s := range raw {
		n := 0
		for _, v := range []string{s.Header, s.Query, s.Cookie} {
			if v != "" {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf(`configuration: from[%d]: give exactly one of "header", "query" or "cookie"`, i)
		}
		switch {
		case s.Header != "":
			if !headerName.MatchString(s.Header) {
				return fmt.Errorf(`configuration: from[%d]: %q is not a valid header name`, i, s.Header)
			}
			src := source{kind: fromHeader, name: strings.ToLower(s.Header)}
			if s.Scheme == nil {
				if src.name == "authorization" {
					src.scheme = "bearer "
				}
			} else if *s.Scheme != "" {
				if !headerName.MatchString(*s.Scheme) {
					return fmt.Errorf(`configuration: from[%d]: scheme %q is not a single token`, i, *s.Scheme)
				}
				src.scheme = strings.ToLower(*s.Scheme) + " "
			}
			c.from = append(c.from, src)
		case s.Query != "":
			if s.Scheme != nil {
				return fmt.Errorf(`configuration: from[%d]: "scheme" applies to headers only`, i)
			}
			c.from = append(c.from, source{kind: fromQuery, name: s.Query})
		default:
			if s.Scheme != nil {
				return fmt.Errorf(`configuration: from[%d]: "scheme" applies to headers only`, i)
			}
			c.from = append(c.from, source{kind: fromCookie, name: s.Cookie})
		}
	}
	return nil
}

func parseKey(r rawKey) (*key, error) {
	n := 0
	for _, set := range []bool{r.PEM != "", len(r.JWK) > 0, r.Secret != "", r.SecretBase64 != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New(`give exactly one of "pem", "jwk", "secret" or "secret_base64"`)
	}
	if r.Alg != "" {
		if _, ok := algHash[r.Alg]; !ok {
			return nil, fmt.Errorf(`"alg" %q is not a supported algorithm ("none" is never accepted)`, r.Alg)
		}
	}
	var k *key
	var err error
	switch {
	case r.PEM != "":
		k, err = parsePEM(r.PEM)
	case len(r.JWK) > 0:
		var j jwk
		dec := json.NewDecoder(bytes.NewReader(r.JWK))
		if err := dec.Decode(&j); err != nil {
			return nil, fmt.Errorf("jwk: %w", err)
		}
		k, err = parseJWK(&j, true)
		if err == nil && r.Kid != "" && k.kid != "" && k.kid != r.Kid {
			return nil, fmt.Errorf(`"kid" %q differs from the JWK's kid %q`, r.Kid, k.kid)
		}
	default:
		s, b64 := r.Secret, r.SecretBase64 != ""
		if b64 {
			s = r.SecretBase64
		}
		if m := stageVarRef.FindStringSubmatch(s); m != nil {
			k = &key{stageVar: m[1], secretB64: b64, algs: []string{"HS256", "HS384", "HS512"}}
			break
		}
		if strings.Contains(s, "${") {
			return nil, fmt.Errorf(`secret %q: a reference must be the whole value, "${stageVariables.NAME}"`, s)
		}
		secret := []byte(s)
		if b64 {
			if secret, err = decodeBase64(s); err != nil {
				return nil, fmt.Errorf(`"secret_base64" is not base64: %w`, err)
			}
		}
		k, err = newSecretKey(secret)
	}
	if err != nil {
		return nil, err
	}
	if err := k.restrict(r.Alg); err != nil {
		return nil, err
	}
	if r.Kid != "" {
		k.kid = r.Kid
	}
	return k, nil
}

func parseJWKSConfig(r *rawJWKS) (*jwksConfig, error) {
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf(`configuration: jwks.url %q: want an absolute http or https URL`, r.URL)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	j := &jwksConfig{url: r.URL, upstream: u.Scheme + "://" + u.Host, path: path, authority: u.Host,
		ttl: 5 * time.Minute, minRefresh: 30 * time.Second, timeoutMS: 2000}
	if r.TTL != nil {
		if *r.TTL < 1 || *r.TTL > 86400 {
			return nil, fmt.Errorf(`configuration: "jwks.ttl_seconds" %d must be between 1 and 86400`, *r.TTL)
		}
		j.ttl = time.Duration(*r.TTL) * time.Second
	}
	if r.MinRefreshInterval != nil {
		if *r.MinRefreshInterval < 1 || *r.MinRefreshInterval > 86400 {
			return nil, fmt.Errorf(`configuration: "jwks.min_refresh_interval_seconds" %d must be between 1 and 86400`, *r.MinRefreshInterval)
		}
		j.minRefresh = time.Duration(*r.MinRefreshInterval) * time.Second
	}
	if r.Timeout != nil {
		if *r.Timeout < 10 || *r.Timeout > 60000 {
			return nil, fmt.Errorf(`configuration: "jwks.timeout_ms" %d must be between 10 and 60000`, *r.Timeout)
		}
		j.timeoutMS = uint32(*r.Timeout)
	}
	return j, nil
}
