;; loop.wat: an infinite loop and a counted hot loop. It has a memory, as
;; plugins do, so the instrumented loops also yield to the Go runtime.
;; Rebuild: wat2wasm loop.wat -o loop.wasm (see Makefile)
(module
  (memory 1)

  ;; spin never returns unless interrupted.
  (func (export "spin")
    (loop $l
      (br $l)))

  ;; count returns the sum 0 + 1 + ... + (n-1) computed by a loop of n
  ;; iterations; the benchmarks call it with large n.
  (func (export "count") (param $n i64) (result i64)
    (local $i i64)
    (local $sum i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (local.set $sum (i64.add (local.get $sum) (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (local.get $sum))

  ;; add has no loop: its body must be copied unchanged.
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1))))
