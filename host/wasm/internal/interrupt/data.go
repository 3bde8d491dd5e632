package interrupt

import "sort"

// The Go linker emits tens of thousands of small active data segments
// (39,746 for a typical plugin, 1.3 MB in all), split wherever a run of
// zero bytes lies between two values. wazero keeps, per instance, a slice
// header for every segment (for memory.init): about 1 MB of pointers per
// instance of a standard-Go plugin, live on the Go heap of the host and
// scanned by every collection. So Instrument merges segments separated by
// at most mergeGap zero bytes, writing the zeros out: the plugin's memory
// after instantiation is the same byte for byte (fresh memory is zero), and
// the typical plugin is left with about a hundred segments for 0.7 MB more
// of data.

// mergeGap is the largest gap between two segments that is filled with
// zeros rather than kept as a segment boundary (the Go linker's gaps are
// mostly 16 to 32 bytes).
const mergeGap = 32

type dataSegment struct {
	offset uint32
	init   []byte
}

// mergeData returns the data section payload with adjacent active segments
// merged, or nil to keep it as it is: when a segment is passive, is not a
// constant i32 offset into memory 0, or when a zero-filled gap would land
// on bytes another segment writes (segments out of order or overlapping).
// The caller guarantees there is no data count section, so no instruction
// refers to a segment by index.
func mergeData(payload []byte) []byte {
	r := &reader{buf: payload}
	n, err := r.u32()
	if err != nil || n < 2 {
		return nil
	}
	segs := make([]dataSegment, 0, n)
	for i := uint32(0); i < n; i++ {
		flags, err := r.u32()
		if err != nil {
			return nil
		}
		switch flags {
		case 0:
		case 2:
			if mem, err := r.u32(); err != nil || mem != 0 {
				return nil
			}
		default:
			return nil // passive
		}
		if op, err := r.byte(); err != nil || op != 0x41 { // i32.const
			return nil
		}
		off, err := r.signed(32)
		if err != nil {
			return nil
		}
		if end, err := r.byte(); err != nil || end != 0x0b {
			return nil
		}
		size, err := r.u32()
		if err != nil {
			return nil
		}
		init, err := r.bytes(int(size))
		if err != nil {
			return nil
		}
		segs = append(segs, dataSegment{offset: uint32(int32(off)), init: init})
	}
	if !r.eof() {
		return nil
	}

	// Runs of segments in order, each starting where the previous ended or
	// at most mergeGap bytes later.
	type gap struct{ from, to uint64 }
	var runs [][]dataSegment
	var gaps []gap
	start := 0
	for i := 1; i <= len(segs); i++ {
		if i < len(segs) {
			prevEnd := uint64(segs[i-1].offset) + uint64(len(segs[i-1].init))
			if off := uint64(segs[i].offset); off >= prevEnd && off-prevEnd <= mergeGap {
				if off > prevEnd {
					gaps = append(gaps, gap{prevEnd, off})
				}
				continue
			}
		}
		runs = append(runs, segs[start:i])
		start = i
	}
	if len(runs) == len(segs) {
		return nil // nothing to merge
	}
	// No zero-filled gap may cover a byte some segment writes.
	byOffset := append([]dataSegment(nil), segs...)
	sort.Slice(byOffset, func(i, j int) bool { return byOffset[i].offset < byOffset[j].offset })
	maxEnd := make([]uint64, len(byOffset)) // of byOffset[:i+1]
	for i, s := range byOffset {
		maxEnd[i] = uint64(s.offset) + uint64(len(s.init))
		if i > 0 && maxEnd[i-1] > maxEnd[i] {
			maxEnd[i] = maxEnd[i-1]
		}
	}
	for _, g := range gaps {
		// Segments starting before the gap must end at or before it, and
		// none may start inside it.
		k := sort.Search(len(byOffset), func(i int) bool { return uint64(byOffset[i].offset) >= g.from })
		if k > 0 && maxEnd[k-1] > g.from {
			return nil
		}
		if k < len(byOffset) && uint64(byOffset[k].offset) < g.to {
			return nil
		}
	}

	out := appendU32(make([]byte, 0, len(payload)+len(payload)/2), uint32(len(runs)))
	for _, run := range runs {
		first, last := run[0], run[len(run)-1]
		size := uint64(last.offset) + uint64(len(last.init)) - uint64(first.offset)
		if size > 1<<32-1 {
			return nil
		}
		out = append(out, 0, 0x41)
		out = appendS32(out, int32(first.offset))
		out = append(out, 0x0b)
		out = appendU32(out, uint32(size))
		at := first.offset
		for _, s := range run {
			for ; at < s.offset; at++ {
				out = append(out, 0)
			}
			out = append(out, s.init...)
			at += uint32(len(s.init))
		}
	}
	return out
}
