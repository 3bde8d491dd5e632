;; trapper: a minimal Proxy-Wasm plugin whose proxy_on_request_headers
;; executes `unreachable`, a real Wasm trap (not a recovered Go panic): the
;; host discards the instance and fails the request with 500. The e2e tests
;; compile it with wat2wasm (apt: wabt) when they run.
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $n i32) (result i32)
    (local $p i32) (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n))) (local.get $p))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    unreachable))
