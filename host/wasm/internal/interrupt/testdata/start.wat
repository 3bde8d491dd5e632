;; start.wat: a module with a start function, which Instrument refuses (a
;; start function runs during instantiation, beyond any deadline). The start function
;; runs a loop and reports its result through an imported function.
;; Rebuild: wat2wasm start.wat -o start.wasm (see Makefile)
(module
  (import "host" "report" (func $report (param i32)))
  (func $main
    (local $i i32) (local $sum i32)
    (loop $l
      (local.set $sum (i32.add (local.get $sum) (i32.mul (local.get $i) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100))))
    (call $report (local.get $sum)))
  (start $main))
