package wasm

import (
	"strings"
	"testing"
)

// TestEqualFold: the ASCII fast path agrees with strings.EqualFold on
// names of equal length, non-ASCII ones included.
func TestEqualFold(t *testing.T) {
	for _, tc := range [][2]string{
		{"x-a", "x-a"}, {"x-a", "X-A"}, {"x-a", "x-b"}, {"Content-Type", "content-type"},
		{"content-type", "content-typf"}, {"@", "`"}, {"[", "{"}, {"é-x", "É-x"}, {"é-x", "é-X"},
		{"éa", "éb"}, {"\xc3\xa9", "\xc3\xa8"}, {"a\xff", "A\xff"}, {"", ""},
	} {
		a, b := tc[0], tc[1]
		if len(a) != len(b) {
			t.Fatalf("bad case %q %q: lengths differ", a, b)
		}
		if got, want := equalFold(a, b), strings.EqualFold(a, b); got != want {
			t.Errorf("equalFold(%q, %q) = %v, strings.EqualFold says %v", a, b, got, want)
		}
	}
}

// TestFieldsKeys: names compare without regard to case in every
// operation, and are stored in lower case.
func TestFieldsKeys(t *testing.T) {
	f := NewFields([][2]string{{"Content-Type", "a"}, {"X-Two", "1"}, {"x-two", "2"}})
	if v, ok := f.Get("content-TYPE"); !ok || v != "a" {
		t.Fatalf("Get: %q %v", v, ok)
	}
	f.Set("X-TWO", "3")
	f.Add("X-New", "n")
	f.Del("CONTENT-type")
	want := [][2]string{{"x-two", "3"}, {"x-new", "n"}}
	if len(f.Pairs) != len(want) {
		t.Fatalf("pairs %q, want %q", f.Pairs, want)
	}
	for i := range want {
		if f.Pairs[i] != want[i] {
			t.Fatalf("pairs %q, want %q", f.Pairs, want)
		}
	}
}
