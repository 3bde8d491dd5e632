package wasm

import "unsafe"

// bytesToString returns a string sharing b's memory. Used for lookups with
// keys read from guest memory; the string must not be retained.
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
