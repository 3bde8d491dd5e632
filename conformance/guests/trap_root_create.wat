;; trap_root_create.wat — a guest that traps when the host creates its root
;; context (proxy_on_context_create with parent 0), before any
;; configuration can select the behaviour.
;;
;; Build (from conformance/):  wat2wasm guests/trap_root_create.wat -o guests/trap_root_create.wasm
;; or `make guests`.
(module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param $ctx i32) (param $parent i32)
    (if (i32.eqz (local.get $parent)) (then unreachable)))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
)
