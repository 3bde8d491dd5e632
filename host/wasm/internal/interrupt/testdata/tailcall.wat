;; tailcall.wat: return_call and return_call_indirect inside loops.
;; Rebuild: wat2wasm --enable-tail-call tailcall.wat -o tailcall.wasm (see Makefile)
(module
  (type $ii (func (param i32 i32) (result i32)))
  (table 1 funcref)
  (elem (i32.const 0) $sum)

  ;; sum returns acc + n + (n-1) + ... + 1 by tail recursion: each level
  ;; runs a short loop, then tail-calls itself directly or indirectly.
  (func $sum (export "sum") (type $ii) (param $n i32) (param $acc i32) (result i32)
    (local $k i32)
    (loop $l
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $k) (i32.const 3))))
    (if (i32.eqz (local.get $n)) (then (return (local.get $acc))))
    (if (i32.and (local.get $n) (i32.const 1))
      (then
        (return_call $sum
          (i32.sub (local.get $n) (i32.const 1))
          (i32.add (local.get $acc) (local.get $n)))))
    (return_call_indirect (type $ii)
      (i32.sub (local.get $n) (i32.const 1))
      (i32.add (local.get $acc) (local.get $n))
      (i32.const 0))))
