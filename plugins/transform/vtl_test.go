package main

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// fakeEnv is a vtlEnv and sourceEnv without a host.
type fakeEnv struct {
	body    string
	params  map[string]string
	context map[string]string
	stage   map[string]string
	headers map[string][]string
	query   map[string][]string
}

func (f *fakeEnv) bodyText() string       { return f.body }
func (f *fakeEnv) bodyJSON() (any, error) { return parseJSONBody([]byte(f.body)) }
func (f *fakeEnv) param(n string) string  { return f.params[n] }
func (f *fakeEnv) contextVar(n string) string {
	return f.context[n]
}
func (f *fakeEnv) stageVariable(n string) string { return f.stage[n] }
func (f *fakeEnv) stageVar(n string) (string, bool) {
	v, ok := f.stage[n]
	return v, ok
}
func (f *fakeEnv) headerValues(n string) []string { return f.headers[n] }
func (f *fakeEnv) queryValues(n string) []string  { return f.query[n] }
func (f *fakeEnv) pathParam(n string) (string, bool) {
	v, ok := f.params[n]
	return v, ok
}

const testBody = `{"a":{"b":[1,2,{"c":"x\"y"}]},"n":1.50,"t":true,"s":"str","u":"é/'","nil":null,"odd key":"k"}`

func env() *fakeEnv {
	return &fakeEnv{
		body:    testBody,
		params:  map[string]string{"id": "42"},
		context: map[string]string{"requestId": "req-1", "stage": "prod", "identity.sourceIp": "203.0.113.9"},
		stage:   map[string]string{"backend": "http://b"},
		headers: map[string][]string{"x-a": {"1", "2"}},
		query:   map[string][]string{"q": {"a", "b"}},
	}
}

