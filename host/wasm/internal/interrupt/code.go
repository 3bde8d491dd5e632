package interrupt

import (
	"fmt"
	"math"
)

// Opcodes with immediates or structure that the walker cares about.
const (
	opUnreachable        = 0x00
	opBlock              = 0x02
	opLoop               = 0x03
	opIf                 = 0x04
	opElse               = 0x05
	opTry                = 0x06 // legacy exception handling
	opCatch              = 0x07 // legacy exception handling
	opThrow              = 0x08
	opRethrow            = 0x09 // legacy exception handling
	opThrowRef           = 0x0a
	opEnd                = 0x0b
	opBr                 = 0x0c
	opBrIf               = 0x0d
	opBrTable            = 0x0e
	opReturn             = 0x0f
	opCall               = 0x10
	opCallIndirect       = 0x11
	opReturnCall         = 0x12
	opReturnCallIndirect = 0x13
	opCallRef            = 0x14
	opReturnCallRef      = 0x15
	opDelegate           = 0x18 // legacy exception handling
	opCatchAll           = 0x19 // legacy exception handling
	opDrop               = 0x1a
	opSelect             = 0x1b
	opSelectTyped        = 0x1c
	opTryTable           = 0x1f
	opLocalGet           = 0x20
	opGlobalGet          = 0x23
	opGlobalSet          = 0x24
	opTableGet           = 0x25
	opTableSet           = 0x26
	opI32Load            = 0x28
	opI64Store32         = 0x3e
	opMemorySize         = 0x3f
	opMemoryGrow         = 0x40
	opI32Const           = 0x41
	opI64Const           = 0x42
	opF32Const           = 0x43
	opF64Const           = 0x44
	opI32Eqz             = 0x45 // first plain numeric op
	opI32Add             = 0x6a
	opI32And             = 0x71
	opI64Extend32S       = 0xc4 // last sign-extension op
	opRefNull            = 0xd0
	opRefIsNull          = 0xd1
	opRefFunc            = 0xd2
	opRefAsNonNull       = 0xd4
	opBrOnNull           = 0xd5
	opBrOnNonNull        = 0xd6
	opPrefixMisc         = 0xfc
	opPrefixSIMD         = 0xfd
	opPrefixAtomic       = 0xfe
)

// instrumentCode returns the new code section payload with prologue
// inserted at the start of every function body and every loop body, or nil
// when the section has no function (it is then copied unchanged).
func (m *module) instrumentCode(prologue []byte) ([]byte, error) {
	s := m.sections[m.code]
	r := &reader{buf: m.wasm[:s.end], pos: s.payload}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}

	var (
		out    []byte // new payload; nil until the first loop
		copied = s.payload
		loops  []int // offsets in wasm at which to insert the prologue
		w      walker
	)
	for i := uint32(0); i < n; i++ {
		entry := r.pos
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		body := r.pos
		if err := r.skip(int(size)); err != nil {
			return nil, err
		}
		fn := uint64(m.importedFuncs) + uint64(i)
		w.r = reader{buf: m.wasm[:r.pos], pos: body}
		if loops, err = w.walk(loops[:0]); err != nil {
			return nil, fmt.Errorf("function %d: %w", fn, err)
		}
		if out == nil {
			out = make([]byte, 0, s.end-s.payload+(s.end-s.payload)/4)
		}
		out = append(out, m.wasm[copied:entry]...)
		newSize := uint64(size) + uint64(len(loops))*uint64(len(prologue))
		if newSize > math.MaxUint32 {
			return nil, fmt.Errorf("function %d: instrumented body too large: %w", fn, ErrMalformed)
		}
		out = appendU32(out, uint32(newSize))
		at := body
		for _, l := range loops {
			out = append(out, m.wasm[at:l]...)
			out = append(out, prologue...)
			at = l
		}
		out = append(out, m.wasm[at:r.pos]...)
		copied = r.pos
	}
	if !r.eof() {
		return nil, r.errorf("%d trailing bytes", len(r.buf)-r.pos)
	}
	if out == nil {
		return nil, nil
	}
	out = append(out, m.wasm[copied:s.end]...)
	if uint64(len(out)) > math.MaxUint32 {
		return nil, fmt.Errorf("instrumented code section too large: %w", ErrMalformed)
	}
	return out, nil
}

// walker decodes one function body.
type walker struct {
	r reader
}

