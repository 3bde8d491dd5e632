package interrupt

import (
	"errors"
	"testing"
)

func TestReaderLEB(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		read func(r *reader) (int64, error)
		want int64
		n    int // bytes consumed
		err  bool
	}{
		// u32
		{name: "u32 0", in: []byte{0x00}, read: readU32, want: 0, n: 1},
		{name: "u32 127", in: []byte{0x7f}, read: readU32, want: 127, n: 1},
		{name: "u32 128", in: []byte{0x80, 0x01}, read: readU32, want: 128, n: 2},
		{name: "u32 padded", in: []byte{0x80, 0x80, 0x80, 0x80, 0x00}, read: readU32, want: 0, n: 5},
		{name: "u32 max", in: []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, read: readU32, want: 0xffffffff, n: 5},
		{name: "u32 33 bits", in: []byte{0xff, 0xff, 0xff, 0xff, 0x1f}, read: readU32, err: true},
		{name: "u32 6 bytes", in: []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, read: readU32, err: true},
		{name: "u32 truncated", in: []byte{0x80}, read: readU32, err: true},
		{name: "u32 empty", in: nil, read: readU32, err: true},
		// u64
		{name: "u64 2^35", in: []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, read: readU64, want: 1 << 35, n: 6},
		{name: "u64 max", in: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, read: readU64, want: -1, n: 10},
		{name: "u64 65 bits", in: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x03}, read: readU64, err: true},
		// s32
		{name: "s32 -1", in: []byte{0x7f}, read: readS(32), want: -1, n: 1},
		{name: "s32 63", in: []byte{0x3f}, read: readS(32), want: 63, n: 1},
		{name: "s32 64", in: []byte{0xc0, 0x00}, read: readS(32), want: 64, n: 2},
		{name: "s32 -64", in: []byte{0x40}, read: readS(32), want: -64, n: 1},
		{name: "s32 min", in: []byte{0x80, 0x80, 0x80, 0x80, 0x78}, read: readS(32), want: -1 << 31, n: 5},
		{name: "s32 max", in: []byte{0xff, 0xff, 0xff, 0xff, 0x07}, read: readS(32), want: 1<<31 - 1, n: 5},
		{name: "s32 unused bits not sign", in: []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, read: readS(32), err: true},
		{name: "s32 negative unused bits", in: []byte{0x80, 0x80, 0x80, 0x80, 0x70}, read: readS(32), err: true},
		{name: "s32 6 bytes", in: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, read: readS(32), err: true},
		// s33
		{name: "s33 0x40 is -64", in: []byte{0x40}, read: readS(33), want: -64, n: 1},
		{name: "s33 max u32", in: []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, read: readS(33), want: 0xffffffff, n: 5},
		{name: "s33 min", in: []byte{0x80, 0x80, 0x80, 0x80, 0x70}, read: readS(33), want: -1 << 32, n: 5},
		{name: "s33 out of range", in: []byte{0x80, 0x80, 0x80, 0x80, 0x20}, read: readS(33), err: true},
		// s64
		{name: "s64 min", in: []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}, read: readS(64), want: -1 << 63, n: 10},
		{name: "s64 max", in: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}, read: readS(64), want: 1<<63 - 1, n: 10},
		{name: "s64 bad last byte", in: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, read: readS(64), err: true},
		{name: "s64 11 bytes", in: []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, read: readS(64), err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &reader{buf: tc.in}
			got, err := tc.read(r)
			if tc.err {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("got %d, %v; want an ErrMalformed error", got, err)
				}
				return
			}
			if err != nil || got != tc.want || r.pos != tc.n {
				t.Fatalf("got %d, %v after %d bytes; want %d after %d", got, err, r.pos, tc.want, tc.n)
			}
		})
	}
}

func readU32(r *reader) (int64, error) { v, err := r.u32(); return int64(v), err }

func readU64(r *reader) (int64, error) { v, err := r.u64(); return int64(v), err }

func readS(bits int) func(r *reader) (int64, error) {
	return func(r *reader) (int64, error) { return r.signed(bits) }
}

func TestAppendLEB(t *testing.T) {
	for _, v := range []uint32{0, 1, 63, 64, 127, 128, 0x3fff, 0x4000, 0xffff, 1 << 28, 0xffffffff} {
		b := appendU32(nil, v)
		r := &reader{buf: b}
		if got, err := r.u32(); err != nil || got != v || !r.eof() || len(b) != sizeU32(v) {
			t.Errorf("appendU32(%d) = % x: decodes to %d, %v; size %d", v, b, got, err, sizeU32(v))
		}
	}
	for _, v := range []int32{0, 1, -1, 63, 64, -64, -65, 0xffff, -1 << 31, 1<<31 - 1} {
		b := appendS32(nil, v)
		r := &reader{buf: b}
		if got, err := r.signed(32); err != nil || got != int64(v) || !r.eof() {
			t.Errorf("appendS32(%d) = % x: decodes to %d, %v", v, b, got, err)
		}
	}
	if got := appendS32(nil, 0xffff); string(got) != "\xff\xff\x03" {
		t.Errorf("appendS32(0xffff) = % x, want ff ff 03", got)
	}
}
