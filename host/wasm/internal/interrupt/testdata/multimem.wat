;; multimem.wat: memargs with a memory index (bit 6 of the alignment) and
;; memory64 offsets. wazero runs neither proposal; the tests only instrument
;; and decode it.
;; Rebuild: wat2wasm --enable-multi-memory --enable-memory64 multimem.wat -o multimem.wasm (see Makefile)
(module
  (memory $a 1)
  (memory $b i64 1)
  (func (export "copy") (param $n i32)
    (local $i i32)
    (loop $l
      (i64.store $b offset=0x10 (i64.const 0)
        (i64.load $a offset=8 (local.get $i)))
      (drop (memory.size $b))
      (drop (memory.grow $a (i32.const 0)))
      (memory.copy $b $a (i64.const 0) (i32.const 0) (i32.const 8))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))))