// walk decodes the locals and instructions of the body in w.r and appends
// to loops the offset (in the module) of the first instruction of each loop
// body. The body must end with the `end` that closes the function, exactly
// at the end of w.r.
func (w *walker) walk(loops []int) ([]int, error) {
	r := &w.r
	groups, err := r.u32()
	if err != nil {
		return loops, fmt.Errorf("locals: %w", err)
	}
	var locals uint64
	for ; groups > 0; groups-- {
		n, err := r.u32()
		if err != nil {
			return loops, fmt.Errorf("locals: %w", err)
		}
		// Runtimes allocate per declared local before validating; a body
		// declaring billions of locals must not reach them.
		if locals += uint64(n); locals > MaxLocals {
			return loops, fmt.Errorf("locals: more than %d declared: %w", MaxLocals, ErrMalformed)
		}
		if err := r.valType(); err != nil {
			return loops, fmt.Errorf("locals: %w", err)
		}
	}
	// The function's first instruction gets the check too, so recursion
	// without loops is interrupted as well; unless straight-line code
	// (no call, no branch) leads from it to a loop, whose check then runs
	// first: every function the Go compiler emits opens with its resume
	// loop, and a second check per call costs a tenth of such a guest's
	// time.
	entry := len(loops)
	loops = append(loops, r.pos)
	straight := true
	depth := 1 // the function body is a block
	for depth > 0 {
		at := r.pos
		op, err := r.byte()
		if err != nil {
			return loops, fmt.Errorf("body ends before its final end: %w", err)
		}
		if straight {
			switch op {
			case opLoop:
				loops = loops[:entry] // the loop's check comes first
				straight = false
			case opBlock, 0x01 /* nop */, opLocalGet, opLocalGet + 1 /* local.set */, opLocalGet + 2, /* local.tee */
				opGlobalGet, opGlobalSet, opI32Const, opI64Const:
			default:
				straight = false
			}
		}
		switch {
		case op >= opI32Eqz && op <= opI64Extend32S:
			// numeric ops without immediates, the most common case
		case op >= opLocalGet && op <= opTableSet:
			_, err = r.u32()
		case op >= opI32Load && op <= opI64Store32:
			err = r.memarg()
		default:
			switch op {
			case opUnreachable, 0x01 /* nop */, opElse, opReturn, opDrop, opSelect,
				opThrowRef, opCatchAll, opRefIsNull, opRefAsNonNull:
			case opBlock, opIf, opTry:
				err = r.blockType()
				depth++
			case opLoop:
				if err = r.blockType(); err == nil {
					loops = append(loops, r.pos)
				}
				depth++
			case opTryTable:
				if err = r.blockType(); err == nil {
					err = r.catchClauses()
				}
				depth++
			case opEnd:
				depth--
			case opDelegate:
				// delegate closes a legacy try block in place of end.
				if depth--; depth == 0 {
					err = r.errorf("delegate outside a try block")
				} else {
					_, err = r.u32()
				}
			case opBr, opBrIf, opCall, opReturnCall, opCallRef, opReturnCallRef,
				opThrow, opCatch, opRethrow, opRefFunc, opBrOnNull, opBrOnNonNull:
				_, err = r.u32()
			case opBrTable:
				var n uint32
				if n, err = r.u32(); err == nil {
					for k := uint64(0); k <= uint64(n) && err == nil; k++ {
						_, err = r.u32()
					}
				}
			case opCallIndirect, opReturnCallIndirect:
				if _, err = r.u32(); err == nil { // type index
					_, err = r.u32() // table index
				}
			case opSelectTyped:
				var n uint32
				if n, err = r.u32(); err == nil {
					for ; n > 0 && err == nil; n-- {
						err = r.valType()
					}
				}
			case opMemorySize, opMemoryGrow:
				_, err = r.u32() // memory index
			case opI32Const:
				_, err = r.signed(32)
			case opI64Const:
				_, err = r.signed(64)
			case opF32Const:
				err = r.skip(4)
			case opF64Const:
				err = r.skip(8)
			case opRefNull:
				err = r.heapType()
			case opPrefixMisc:
				err = r.misc(at)
			case opPrefixSIMD:
				err = r.simd(at)
			case opPrefixAtomic:
				err = r.atomic(at)
			default:
				return loops, unknown(at, op, -1)
			}
		}
		if err != nil {
			return loops, err
		}
	}
	if !r.eof() {
		return loops, r.errorf("%d bytes after the function's final end", len(r.buf)-r.pos)
	}
	return loops, nil
}

