;; env.wat: the "env" module that imports.wasm imports its globals and
;; function from. It is not instrumented.
;; Rebuild: wat2wasm env.wat -o env.wasm (see Makefile)
(module
  (global (export "base") i32 (i32.const 1000))
  (global (export "scale") (mut i64) (i64.const 3))
  (func (export "twice") (param i32) (result i32)
    (i32.mul (local.get 0) (i32.const 2))))
