package wasm

import (
	"bytes"
	"fmt"
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

// TestFieldsIntern: names and values written from guest memory are
// copies (the guest's bytes may change), keys in lower case, and earlier
// ones stay intact as the buffer fills and moves to a new chunk.
func TestFieldsIntern(t *testing.T) {
	f := &Fields{}
	guest := make([]byte, 64)
	var want [][2]string
	for i := range 100 {
		k := fmt.Sprintf("X-Header-%d", i)
		v := strings.Repeat(string(rune('a'+i%26)), i%40)
		n := copy(guest, k)
		copy(guest[n:], v)
		gk, gv := f.intern(guest[:n], guest[n:n+len(v)])
		clear(guest) // the guest reuses its memory
		f.Add(gk, gv)
		want = append(want, [2]string{strings.ToLower(k), v})
	}
	big := bytes.Repeat([]byte("v"), 3*internChunk)
	bk, bv := f.intern([]byte("Big"), big)
	big[0] = 'x'
	if bk != "big" || bv != strings.Repeat("v", 3*internChunk) {
		t.Fatalf("a write larger than a chunk: %q %d bytes", bk, len(bv))
	}
	for i, p := range want {
		if f.Pairs[i] != p {
			t.Fatalf("pair %d is %q, want %q", i, f.Pairs[i], p)
		}
	}
	if k, v := f.intern(nil, nil); k != "" || v != "" {
		t.Fatal("empty write")
	}
}
