;; imports.wat: imports two globals and a function, defines globals of its
;; own and exports a function, a global and its memory, so the flag global
;; gets index 2 + 3 = 5 and no existing index moves.
;; Rebuild: wat2wasm imports.wat -o imports.wasm (see Makefile)
(module
  (import "env" "twice" (func $twice (param i32) (result i32)))
  (import "env" "base" (global $base i32))
  (import "env" "scale" (global $scale (mut i64)))
  (global $counter (mut i32) (i32.const 0))
  (global $step i32 (i32.const 7))
  (global $acc (export "acc") (mut i64) (i64.const 0))
  (memory (export "memory") 1)

  ;; run loops n times, touching every global by index, and returns
  ;; base + counter; acc accumulates scale * twice(i).
  (func (export "run") (param $n i32) (result i32)
    (local $i i32)
    (loop $l
      (global.set $counter (i32.add (global.get $counter) (global.get $step)))
      (global.set $acc
        (i64.add (global.get $acc)
          (i64.mul (global.get $scale) (i64.extend_i32_u (call $twice (local.get $i))))))
      (i32.store (i32.mul (local.get $i) (i32.const 4)) (global.get $counter))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (i32.add (global.get $base) (global.get $counter)))

  ;; bump sets the imported mutable global.
  (func (export "bump") (param i64)
    (global.set $scale (local.get 0))))
