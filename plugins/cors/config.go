package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// rawConfig is the JSON configuration; unknown fields are errors.
type rawConfig struct {
	AllowOrigins     []string `json:"allow_origins"`
	AllowMethods     []string `json:"allow_methods"`
	AllowHeaders     []string `json:"allow_headers"`
	ExposeHeaders    []string `json:"expose_headers"`
	AllowCredentials bool     `json:"allow_credentials"`
	MaxAgeSeconds    *int     `json:"max_age_seconds"`
}

// defaultMethods are answered when allow_methods is absent.
var defaultMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

// maxAgeLimit is the largest max_age_seconds (Firefox's cap; Chromium caps
// at 7200).
const maxAgeLimit = 86400

// policy is the validated configuration, precomputed for requests.
type policy struct {
	anyOrigin   bool             // "*" listed
	origins     map[string]bool  // exact origins, lower case
	wildcards   []wildcardOrigin // "https://*.example.com"
	anyMethod   bool             // allow_methods has "*"
	methods     map[string]bool  // upper case
	methodList  string           // Access-Control-Allow-Methods
	anyHeader   bool             // allow_headers has "*"
	headers     map[string]bool  // lower case; empty: echo what is asked
	headerList  string           // Access-Control-Allow-Headers when listed
	expose      string           // Access-Control-Expose-Headers
	credentials bool             // Access-Control-Allow-Credentials: true
	maxAge      string           // Access-Control-Max-Age, "" when not sent
}

// wildcardOrigin is an origin pattern with a "*." subdomain wildcard.
type wildcardOrigin struct {
	scheme string // "https://"
	suffix string // ".example.com" or ".example.com:8443"
}

func parseConfig(data []byte) (*policy, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New(`configuration is empty; want at least {"allow_origins":["https://app.example"]}`)
	}
	var c rawConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("configuration is not valid JSON for cors: %w", err)
	}
	if dec.More() {
		return nil, errors.New("configuration: unexpected data after the JSON object")
	}
	p := &policy{origins: map[string]bool{}, methods: map[string]bool{}, headers: map[string]bool{}, credentials: c.AllowCredentials}
	if len(c.AllowOrigins) == 0 {
		return nil, errors.New(`configuration: "allow_origins" must list at least one origin (or "*")`)
	}
	for _, o := range c.AllowOrigins {
		switch {
		case o == "*":
			if c.AllowCredentials {
				return nil, errors.New(`configuration: "allow_origins": "*" cannot be combined with allow_credentials (browsers reject it); list the origins`)
			}
			p.anyOrigin = true
		case strings.EqualFold(o, "null"):
			return nil, errors.New(`configuration: "allow_origins": "null" is the origin of sandboxed frames and local files, which any page can forge; list real origins`)
		default:
			w, exact, err := parseOrigin(o)
			if err != nil {
				return nil, err
			}
			if exact != "" {
				p.origins[exact] = true
			} else {
				p.wildcards = append(p.wildcards, w)
			}
		}
	}

	methods := c.AllowMethods
	if methods == nil {
		methods = defaultMethods
	}
	var list []string
	for _, m := range methods {
		if m == "*" {
			if c.AllowCredentials {
				return nil, errors.New(`configuration: "allow_methods": "*" is taken literally by browsers when credentials are allowed; list the methods`)
			}
			p.anyMethod = true
			continue
		}
		if !isToken(m) {
			return nil, fmt.Errorf(`configuration: "allow_methods": %q is not a method or header name`, m)
		}
		m = strings.ToUpper(m)
		if !p.methods[m] {
			p.methods[m] = true
			list = append(list, m)
		}
	}
	if p.anyMethod {
		p.methodList = "*"
	} else {
		p.methodList = strings.Join(list, ", ")
	}

	var err error
	if p.anyHeader, p.headerList, err = headerSet(c.AllowHeaders, p.headers, "allow_headers", c.AllowCredentials); err != nil {
		return nil, err
	}
	expose := map[string]bool{}
	if _, p.expose, err = headerSet(c.ExposeHeaders, expose, "expose_headers", c.AllowCredentials); err != nil {
		return nil, err
	}
	if c.MaxAgeSeconds != nil {
		if n := *c.MaxAgeSeconds; n < 0 || n > maxAgeLimit {
			return nil, fmt.Errorf(`configuration: "max_age_seconds" %d must be within 0..%d`, n, maxAgeLimit)
		}
		p.maxAge = strconv.Itoa(*c.MaxAgeSeconds)
	}
	return p, nil
}

// headerSet validates a list of header names into set and returns whether
// it has "*" and the list as a header value.
func headerSet(names []string, set map[string]bool, field string, credentials bool) (bool, string, error) {
	var list []string
	for _, h := range names {
		if h == "*" {
			if credentials {
				return false, "", fmt.Errorf(`configuration: %q: "*" is taken literally by browsers when credentials are allowed; list the header names`, field)
			}
			return true, "*", nil
		}
		if !isToken(h) {
			return false, "", fmt.Errorf("configuration: %q: %q is not a method or header name", field, h)
		}
		h = strings.ToLower(h)
		if !set[h] {
			set[h] = true
			list = append(list, h)
		}
	}
	return false, strings.Join(list, ", "), nil
}