func TestVTLRender(t *testing.T) {
	t.Parallel()
	tests := []struct{ template, want string }{
		{`$input.json('$.a.b[2]')`, `{"c":"x\"y"}`},
		{`$input.json('$')`, `{"a":{"b":[1,2,{"c":"x\"y"}]},"n":1.50,"nil":null,"odd key":"k","s":"str","t":true,"u":"é/'"}`},
		{`$input.json("$.a.b[-1].c")`, `"x\"y"`},
		{`$input.json('$.missing')`, `null`},
		{`$input.json('$.a.b[9]')`, `null`},
		{`$input.path('$.s')|$input.path('$.n')|$input.path('$.t')|$input.path('$.nil')|$input.path('$.missing')`, `str|1.50|true||`},
		{`$input.path('$.a')`, `{"b":[1,2,{"c":"x\"y"}]}`},
		{`$input.path("$['odd key']")`, `k`},
		{`$input.body`, testBody},
		{`id=$input.params('id') other=$input.params('nope').`, `id=42 other=.`},
		{`$context.requestId ${context.stage} $!{context.stage} $!context.stage $context.identity.sourceIp.`, `req-1 prod prod prod 203.0.113.9.`},
		{`$stageVariables.backend/$stageVariables.missing`, `http://b/`},
		{`$util.escapeJavaScript($input.path('$.u'))`, `\u00E9\/\'`},
		{`$util.escapeJavaScript($input.json('$.a.b[2]'))`, `{\"c\":\"x\\\"y\"}`},
		{`$util.escapeJavaScript('tab	nl
😀 ` + "\u2028\x01" + `')`, `tab\tnl\n\uD83D\uDE00 \u2028\u0001`},
		{`$util.urlEncode('a b&c=d/é*~_.-')`, `a+b%26c%3Dd%2F%C3%A9*%7E_.-`},
		{`$util.urlDecode('a+b%26')|$util.urlDecode('%zz')`, `a b&|%zz`},
		{`$util.base64Encode('hi')|$util.base64Decode('aGk=')|$util.base64Decode('!!')`, `aGk=|hi|`},
		{`$util.urlEncode($util.escapeJavaScript($context.stage))`, `prod`},
		{"a ## comment\nb", "a b"},
		{"a #* block\n comment *#b", "a b"},
		{`#[[$input.body #set]]#`, `$input.body #set`},
		{`\$input.body \#set`, `$input.body #set`},
		{`price: $5, $ alone, $. $( $$, #fff, #end-less? no: "#ending"`, ``}, // see below
		{`{"email": "a@b", "color": "#fff", "cost": "$5"}`, `{"email": "a@b", "color": "#fff", "cost": "$5"}`},
	}
	for _, tt := range tests {
		tmpl, err := parseVTL(tt.template)
		if tt.want == "" && strings.HasPrefix(tt.template, "price") {
			// "#end-less" starts with the directive #end: rejected.
			if err == nil || !strings.Contains(err.Error(), "#end is not supported") {
				t.Errorf("%q: want #end rejected, got %v", tt.template, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.template, err)
			continue
		}
		got, err := tmpl.render(env())
		if err != nil {
			t.Errorf("%q: render: %v", tt.template, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%q\n got  %s\n want %s", tt.template, got, tt.want)
		}
	}
}

func TestVTLRejects(t *testing.T) {
	t.Parallel()
	tests := []struct{ template, reason string }{
		{`#set($a = 1)$a`, "#set is not supported"},
		{`#foreach($x in $input.path('$'))$x#end`, "#foreach is not supported"},
		{`x #{if}(true)y#{end}`, "#if is not supported"},
		{`$foo`, "$foo is not supported"},
		{`${foo.bar}`, "$foo is not supported"},
		{`$input.json('$.a').size()`, "method calls"},
		{`$input.body.length()`, "method calls"},
		{`$input.path('$.a')[0]`, "indexing"},
		{`$input.json('$..a')`, "recursive descent"},
		{`$input.json('$[*]')`, "wildcards"},
		{`$input.json('$.a[?(@.b)]')`, "filters"},
		{`$input.json('a.b')`, "must start with $"},
		{`$input.json()`, "quoted string"},
		{`$input.json('$.a', '$.b')`, "one argument only"},
		{`$input.json('$.a`, "unterminated string"},
		{`$input.json("$input.body")`, "double-quoted"},
		{`$input.params()`, "quoted string"},
		{`$input.params('')`, "empty"},
		{`$input.headers`, "$input.headers is not supported"},
		{`$input`, "$input alone"},
		{`$context.nope`, "$context.nope is not supported"},
		{`$context.identity.nope`, "$context.identity.nope is not supported"},
		{`$util.parseJson('{}')`, "$util.parseJson is not supported"},
		{`$util.urlEncode(5)`, "quoted string or a reference"},
		{`${input.body`, "missing }"},
		{`#* never closed`, "unterminated #*"},
		{`#[[ never closed`, "unterminated #["},
		{`$stageVariables.`, "missing the variable name"},
	}
	for _, tt := range tests {
		_, err := parseVTL(tt.template)
		if err == nil || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("%q: want an error mentioning %q, got %v", tt.template, tt.reason, err)
		}
	}
	// Errors say where.
	_, err := parseVTL("{\n  \"a\": $nope\n}")
	if err == nil || !strings.Contains(err.Error(), "line 2, column 8") {
		t.Errorf("position: %v", err)
	}
}

func TestVTLBadJSON(t *testing.T) {
	t.Parallel()
	tmpl, err := parseVTL(`{"a": $input.json('$.a')}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{`{"a":`, `not json`, `{"a":1} trailing`} {
		e := env()
		e.body = body
		_, err := tmpl.render(e)
		var bj *errBadJSON
		if !errors.As(err, &bj) {
			t.Errorf("%q: got %v, want errBadJSON", body, err)
		}
	}
	// An empty body is {}; $input.body never parses.
	e := env()
	e.body = "  "
	if got, err := tmpl.render(e); err != nil || got != `{"a": null}` {
		t.Errorf("empty body: %q %v", got, err)
	}
	raw, _ := parseVTL(`$input.body`)
	e.body = "{oops"
	if got, err := raw.render(e); err != nil || got != "{oops" {
		t.Errorf("raw body: %q %v", got, err)
	}
}

func TestSources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr     string
		response bool
		want     []string
	}{
		{"'lit'", false, []string{"lit"}},
		{"method.request.header.X-A", false, []string{"2"}},
		{"method.request.multivalueheader.x-a", false, []string{"1", "2"}},
		{"method.request.querystring.q", false, []string{"b"}},
		{"method.request.multivaluequerystring.q", false, []string{"a", "b"}},
		{"method.request.path.id", false, []string{"42"}},
		{"method.request.path.nope", false, nil},
		{"method.request.body", false, []string{testBody}},
		{"method.request.body.s", false, []string{"str"}},
		{"method.request.body.$.a.b[0]", false, []string{"1"}},
		{"method.request.body.a.b[2]", false, []string{`{"c":"x\"y"}`}},
		{"method.request.body.nil", false, nil},
		{"context.requestId", false, []string{"req-1"}},
		{"stageVariables.backend", false, []string{"http://b"}},
		{"stageVariables.nope", false, nil},
		{"integration.response.header.x-a", true, []string{"2"}},
		{"integration.response.multivalueheader.x-a", true, []string{"1", "2"}},
		{"integration.response.body.n", true, []string{"1.50"}},
	}
	for _, tt := range tests {
		s, err := parseSource(tt.expr, tt.response)
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		got := s.eval(env())
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("%s = %q, want %q", tt.expr, got, tt.want)
		}
	}
	for _, bad := range []struct {
		expr     string
		response bool
	}{
		{"method.request.header.", false}, {"method.request.cookie.a", false}, {"integration.response.header.a", false},
		{"method.request.header.a", true}, {"context.nope", false}, {"method.request.body.a..b", false},
		{"'a\nb'", false}, {"method.request.header.a b", false}, {"", false},
	} {
		if _, err := parseSource(bad.expr, bad.response); err == nil {
			t.Errorf("%q (response %v): accepted", bad.expr, bad.response)
		}
	}
}

func TestSelectResponse(t *testing.T) {
	t.Parallel()
	s, err := parseSpec([]byte(`{"responses":[{"pattern":"default","status":502},{"pattern":"2","status":201},{"pattern":"4\\d\\d|500","status":400}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"2": 201, "200": 502, "404": 400, "500": 400, "503": 502, "x2": 502}
	for status, code := range want {
		if r := s.selectResponse(status); r == nil || r.status != code {
			t.Errorf("%s: got %+v, want status %d", status, r, code)
		}
	}
}

func TestSelectTemplate(t *testing.T) {
	t.Parallel()
	s, err := parseSpec([]byte(`{"responses":[{"pattern":"default","templates":{"application/xml":"x","Application/JSON":"j","text/plain":"t"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := s.responses[0]
	tests := map[string]string{
		"":                                  "application/json",
		"text/html":                         "application/json",
		"application/xml":                   "application/xml",
		"text/html, text/plain;q=0.5":       "text/plain",
		"application/xml;q=0.2, text/plain": "text/plain",
		"*/*":                               "application/json",
		"application/xml;q=0":               "application/json",
	}
	for accept, want := range tests {
		if got, _ := r.selectTemplate(accept); got != want {
			t.Errorf("Accept %q: %s, want %s", accept, got, want)
		}
	}
	s, _ = parseSpec([]byte(`{"responses":[{"pattern":"default","templates":{"text/plain":"t","application/xml":"x"}}]}`))
	if got, _ := s.responses[0].selectTemplate(""); got != "application/xml" {
		t.Errorf("without application/json: %s, want the first type", got)
	}
}

// TestDocs: the README's configuration example is accepted and schema.json
// is JSON.
func TestDocs(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```json\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no JSON example in README.md")
	}
	if _, err := parseSpec([]byte(example)); err != nil {
		t.Errorf("the README example is rejected: %v", err)
	}
	schema, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(schema) {
		t.Error("schema.json is not valid JSON")
	}
}
