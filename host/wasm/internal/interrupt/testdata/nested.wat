;; nested.wat: nested loops, blocks, if/else, br_table, multi-value loops.
;; Rebuild: wat2wasm --debug-names nested.wat -o nested.wasm (see Makefile)
(module
  (type $pair (func (param i32 i32) (result i32 i32)))

  ;; collatz returns the total number of Collatz steps for 1..n: an outer
  ;; loop over the start values and an inner loop with if/else.
  (func (export "collatz") (param $n i32) (result i32)
    (local $k i32) (local $x i32) (local $steps i32)
    (local.set $k (i32.const 1))
    (block $out
      (loop $outer
        (br_if $out (i32.gt_u (local.get $k) (local.get $n)))
        (local.set $x (local.get $k))
        (block $done
          (loop $inner
            (br_if $done (i32.le_u (local.get $x) (i32.const 1)))
            (if (i32.and (local.get $x) (i32.const 1))
              (then (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1))))
              (else (local.set $x (i32.shr_u (local.get $x) (i32.const 1)))))
            (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
            (br $inner)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $outer)))
    (local.get $steps))

  ;; machine runs a small state machine driven by br_table for n rounds and
  ;; returns an accumulator.
  (func (export "machine") (param $n i32) (result i32)
    (local $state i32) (local $acc i32)
    (loop $round
      (block $s3
        (block $s2
          (block $s1
            (block $s0
              (br_table $s0 $s1 $s2 $s3 (local.get $state)))
            ;; state 0
            (local.set $acc (i32.add (local.get $acc) (i32.const 1)))
            (local.set $state (i32.const 2))
            (br $s3))
          ;; state 1
          (local.set $acc (i32.mul (local.get $acc) (i32.const 3)))
          (local.set $state (i32.const 3))
          (br $s3))
        ;; state 2
        (local.set $acc (i32.xor (local.get $acc) (i32.const 0x55)))
        (local.set $state (i32.const 1)))
      ;; state 3 and after every state
      (if (i32.eq (local.get $state) (i32.const 3))
        (then (local.set $state (i32.const 0))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $round (i32.gt_s (local.get $n) (i32.const 0))))
    (local.get $acc))

  ;; fib uses a loop with a type-index block type (two params, two
  ;; results) so the check is inserted where loop parameters are on the
  ;; stack.
  (func (export "fib") (param $n i32) (result i32)
    (i32.const 0) (i32.const 1)
    (loop $step (type $pair) (param i32 i32) (result i32 i32)
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (if (param i32 i32) (result i32 i32) (i32.lt_s (local.get $n) (i32.const 0))
        (then (return (drop) )))
      ;; (a, b) -> (b, a+b)
      (call $next)
      (br $step))
    (drop))

  (func $next (param $a i32) (param $b i32) (result i32 i32)
    (local.get $b) (i32.add (local.get $a) (local.get $b)))

  ;; deep is a loop as the single instruction of a block with a result and
  ;; a loop whose result type is a value type.
  (func (export "deep") (param $n i32) (result i32)
    (block (result i32)
      (loop $l (result i32)
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br_if $l (i32.gt_s (local.get $n) (i32.const 10)))
        (i32.mul (local.get $n) (i32.const 2))))))
