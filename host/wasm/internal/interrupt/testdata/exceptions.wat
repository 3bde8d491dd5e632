;; exceptions.wat: legacy exception handling (try, catch, catch_all,
;; rethrow, delegate, throw) around and inside loops. wazero runs only the
;; exnref form (try_table, see handbuilt_test.go); the tests decode this one.
;; Rebuild: wat2wasm --enable-exceptions exceptions.wat -o exceptions.wasm (see Makefile)
(module
  (tag $oops (param i32))

  (func $check (param $x i32)
    (if (i32.gt_u (local.get $x) (i32.const 5))
      (then (throw $oops (local.get $x)))))

  ;; caught counts, over n iterations, the values caught from $check plus
  ;; those rethrown through an inner handler.
  (func (export "caught") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (try
        (do
          (try
            (do
              (loop $inner
                (call $check (local.get $i))
                (br 1)))
            (catch $oops
              (local.set $acc (i32.add (local.get $acc) (i32.const 1000)))
              (rethrow 0))))
        (catch $oops
          ;; the caught value is on the stack
          local.get $acc
          i32.add
          local.set $acc)
        (catch_all))
      (try
        (do
          (try
            (do (call $check (i32.add (local.get $i) (i32.const 3))))
            (delegate 0)))
        (catch_all (local.set $acc (i32.add (local.get $acc) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc)))
