package config

import (
	"strings"
	"testing"
	"time"
)

// TestParseHostileYAML feeds documents that expand without bound or refer
// to themselves: each must fail fast with a precise error.
func TestParseHostileYAML(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i, name := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		prev := string(rune('a' + i))
		bomb += name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
	}
	tests := []struct {
		name, doc, want string
	}{
		{"alias cycle", "a: &a [*a, *a]", "hostile.yaml:1:8: the alias *a refers to a node that contains it"},
		{"nested alias cycle", "x: &x\n  <<: {y: *x}", "hostile.yaml:2:11: the alias *x refers to a node that contains it"},
		{"merge cycle", "a: &a {b: 1, <<: *a}", "hostile.yaml:1:4: the merge key (<<) at this line merges a mapping into itself or expands too far"},
		{"merge list cycle", "a: &a {<<: [*a]}", "hostile.yaml:1:12: the merge key (<<) at this line merges a mapping into itself or expands too far"},
		{"billion laughs", bomb, "the document is too large or too deeply nested once YAML aliases are expanded"},
		{"deep nesting", "a: " + strings.Repeat("[", 1500) + strings.Repeat("]", 1500), "the document is too large or too deeply nested once YAML aliases are expanded"},
		{"not UTF-8", "openapi: \xff\xfe", "hostile.yaml: the document is not valid UTF-8 text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse("hostile.yaml", []byte(tt.doc))
			if err == nil {
				t.Fatal("Parse accepted the document")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Parse took %v", d)
			}
		})
	}
}
