package interrupt

import "fmt"

// reader decodes the primitive encodings of the Wasm binary format from a
// byte slice. Every method fails with an error wrapping ErrMalformed rather
// than panicking when the input is short or an encoding is out of range.
type reader struct {
	buf []byte
	pos int
}

// eof reports whether the whole buffer has been consumed.
func (r *reader) eof() bool { return r.pos >= len(r.buf) }

// errorf returns a malformed-input error that names the current position.
func (r *reader) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s: %w", r.pos, fmt.Sprintf(format, args...), ErrMalformed)
}

func (r *reader) byte() (byte, error) {
	if r.pos >= len(r.buf) {
		return 0, r.errorf("unexpected end")
	}
	b := r.buf[r.pos]
	r.pos++
	return b, nil
}

// peek returns the next byte without consuming it.
func (r *reader) peek() (byte, error) {
	if r.pos >= len(r.buf) {
		return 0, r.errorf("unexpected end")
	}
	return r.buf[r.pos], nil
}

// skip consumes n bytes.
func (r *reader) skip(n int) error {
	if n < 0 || len(r.buf)-r.pos < n {
		return r.errorf("unexpected end: %d bytes wanted, %d left", n, len(r.buf)-r.pos)
	}
	r.pos += n
	return nil
}

// bytes consumes and returns n bytes (a subslice of the input).
func (r *reader) bytes(n int) ([]byte, error) {
	start := r.pos
	if err := r.skip(n); err != nil {
		return nil, err
	}
	return r.buf[start:r.pos:r.pos], nil
}

// u32 decodes an unsigned LEB128 value of at most 32 bits (at most 5 bytes).
func (r *reader) u32() (uint32, error) {
	if r.pos < len(r.buf) && r.buf[r.pos] < 0x80 { // fast path: one byte
		v := uint32(r.buf[r.pos])
		r.pos++
		return v, nil
	}
	var v uint32
	for i := 0; i < 5; i++ {
		b, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 4 && b&0xf0 != 0 { // continuation bit or bits beyond 32
			return 0, r.errorf("u32 out of range")
		}
		v |= uint32(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, r.errorf("u32 too long") // unreachable: the 5th byte check returns first
}

// u64 decodes an unsigned LEB128 value of at most 64 bits (at most 10 bytes).
func (r *reader) u64() (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		b, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 9 && b&0xfe != 0 {
			return 0, r.errorf("u64 out of range")
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, r.errorf("u64 too long")
}

// signed decodes a signed LEB128 value of the given bit width (32, 33 or
// 64) and returns it sign-extended to 64 bits. The unused bits of the last
// byte must be a sign extension of the value, as the spec requires.
func (r *reader) signed(bits int) (int64, error) {
	maxBytes := (bits + 6) / 7
	var v int64
	var shift int
	for i := 0; i < maxBytes; i++ {
		b, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == maxBytes-1 {
			if b&0x80 != 0 {
				return 0, r.errorf("s%d too long", bits)
			}
			// used: the payload bits of this byte that belong to the value;
			// the remaining high bits must all equal the sign bit.
			used := bits - 7*i
			rest := int8(b<<1) >> (used) // sign-extend from bit `used`-1 of the 7-bit payload
			if used < 7 && rest != 0 && rest != -1 {
				return 0, r.errorf("s%d out of range", bits)
			}
		}
		v |= int64(b&0x7f) << shift
		shift += 7
		if b < 0x80 {
			if shift < 64 && b&0x40 != 0 {
				v |= -1 << shift
			}
			return v, nil
		}
	}
	return 0, r.errorf("s%d too long", bits)
}

// name consumes a length-prefixed byte string.
func (r *reader) name() ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	return r.bytes(int(n))
}

// appendU32 appends the minimal unsigned LEB128 encoding of v.
func appendU32(dst []byte, v uint32) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// appendS32 appends the minimal signed LEB128 encoding of v.
func appendS32(dst []byte, v int32) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(dst, b)
		}
		dst = append(dst, b|0x80)
	}
}

// sizeU32 is the length of the minimal unsigned LEB128 encoding of v.
func sizeU32(v uint32) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
