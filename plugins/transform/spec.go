package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"regexp"
	"sort"
	"strings"
)

// rawSpec is the configuration: exactly host/config.TransformSpec as JSON.
// Unknown fields are errors.
type rawSpec struct {
	Request   *rawRequest   `json:"request"`
	Responses []rawResponse `json:"responses"`
}

type rawRequest struct {
	Headers     map[string]string `json:"headers"`
	Query       map[string]string `json:"query"`
	Templates   map[string]string `json:"templates"`
	Passthrough string            `json:"passthrough"`
}

type rawResponse struct {
	Pattern   string            `json:"pattern"`
	Status    int               `json:"status"`
	Headers   map[string]string `json:"headers"`
	Templates map[string]string `json:"templates"`
}

// Passthrough behaviours.
const (
	whenNoMatch     = "when_no_match"
	whenNoTemplates = "when_no_templates"
	never           = "never"
)

// spec is the compiled configuration.
type spec struct {
	request   *requestSpec
	responses []*responseSpec // in order; the default one last
	// captureParams: a response template reads $input.params, so the
	// request's headers and query are kept for the response.
	captureParams bool
}

type requestSpec struct {
	headers     []mapping // sorted by target
	query       []mapping // sorted by target
	templates   map[string]*vtlTemplate
	passthrough string
	// bodyMappings: some header or query mapping reads the body.
	bodyMappings bool
}

type responseSpec struct {
	pattern   *regexp.Regexp // nil for "default"
	status    int
	headers   []mapping
	templates map[string]*vtlTemplate
	types     []string // template content types, sorted
	// bodyMappings: some header mapping reads the body.
	bodyMappings bool
}

// mapping sets one target (header or query parameter) from a source.
type mapping struct {
	target string
	src    source
}

func parseSpec(data []byte) (*spec, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New(`configuration is empty; want a TransformSpec such as {"request":{"headers":{"x-user":"method.request.header.x-user"}}}`)
	}
	var raw rawSpec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("configuration is not valid JSON for transform: %w", err)
	}
	if dec.More() {
		return nil, errors.New("configuration: unexpected data after the JSON object")
	}
	s := &spec{}
	if r := raw.Request; r != nil {
		rs, err := parseRequestSpec(r)
		if err != nil {
			return nil, err
		}
		s.request = rs
	}
	var def *responseSpec
	for i, r := range raw.Responses {
		rs, err := parseResponseSpec(&r)
		if err != nil {
			return nil, fmt.Errorf("configuration: responses[%d]: %w", i, err)
		}
		if rs.pattern == nil {
			if def != nil {
				return nil, fmt.Errorf(`configuration: responses[%d]: a second "default" response; keep one`, i)
			}
			def = rs
			continue
		}
		s.responses = append(s.responses, rs)
		for _, t := range rs.templates {
			s.captureParams = s.captureParams || t.usesParams
		}
	}
	if def != nil {
		s.responses = append(s.responses, def)
		for _, t := range def.templates {
			s.captureParams = s.captureParams || t.usesParams
		}
	}
	return s, nil
}

func parseRequestSpec(r *rawRequest) (*requestSpec, error) {
	rs := &requestSpec{passthrough: r.Passthrough}
	switch r.Passthrough {
	case "":
		rs.passthrough = whenNoMatch
	case whenNoMatch, whenNoTemplates, never:
	default:
		return nil, fmt.Errorf(`configuration: request.passthrough must be "when_no_match", "when_no_templates" or "never", not %q`, r.Passthrough)
	}
	var err error
	if rs.headers, err = parseMappings(r.Headers, "request.headers", true, false); err != nil {
		return nil, err
	}
	if rs.query, err = parseMappings(r.Query, "request.query", false, false); err != nil {
		return nil, err
	}
	for _, m := range append(append([]mapping(nil), rs.headers...), rs.query...) {
		rs.bodyMappings = rs.bodyMappings || m.src.needsBody()
	}
	if rs.templates, _, err = parseTemplates(r.Templates, "request.templates"); err != nil {
		return nil, err
	}
	return rs, nil
}

