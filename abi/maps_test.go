package abi

import (
	"bytes"
	"reflect"
	"testing"
)

func TestMapRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		pairs [][2]string
	}{
		{"empty", nil},
		{"one", [][2]string{{"a", "1"}}},
		{"spec example", [][2]string{{"a", "1"}, {"b", "22"}}},
		{"duplicates kept", [][2]string{{"set-cookie", "a=1"}, {"set-cookie", "b=2"}}},
		{"empty value", [][2]string{{":path", ""}, {"x", "y"}}},
		{"binary", [][2]string{{"k", "v\xff\x01"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := EncodeMap(tt.pairs)
			if len(b) != EncodedMapSize(tt.pairs) {
				t.Fatalf("size %d, EncodedMapSize %d", len(b), EncodedMapSize(tt.pairs))
			}
			got, err := DecodeMap(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.pairs) || (len(got) > 0 && !reflect.DeepEqual(got, tt.pairs)) {
				t.Fatalf("got %q, want %q", got, tt.pairs)
			}
		})
	}
}

func TestMapSpecBytes(t *testing.T) {
	// The example from the specification's Serialization section.
	want := []byte{2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0,
		'a', 0, '1', 0, 'b', 0, '2', '2', 0}
	if got := EncodeMap([][2]string{{"a", "1"}, {"b", "22"}}); !bytes.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestDecodeMapRejectsMalformed(t *testing.T) {
	good := EncodeMap([][2]string{{"a", "1"}, {"b", "22"}})
	tests := map[string][]byte{
		"short header":      {1, 0},
		"count too big":     {0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0},
		"truncated data":    good[:len(good)-1],
		"missing nul":       append(append([]byte{}, good[:len(good)-1]...), 'x'),
		"huge key length":   {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0},
		"sizes past buffer": {2, 0, 0, 0, 1, 0, 0, 0},
	}
	for name, b := range tests {
		if _, err := DecodeMap(b); err == nil {
			t.Errorf("%s: expected an error", name)
		}
	}
	for _, empty := range [][]byte{nil, {0}} {
		if p, err := DecodeMap(empty); err != nil || len(p) != 0 {
			t.Errorf("empty map %v: %v %v", empty, p, err)
		}
	}
}

func FuzzDecodeMap(f *testing.F) {
	f.Add(EncodeMap([][2]string{{"a", "1"}, {"b", "22"}}))
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		pairs, err := DecodeMap(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to a map that decodes the same.
		again, err := DecodeMap(EncodeMap(pairs))
		if err != nil || len(again) != len(pairs) {
			t.Fatalf("re-decode: %v %d/%d", err, len(again), len(pairs))
		}
	})
}

func TestPaths(t *testing.T) {
	if got := SplitPath([]byte("request\x00path\x00")); !reflect.DeepEqual(got, []string{"request", "path"}) {
		t.Fatal(got)
	}
	if got := DottedPath(EncodePath("wasmgate", "route", "params", "id")); got != "wasmgate.route.params.id" {
		t.Fatal(got)
	}
	if v, ok := DecodeInt64(EncodeInt64(-42)); !ok || v != -42 {
		t.Fatal(v, ok)
	}
}

func TestSignaturesAreComplete(t *testing.T) {
	for name, sig := range HostFunctions {
		if len(sig.Results) != 1 {
			t.Errorf("%s: every host function returns a status", name)
		}
	}
	if StatusUnimplemented.String() != "UNIMPLEMENTED" || Status(99).String() != "STATUS_99" {
		t.Fatal("status names")
	}
}
