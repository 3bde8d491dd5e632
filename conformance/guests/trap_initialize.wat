;; trap_initialize.wat — a guest whose _initialize traps.
;;
;; Build (from conformance/):  wat2wasm guests/trap_initialize.wat -o guests/trap_initialize.wasm
;; or `make guests`.
(module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "_initialize") unreachable)
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
)
