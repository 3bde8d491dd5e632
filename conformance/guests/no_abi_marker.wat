;; no_abi_marker.wat — a well-formed guest that lacks the
;; proxy_abi_version_0_2_x export; the host must refuse to load it.
;;
;; Build (from conformance/):  wat2wasm guests/no_abi_marker.wat -o guests/no_abi_marker.wasm
;; or `make guests`.
(module
  (memory (export "memory") 1)
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
)
