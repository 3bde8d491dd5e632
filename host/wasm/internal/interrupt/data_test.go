package interrupt

import (
	"bytes"
	"testing"
)

// dataSection encodes active segments {offset, bytes} at i32 offsets in
// memory 0 (flags 0), or passive ones when offset < 0.
func dataSection(segs ...struct {
	off  int32
	init string
}) []byte {
	out := appendU32(nil, uint32(len(segs)))
	for _, s := range segs {
		if s.off < 0 {
			out = append(out, 1)
		} else {
			out = append(out, 0, 0x41)
			out = appendS32(out, s.off)
			out = append(out, 0x0b)
		}
		out = appendU32(out, uint32(len(s.init)))
		out = append(out, s.init...)
	}
	return out
}

type seg = struct {
	off  int32
	init string
}

func TestMergeData(t *testing.T) {
	tests := []struct {
		name   string
		segs   []seg
		merged int // segments after merging; 0: left as it is
	}{
		{"gaps filled", []seg{{100, "ab"}, {102, "cd"}, {110, "ef"}, {110 + 2 + mergeGap, "gh"}}, 1},
		{"a wider gap stays", []seg{{100, "ab"}, {100 + 2 + mergeGap + 1, "cd"}, {100 + 2 + mergeGap + 1 + 2, "x"}}, 2},
		{"out of order, gap over a segment", []seg{{100, "ab"}, {110, "cd"}, {105, "zz"}}, 0},
		{"overlap that a gap would erase", []seg{{100, "abcdefghij"}, {200, "x"}, {205, "y"}, {150, "0123456789012345678901234567890123456789012345678901234567"}}, 0},
		{"passive", []seg{{100, "ab"}, {-1, "cd"}, {104, "ef"}}, 0},
		{"single", []seg{{100, "ab"}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := dataSection(tc.segs...)
			out := mergeData(in)
			if tc.merged == 0 {
				if out != nil {
					t.Fatalf("merged, want the section left alone")
				}
				return
			}
			if out == nil {
				t.Fatal("not merged")
			}
			if n, _ := (&reader{buf: out}).u32(); int(n) != tc.merged {
				t.Fatalf("%d segments after merging, want %d", n, tc.merged)
			}
			if a, b := dataImage(t, in), dataImage(t, out); !bytes.Equal(a, b) {
				t.Fatalf("memory differs:\n% x\n% x", a, b)
			}
		})
	}
}
