package config

import (
	"errors"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "petstore.yaml", Line: 42, Column: 7, Path: "/paths/~1pets/get/x-wasmgate-pipeline/0/on_error", Reason: "must be fail_closed or fail_open"},
			"petstore.yaml:42:7: /paths/~1pets/get/x-wasmgate-pipeline/0/on_error: must be fail_closed or fail_open"},
		{Error{File: "a.yaml", Line: 3, Reason: "invalid YAML: x"}, "a.yaml:3: invalid YAML: x"},
		{Error{File: "a.yaml", Path: "/info", Reason: "r"}, "a.yaml: /info: r"},
		{Error{Path: "/info", Reason: "r"}, "/info: r"},
		{Error{Reason: "r"}, "r"},
		{Error{Line: 3, Column: 2, Reason: "r"}, "3:2: r"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	es := Errors{&tests[0].err, &tests[1].err}
	if got, want := es.Error(), tests[0].want+"\n"+tests[1].want; got != want {
		t.Errorf("Errors: got %q, want %q", got, want)
	}
	var e *Error
	if !errors.As(error(es), &e) || e != &tests[0].err {
		t.Error("errors.As does not reach the first *Error")
	}
}

func TestLocate(t *testing.T) {
	const doc = `openapi: 3.0.3
paths:
  /pets/{id}:
    get:
      x-wasmgate-pipeline:
        - plugin: cors
          on_error: maybe
        - &shared {plugin: jwt}
      tags: [a, b]
  /a~b:
    post: {}
alias: *shared
`
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatal(err)
	}
	root := n.Content[0]
	tests := []struct {
		ptr       string
		line, col int
	}{
		{"", 1, 1},
		{"/openapi", 1, 1},
		{"/paths", 2, 1},
		{"/paths/~1pets~1{id}/get/x-wasmgate-pipeline/0/on_error", 7, 11},
		{"/paths/~1pets~1{id}/get/x-wasmgate-pipeline/1", 8, 11},
		{"/paths/~1pets~1{id}/get/x-wasmgate-pipeline/1/plugin", 8, 20},
		{"/paths/~1pets~1{id}/get/tags/1", 9, 17},
		{"/paths/~1a~0b/post", 11, 5},
		{"/alias/plugin", 8, 20},                                // through an alias
		{"/paths/~1pets~1{id}/get/missing/deeper", 4, 5},        // nearest ancestor
		{"/paths/~1pets~1{id}/get/x-wasmgate-pipeline/7", 5, 7}, // index out of range
		{"/paths/~1pets~1{id}/get/x-wasmgate-pipeline/x", 5, 7}, // not an index
		{"/openapi/deeper", 1, 1},                               // below a scalar
	}
	for _, tt := range tests {
		line, col := locate(root, tt.ptr)
		if line != tt.line || col != tt.col {
			t.Errorf("locate(%q) = %d:%d, want %d:%d", tt.ptr, line, col, tt.line, tt.col)
		}
	}
}

func TestPointerTokens(t *testing.T) {
	if got := ptr("/paths", "/pets/{id}", "a~b"); got != "/paths/~1pets~1{id}/a~0b" {
		t.Errorf("ptr: %q", got)
	}
	got := splitPointer("/paths/~1pets~1{id}/a~0b/~01")
	want := []string{"paths", "/pets/{id}", "a~b", "~1"}
	if len(got) != len(want) {
		t.Fatalf("splitPointer: %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("splitPointer: %q, want %q", got, want)
		}
	}
}

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		path, canonical string
		params          []string
		err             string
	}{
		{path: "/", canonical: "/"},
		{path: "/pets", canonical: "/pets"},
		{path: "/pets/", canonical: "/pets"},
		{path: "/pets/{id}/toys/{toyId}", canonical: "/pets/{}/toys/{}", params: []string{"id", "toyId"}},
		{path: "/files/{proxy+}", canonical: "/files/{+}", params: []string{"proxy"}},
		{path: "/{proxy+}", canonical: "/{+}", params: []string{"proxy"}},
		{path: "pets", err: "must start with /"},
		{path: "/pets//toys", err: "empty segment"},
		{path: "/files/{proxy+}/meta", err: "must be the last segment"},
		{path: "/a{id}", err: "mixes text and a parameter"},
		{path: "/{id}.json", err: "mixes text and a parameter"},
		{path: "/{}", err: "bad parameter segment"},
		{path: "/{+}", err: "bad parameter segment"},
		{path: "/{a}/{a}", err: "appears twice"},
	}
	for _, tt := range tests {
		tpl, err := parseTemplate(tt.path)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want %q", tt.path, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		if tpl.canonical != tt.canonical || len(tpl.params) != len(tt.params) {
			t.Errorf("%s: canonical %q params %q", tt.path, tpl.canonical, tpl.params)
		}
	}
}

func TestTemplateNames(t *testing.T) {
	tests := []struct {
		s     string
		names []string
		err   string
	}{
		{s: "https://b.example.com/pets/{id}", names: []string{"id"}},
		{s: "${stageVariables.backend}/{proxy}", names: []string{"proxy"}},
		{s: "https://b/{proxy+}?a=${stageVariables.x_1}", names: []string{"proxy"}},
		{s: "https://b/$x/{a}", names: []string{"a"}},
		{s: "${stageVariables.}", err: "malformed stage variable reference"},
		{s: "${stageVariables.a-b}", err: "malformed stage variable reference"},
		{s: "${context.requestId}", err: "malformed stage variable reference"},
		{s: "${stageVariables.a", err: "unterminated"},
		{s: "https://b/{id", err: "unterminated parameter"},
		{s: "https://b/{}", err: "bad parameter"},
		{s: "https://b/id}", err: "unmatched '}'"},
	}
	for _, tt := range tests {
		names, err := templateNames(tt.s)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want %q", tt.s, err, tt.err)
			}
			continue
		}
		if err != nil || len(names) != len(tt.names) || len(names) > 0 && names[0] != tt.names[0] {
			t.Errorf("%s: %q, %v", tt.s, names, err)
		}
	}
}
