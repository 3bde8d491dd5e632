;; bare.wat: no global section and no export section; one function with a
;; loop that reports through an imported function (nothing calls it: the
;; module only has to instrument, compile and instantiate).
;; Rebuild: wat2wasm bare.wat -o bare.wasm (see Makefile)
(module
  (import "host" "report" (func $report (param i32)))
  (func $main
    (local $i i32) (local $sum i32)
    (loop $l
      (local.set $sum (i32.add (local.get $sum) (i32.mul (local.get $i) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100))))
    (call $report (local.get $sum))))