func parseResponseSpec(r *rawResponse) (*responseSpec, error) {
	rs := &responseSpec{status: r.Status}
	if r.Pattern == "" {
		return nil, errors.New(`"pattern" is required: a regular expression on the upstream status code, or "default"`)
	}
	if r.Pattern != "default" {
		re, err := regexp.Compile(`^(?:` + r.Pattern + `)$`)
		if err != nil {
			return nil, fmt.Errorf("bad pattern %q: %s", r.Pattern, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		rs.pattern = re
	}
	if r.Status != 0 && (r.Status < 200 || r.Status > 599) {
		return nil, fmt.Errorf(`"status" %d is not a final HTTP status; use 200..599, or 0 to keep the upstream's`, r.Status)
	}
	var err error
	if rs.headers, err = parseMappings(r.Headers, "headers", true, true); err != nil {
		return nil, err
	}
	for _, m := range rs.headers {
		rs.bodyMappings = rs.bodyMappings || m.src.needsBody()
	}
	if rs.templates, rs.types, err = parseTemplates(r.Templates, "templates"); err != nil {
		return nil, err
	}
	return rs, nil
}

// parseMappings compiles target → source expressions.
func parseMappings(m map[string]string, field string, headers, response bool) ([]mapping, error) {
	out := make([]mapping, 0, len(m))
	seen := map[string]bool{}
	for target, expr := range m {
		t := target
		if headers {
			t = strings.ToLower(target)
			if !validHeaderName(t) {
				return nil, fmt.Errorf("configuration: %s: %q is not a valid header name (an HTTP token, not a pseudo-header)", field, target)
			}
			switch t {
			case "content-length", "transfer-encoding", "connection", "host":
				return nil, fmt.Errorf("configuration: %s: %q is managed by the gateway and cannot be mapped", field, target)
			}
			if seen[t] {
				return nil, fmt.Errorf("configuration: %s: %q is mapped twice (header names are case-insensitive)", field, target)
			}
			seen[t] = true
		} else if t == "" {
			return nil, fmt.Errorf("configuration: %s: empty query parameter name", field)
		}
		src, err := parseSource(expr, response)
		if err != nil {
			return nil, fmt.Errorf("configuration: %s: %q: %w", field, target, err)
		}
		out = append(out, mapping{target: t, src: src})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].target < out[j].target })
	return out, nil
}

// parseTemplates compiles content type → template.
func parseTemplates(m map[string]string, field string) (map[string]*vtlTemplate, []string, error) {
	if len(m) == 0 {
		return nil, nil, nil
	}
	out := make(map[string]*vtlTemplate, len(m))
	var types []string
	for ct, src := range m {
		mt := strings.ToLower(strings.TrimSpace(ct))
		if typ, sub, ok := strings.Cut(mt, "/"); !ok || !validHeaderName(typ) || !validHeaderName(sub) || strings.Contains(mt, "*") {
			return nil, nil, fmt.Errorf("configuration: %s: %q is not a media type (type/subtype, without parameters)", field, ct)
		}
		if _, dup := out[mt]; dup {
			return nil, nil, fmt.Errorf("configuration: %s: %q is given twice (media types are case-insensitive)", field, ct)
		}
		t, err := parseVTL(src)
		if err != nil {
			return nil, nil, fmt.Errorf("configuration: %s[%q]: %w", field, ct, err)
		}
		out[mt] = t
		types = append(types, mt)
	}
	sort.Strings(types)
	return out, types, nil
}

// mediaType returns the lower-case media type of a Content-Type value
// without parameters, "" when there is none.
func mediaType(contentType string) string {
	if contentType == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(contentType, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	return mt
}

// selectResponse returns the response mapping for an upstream status: the
// first whose pattern matches, else the default one, else nil.
func (s *spec) selectResponse(status string) *responseSpec {
	for _, r := range s.responses {
		if r.pattern == nil || r.pattern.MatchString(status) {
			return r
		}
	}
	return nil
}

// selectTemplate picks a response template by the request's Accept header:
// the first accepted media type (by quality, then order) with a template;
// else application/json when there is one; else the first content type in
// alphabetical order.
func (r *responseSpec) selectTemplate(accept string) (string, *vtlTemplate) {
	if len(r.templates) == 0 {
		return "", nil
	}
	type pref struct {
		mt string
		q  float64
	}
	var prefs []pref
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if qs, ok := params["q"]; ok {
			if _, err := fmt.Sscanf(qs, "%g", &q); err != nil {
				q = 1
			}
		}
		if q > 0 {
			prefs = append(prefs, pref{mt, q})
		}
	}
	sort.SliceStable(prefs, func(i, j int) bool { return prefs[i].q > prefs[j].q })
	for _, p := range prefs {
		if t, ok := r.templates[p.mt]; ok {
			return p.mt, t
		}
	}
	if t, ok := r.templates["application/json"]; ok {
		return "application/json", t
	}
	return r.types[0], r.templates[r.types[0]]
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