// unknown returns the error for an unknown opcode at offset at; sub is the
// sub-opcode after a prefix byte, or -1.
func unknown(at int, op byte, sub int64) error {
	if sub < 0 {
		return fmt.Errorf("offset %d: opcode 0x%02x: %w", at, op, ErrUnknownOpcode)
	}
	return fmt.Errorf("offset %d: opcode 0x%02x 0x%02x: %w", at, op, sub, ErrUnknownOpcode)
}

// memarg skips a memory argument: alignment, a memory index when bit 6 of
// the alignment is set (multi-memory), and the offset (u64 to allow
// memory64; a u32 encoding is a valid u64 encoding).
func (r *reader) memarg() error {
	align, err := r.u32()
	if err != nil {
		return err
	}
	if align&0x40 != 0 {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	_, err = r.u64()
	return err
}

// catchClauses skips the catch clauses of try_table.
func (r *reader) catchClauses() error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	for ; n > 0; n-- {
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case 0x00, 0x01: // catch tag label, catch_ref tag label
			if _, err := r.u32(); err != nil {
				return err
			}
		case 0x02, 0x03: // catch_all label, catch_all_ref label
		default:
			return r.errorf("invalid catch clause kind 0x%02x", kind)
		}
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

// misc skips the rest of a 0xFC-prefixed instruction starting at offset at:
// saturating truncations (0–7) and bulk memory and table operations (8–17).
func (r *reader) misc(at int) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub <= 7: // i32/i64.trunc_sat_f32/f64_s/u
		return nil
	case sub == 8, sub == 10, sub == 12, sub == 14:
		// memory.init data mem, memory.copy mem mem,
		// table.init elem table, table.copy table table
		if _, err := r.u32(); err != nil {
			return err
		}
		_, err = r.u32()
		return err
	case sub <= 17:
		// data.drop data, memory.fill mem, elem.drop elem,
		// table.grow/size/fill table
		_, err = r.u32()
		return err
	}
	return unknown(at, opPrefixMisc, int64(sub))
}

// simdGaps marks the sub-opcodes below 256 that the SIMD proposal leaves
// unassigned.
var simdGaps = [256]bool{
	0x9a: true, 0xa2: true, 0xa5: true, 0xa6: true, 0xaf: true,
	0xb0: true, 0xb2: true, 0xb3: true, 0xb4: true, 0xbb: true,
	0xc2: true, 0xc5: true, 0xc6: true, 0xcf: true, 0xd0: true,
	0xd2: true, 0xd3: true, 0xd4: true, 0xe2: true, 0xee: true,
}

// simd skips the rest of a 0xFD-prefixed instruction starting at offset at:
// the fixed-width SIMD instructions (0x00–0xFF) and relaxed SIMD
// (0x100–0x113).
func (r *reader) simd(at int) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub <= 0x0b, sub == 0x5c, sub == 0x5d:
		// v128.load*, v128.store, v128.load32/64_zero
		return r.memarg()
	case sub == 0x0c, sub == 0x0d:
		// v128.const, i8x16.shuffle
		return r.skip(16)
	case sub >= 0x15 && sub <= 0x22:
		// extract_lane, replace_lane
		return r.skip(1)
	case sub >= 0x54 && sub <= 0x5b:
		// v128.load/store{8,16,32,64}_lane
		if err := r.memarg(); err != nil {
			return err
		}
		return r.skip(1)
	case sub <= 0xff && !simdGaps[sub]:
		return nil
	case sub >= 0x100 && sub <= 0x113: // relaxed SIMD
		return nil
	}
	return unknown(at, opPrefixSIMD, int64(sub))
}

// atomic skips the rest of a 0xFE-prefixed instruction (threads proposal)
// starting at offset at.
func (r *reader) atomic(at int) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub <= 0x02, sub >= 0x10 && sub <= 0x4e:
		// memory.atomic.notify/wait32/wait64, loads, stores, rmw, cmpxchg
		return r.memarg()
	case sub == 0x03: // atomic.fence
		b, err := r.byte()
		if err == nil && b != 0 {
			err = r.errorf("atomic.fence: reserved byte 0x%02x", b)
		}
		return err
	}
	return unknown(at, opPrefixAtomic, int64(sub))
}