// parseOrigin validates a configured origin: scheme://host[:port] with an
// optional leading "*." in the host. It returns the lower-case origin for
// an exact one, else the wildcard.
func parseOrigin(o string) (wildcardOrigin, string, error) {
	bad := func(why string) error {
		return fmt.Errorf(`configuration: "allow_origins": origin %q must look like https://host[:port] or https://*.domain, without a path (%s)`, o, why)
	}
	lo := strings.ToLower(o)
	scheme, hostport, ok := strings.Cut(lo, "://")
	if !ok || scheme != "http" && scheme != "https" {
		return wildcardOrigin{}, "", bad("the scheme must be http or https")
	}
	if hostport == "" || strings.ContainsAny(hostport, "/?#@ \t\r\n") {
		return wildcardOrigin{}, "", bad("no path, query, user info or spaces")
	}
	wild := strings.HasPrefix(hostport, "*.")
	if !validHostPort(strings.TrimPrefix(hostport, "*.")) {
		return wildcardOrigin{}, "", bad("bad host or port")
	}
	if wild {
		return wildcardOrigin{scheme: scheme + "://", suffix: hostport[1:]}, "", nil
	}
	return wildcardOrigin{}, lo, nil
}

// validHostPort checks host[:port] of an origin: letters, digits, "-" and
// "." (or a bracketed IPv6 address), and a numeric port.
func validHostPort(hp string) bool {
	host, port := hp, ""
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return false
		}
		host, port = hp[:end+1], hp[end+1:]
		for _, c := range host[1 : len(host)-1] {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == ':' || c == '.') {
				return false
			}
		}
	} else if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		host, port = hp[:i], hp[i:]
		if host == "" {
			return false
		}
		for _, c := range host {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
				return false
			}
		}
	} else {
		for _, c := range host {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
				return false
			}
		}
	}
	if host == "" || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") || strings.Contains(host, "..") {
		return false
	}
	if port != "" {
		if port[0] != ':' || len(port) < 2 || len(port) > 6 {
			return false
		}
		n, err := strconv.Atoi(port[1:])
		if err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	return true
}

// allowOriginFor returns the Access-Control-Allow-Origin value for a
// request's Origin, "" when the origin is not allowed.
func (p *policy) allowOriginFor(origin string) string {
	if len(origin) > 2048 {
		return ""
	}
	lo := strings.ToLower(origin)
	if p.origins[lo] {
		return origin
	}
	for _, w := range p.wildcards {
		if host, ok := strings.CutPrefix(lo, w.scheme); ok && strings.HasSuffix(host, w.suffix) && len(host) > len(w.suffix) {
			// Echoed back, so it must be a well-formed origin.
			if validHostPort(host) {
				return origin
			}
		}
	}
	if p.anyOrigin {
		return "*"
	}
	return ""
}

// safelistedMethods need no listing (Fetch: CORS-safelisted methods).
var safelistedMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true}

// safelistedHeaders need no listing when a browser names them.
var safelistedHeaders = map[string]bool{"accept": true, "accept-language": true, "content-language": true}

// preflight answers an OPTIONS preflight: 204 with the CORS headers, or
// 403 when the origin, method or a header is not allowed.
func (p *policy) preflight(origin, method, reqHeaders string) (uint32, [][2]string, []byte) {
	allow := p.allowOriginFor(origin)
	if allow == "" {
		return deny("origin not allowed")
	}
	m := strings.ToUpper(strings.TrimSpace(method))
	if !isToken(m) || !(p.anyMethod || p.methods[m] || safelistedMethods[m]) {
		return deny("method not allowed")
	}
	var asked []string
	for _, h := range strings.Split(reqHeaders, ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if !isToken(h) {
			return deny("malformed Access-Control-Request-Headers")
		}
		if len(p.headers) > 0 && !p.anyHeader && !p.headers[h] && !safelistedHeaders[h] {
			return deny("header " + h + " not allowed")
		}
		asked = append(asked, h)
	}
	h := [][2]string{
		{"access-control-allow-origin", allow},
		{"vary", "Origin"},
		{"vary", "Access-Control-Request-Method, Access-Control-Request-Headers"},
	}
	if p.methodList != "" {
		h = append(h, [2]string{"access-control-allow-methods", p.methodList})
	}
	switch {
	case p.headerList != "":
		h = append(h, [2]string{"access-control-allow-headers", p.headerList})
	case len(asked) > 0:
		// No list configured: allow what the browser asks for.
		h = append(h, [2]string{"access-control-allow-headers", strings.Join(asked, ", ")})
	}
	if p.credentials {
		h = append(h, [2]string{"access-control-allow-credentials", "true"})
	}
	if p.maxAge != "" {
		h = append(h, [2]string{"access-control-max-age", p.maxAge})
	}
	return 204, h, nil
}

func deny(why string) (uint32, [][2]string, []byte) {
	body, _ := json.Marshal(map[string]string{"message": "CORS preflight rejected: " + why})
	return 403, [][2]string{{"content-type", "application/json"}, {"vary", "Origin"}}, body
}

// isToken reports whether s is an HTTP token (method or header name).
func isToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
