package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"mime"
	"net/url"
	"sort"
	"strings"
)

// config is the parsed configuration:
//
//	{"status": 200, "headers": {"content-type": "application/json"}, "body": "..."}
type config struct {
	status  int
	headers []header // sorted by name
	body    template
}

type header struct {
	name  string
	value template
}

// rawConfig is the JSON form; unknown fields are errors.
type rawConfig struct {
	Status  *int              `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// parseConfig decodes and validates the configuration. An empty
// configuration means {}: 200 with no headers and an empty body.
func parseConfig(data []byte) (*config, error) {
	var raw rawConfig
	if len(bytes.TrimSpace(data)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf(`configuration is not valid JSON for mock (want {"status":200,"headers":{...},"body":"..."}): %w`, err)
		}
		if dec.More() {
			return nil, errors.New("configuration: unexpected data after the JSON object")
		}
	}
	c := &config{status: 200}
	if raw.Status != nil {
		s := *raw.Status
		switch {
		case s < 100 || s > 599:
			return nil, fmt.Errorf(`configuration: "status" %d is not an HTTP status; use 200..599`, s)
		case s < 200:
			return nil, fmt.Errorf(`configuration: "status" %d is informational and cannot be a final response; use 200..599`, s)
		}
		c.status = s
	}
	esc := escapeNone
	for name, value := range raw.Headers {
		lname := strings.ToLower(name)
		if !validHeaderName(lname) {
			return nil, fmt.Errorf(`configuration: "headers": %q is not a valid header name (an HTTP token, not a pseudo-header)`, name)
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return nil, fmt.Errorf(`configuration: "headers": %q is not a valid header value: it contains CR, LF or NUL`, name)
		}
		switch lname {
		case "content-length", "transfer-encoding", "connection":
			return nil, fmt.Errorf(`configuration: "headers": %q is set by the gateway; remove it`, name)
		}
		t, err := parseTemplate(value)
		if err != nil {
			return nil, fmt.Errorf(`configuration: "headers": %q: %w`, name, err)
		}
		c.headers = append(c.headers, header{name: lname, value: t})
		if lname == "content-type" {
			esc = escapeFor(value)
		}
	}
	sort.Slice(c.headers, func(i, j int) bool { return c.headers[i].name < c.headers[j].name })
	for i := 1; i < len(c.headers); i++ {
		if c.headers[i].name == c.headers[i-1].name {
			return nil, fmt.Errorf(`configuration: "headers": %q is given twice (names are case-insensitive)`, c.headers[i].name)
		}
	}
	body, err := parseTemplate(raw.Body)
	if err != nil {
		return nil, fmt.Errorf(`configuration: "body": %w`, err)
	}
	body.escape = esc
	c.body = body
	return c, nil
}

// lookuper resolves placeholders for one request.
type lookuper interface {
	lookup(kind placeholderKind, name string) string
}

// render builds the response headers and body for a request.
func (c *config) render(l lookuper) ([][2]string, []byte) {
	headers := make([][2]string, 0, len(c.headers))
	for _, h := range c.headers {
		v := h.value.render(l)
		// A request value must not split the header.
		v = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == 0 {
				return ' '
			}
			return r
		}, v)
		headers = append(headers, [2]string{h.name, v})
	}
	return headers, []byte(c.body.render(l))
}

// placeholderKind is what a ${...} placeholder reads.
type placeholderKind uint8

const (
	phLiteral       placeholderKind = iota
	phRequestPath                   // ${request.path}: path and query
	phRequestMethod                 // ${request.method}
	phRequestID                     // ${request.id}
	phStage                         // ${stage}: the stage name
	phRoute                         // ${route.NAME}: a path parameter
	phStageVar                      // ${stage.NAME}: a stage variable
	phHeader                        // ${header.NAME}: a request header
	phQuery                         // ${query.NAME}: a query parameter
)

// escapeMode is how values are inserted into the body, chosen from the
// configured content-type so a request value cannot break the document.
type escapeMode uint8

const (
	escapeNone escapeMode = iota // verbatim
	escapeJSON                   // inside a JSON string: \" \\ \n \u0000 ...
	escapeHTML                   // HTML/XML: &lt; &amp; &#34; ...
)

func escapeFor(contentType string) escapeMode {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return escapeJSON
	case mt == "text/html" || mt == "text/xml" || mt == "application/xml" || strings.HasSuffix(mt, "+xml"):
		return escapeHTML
	}
	return escapeNone
}

type part struct {
	kind placeholderKind
	text string // literal text, or the NAME of a placeholder
}

// template is a string with ${...} placeholders.
type template struct {
	parts  []part
	escape escapeMode
}

// parseTemplate splits s into literal text and placeholders. "$${" is a
// literal "${"; a "$" not followed by "{" is literal.
func parseTemplate(s string) (template, error) {
	var t template
	var lit strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			lit.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			lit.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return t, fmt.Errorf("unterminated placeholder at offset %d: %q has no closing }", i, truncate(s[i:], 40))
		}
		name := s[i+2 : i+end]
		p, err := parsePlaceholder(name)
		if err != nil {
			return t, err
		}
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{text: lit.String()})
			lit.Reset()
		}
		t.parts = append(t.parts, p)
		i += end + 1
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, part{text: lit.String()})
	}
	return t, nil
}

const placeholderList = "${request.path}, ${request.method}, ${request.id}, ${stage}, ${route.NAME}, ${stage.NAME}, ${header.NAME}, ${query.NAME}"

func parsePlaceholder(name string) (part, error) {
	switch name {
	case "request.path":
		return part{kind: phRequestPath}, nil
	case "request.method":
		return part{kind: phRequestMethod}, nil
	case "request.id":
		return part{kind: phRequestID}, nil
	case "stage":
		return part{kind: phStage}, nil
	}
	prefix, rest, _ := strings.Cut(name, ".")
	kinds := map[string]placeholderKind{"route": phRoute, "stage": phStageVar, "header": phHeader, "query": phQuery}
	if k, ok := kinds[prefix]; ok && rest != "" {
		if k == phHeader {
			rest = strings.ToLower(rest)
			if !validHeaderName(rest) {
				return part{}, fmt.Errorf("placeholder ${%s}: %q is not a valid header name", name, rest)
			}
		} else if strings.ContainsAny(rest, "{}$ \t\r\n") {
			return part{}, fmt.Errorf("placeholder ${%s}: %q is not a valid name", name, rest)
		}
		return part{kind: k, text: rest}, nil
	}
	return part{}, fmt.Errorf("unknown placeholder ${%s}; use %s", name, placeholderList)
}

func (t *template) render(l lookuper) string {
	if len(t.parts) == 1 && t.parts[0].kind == phLiteral {
		return t.parts[0].text
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.kind == phLiteral {
			b.WriteString(p.text)
			continue
		}
		v := l.lookup(p.kind, p.text)
		switch t.escape {
		case escapeJSON:
			b.WriteString(jsonInner(v))
		case escapeHTML:
			b.WriteString(html.EscapeString(v))
		default:
			b.WriteString(v)
		}
	}
	return b.String()
}

// jsonInner returns v escaped for the inside of a JSON string.
func jsonInner(v string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // a string always encodes (invalid UTF-8 becomes U+FFFD)
	out := bytes.TrimSpace(b.Bytes())
	return string(out[1 : len(out)-1])
}

// queryValue returns the first value of a query parameter in a raw query.
func queryValue(rawQuery, name string) string {
	for rawQuery != "" {
		var kv string
		kv, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(kv, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if k != name {
			continue
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			return uv
		}
		return v
	}
	return ""
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
