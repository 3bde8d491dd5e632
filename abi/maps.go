package abi

import (
	"encoding/binary"
	"errors"
)

// ErrBadMap is returned when a serialized header map is malformed.
var ErrBadMap = errors.New("abi: malformed serialized map")

// EncodedMapSize returns the size of the serialized form of pairs.
func EncodedMapSize(pairs [][2]string) int {
	if len(pairs) == 0 {
		return 0
	}
	n := 4 + 8*len(pairs)
	for _, p := range pairs {
		n += len(p[0]) + len(p[1]) + 2
	}
	return n
}

// AppendMap appends the Proxy-Wasm serialization of pairs to dst:
//
//	u32 count | (u32 key_len, u32 value_len) × count | key NUL value NUL × count
//
// Integers are little-endian. An empty map encodes to nothing (size 0).
// Pairs keep their order and duplicates, so multi-value headers such as
// Set-Cookie stay separate pairs.
func AppendMap(dst []byte, pairs [][2]string) []byte {
	if len(pairs) == 0 {
		return dst
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(pairs)))
	for _, p := range pairs {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p[0])))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p[1])))
	}
	for _, p := range pairs {
		dst = append(dst, p[0]...)
		dst = append(dst, 0)
		dst = append(dst, p[1]...)
		dst = append(dst, 0)
	}
	return dst
}

// EncodeMap returns the serialization of pairs (see AppendMap).
func EncodeMap(pairs [][2]string) []byte {
	return AppendMap(make([]byte, 0, EncodedMapSize(pairs)), pairs)
}

// RangeMap calls fn for each pair of a serialized map, in order, with
// key and value slices that alias b. It returns ErrBadMap when b is not a
// valid serialization. An empty b, or a single 0x00 byte, is an empty map.
func RangeMap(b []byte, fn func(key, value []byte)) error {
	if len(b) == 0 || (len(b) == 1 && b[0] == 0) {
		return nil
	}
	if len(b) < 4 {
		return ErrBadMap
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n)*8 > uint64(len(b)-4) {
		return ErrBadMap
	}
	sizes := b[4 : 4+8*int(n)]
	data := b[4+8*int(n):]
	off := 0
	for i := 0; i < int(n); i++ {
		kl := int(binary.LittleEndian.Uint32(sizes[8*i:]))
		vl := int(binary.LittleEndian.Uint32(sizes[8*i+4:]))
		if kl < 0 || vl < 0 || kl > len(data)-off || vl > len(data)-off-kl || len(data)-off-kl-vl < 2 {
			return ErrBadMap
		}
		k := data[off : off+kl]
		if data[off+kl] != 0 {
			return ErrBadMap
		}
		off += kl + 1
		v := data[off : off+vl]
		if data[off+vl] != 0 {
			return ErrBadMap
		}
		off += vl + 1
		if fn != nil {
			fn(k, v)
		}
	}
	return nil
}

// DecodeMap parses a serialized map into freshly allocated pairs. All keys
// and values share one string allocation.
func DecodeMap(b []byte) ([][2]string, error) {
	if err := RangeMap(b, nil); err != nil {
		return nil, err
	}
	if len(b) <= 4 {
		return nil, nil
	}
	n := int(binary.LittleEndian.Uint32(b))
	data := string(b[4+8*n:])
	pairs := make([][2]string, 0, n)
	off := 0
	for i := 0; i < n; i++ {
		kl := int(binary.LittleEndian.Uint32(b[4+8*i:]))
		vl := int(binary.LittleEndian.Uint32(b[8+8*i:]))
		k := data[off : off+kl]
		off += kl + 1
		v := data[off : off+vl]
		off += vl + 1
		pairs = append(pairs, [2]string{k, v})
	}
	return pairs, nil
}
