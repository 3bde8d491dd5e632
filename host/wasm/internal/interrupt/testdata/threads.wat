;; threads.wat: atomic memory instructions (0xFE prefix) inside a loop.
;; Rebuild: wat2wasm --enable-threads threads.wat -o threads.wasm (see Makefile)
(module
  (memory 1 1 shared)
  (func (export "atomics") (param $n i32) (result i32)
    (local $i i32)
    (loop $l
      (drop (i32.atomic.rmw.add (i32.const 0) (local.get $i)))
      (i32.atomic.store offset=8 (i32.const 0) (i32.atomic.load (i32.const 0)))
      (drop (i64.atomic.rmw32.cmpxchg_u (i32.const 16) (i64.const 0) (i64.const 5)))
      (atomic.fence)
      (drop (memory.atomic.notify (i32.const 24) (i32.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (i32.add (i32.atomic.load offset=8 (i32.const 0)) (i32.atomic.load8_u (i32.const 16)))))
