;; relaxed.wat: relaxed SIMD (0xFD 0x100..0x113) inside a loop. wazero
;; does not run relaxed SIMD; the tests only instrument and decode it.
;; Rebuild: wat2wasm --enable-relaxed-simd relaxed.wat -o relaxed.wasm (see Makefile)
(module
  (func (export "relaxed") (param $v v128) (result v128)
    (local $i i32)
    (loop $l
      (local.set $v (i8x16.relaxed_swizzle (local.get $v) (local.get $v)))
      (local.set $v (f32x4.relaxed_madd (local.get $v) (local.get $v) (local.get $v)))
      (local.set $v (i32x4.dot_i8x16_i7x16_add_s (local.get $v) (local.get $v) (local.get $v)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 4))))
    (local.get $v)))
