;; probe.wat — the ABI probe guest of the wasmgate conformance suite.
;;
;; Build (from conformance/):  wat2wasm guests/probe.wat -o guests/probe.wasm
;; or `make guests`.
;;
;; The guest is a tiny interpreter. Its plugin configuration (or VM
;; configuration) is a script written by the Go runner (see script.go):
;; a list of steps, each naming a callback phase, a host function (an index
;; into the table below, which lists every env.proxy_* import in import
;; order) and its arguments. When the host invokes a callback the guest logs
;; a trace line and runs that phase's steps, logging one result line per
;; host call through proxy_log:
;;
;;   cf cb  <phase> <export> <ctx> <a> <b> <c> <instance>
;;   cf res <invocation> <step> <status> <slot0> … <slot7> [<len> <fnv32> <hex>|badptr]
;;   cf cfgerr <buffer type> <status>
;;
;; Script layout (little-endian u32 words, offsets from the script start):
;;
;;   0    magic "CF01"
;;   4    ret[20]      callback return value per phase, 0xffffffff = default
;;   84   nsteps
;;   88   steps: phase, fn, sig, nargs, deref, nargs × (kind, lo, hi)
;;        fn:    table index, or 0x8000000N for a control op
;;        sig:   number of i32 params, or 100 for (i32, i64)
;;        deref: 0xffffffff, or ptr_slot | len_slot<<8 | max_dump<<16
;;        kind:  0 imm (lo | hi<<32)  1 script+lo  2 &slot[lo] (zeroed)
;;               3 slot[lo]  4 memory_end+(int32)lo  5 current ctx  6 root ctx
;;   …    data referenced by kind 1 arguments
;;
;; Memory map: 0x100 slots[8] u64, 0x140 scratch, 0x180 digits,
;; 0x200 args[12] u64, 0x300 phase-name table, 0x400 names, 0x800 strings,
;; 0x1000-0x5000 log line buffer, 0x10000+ bump heap.
(module
  (type $s0 (func (result i32)))
  (type $s1 (func (param i32) (result i32)))
  (type $s2 (func (param i32 i32) (result i32)))
  (type $s3 (func (param i32 i32 i32) (result i32)))
  (type $s4 (func (param i32 i32 i32 i32) (result i32)))
  (type $s5 (func (param i32 i32 i32 i32 i32) (result i32)))
  (type $s6 (func (param i32 i32 i32 i32 i32 i32) (result i32)))
  (type $s8 (func (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (type $s9 (func (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (type $s10 (func (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (type $s12 (func (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (type $s2l (func (param i32 i64) (result i32)))
  (import "env" "proxy_log" (func $proxy_log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_log_level" (func $proxy_get_log_level (param i32) (result i32)))
  (import "env" "proxy_set_tick_period_milliseconds" (func $proxy_set_tick_period_milliseconds (param i32) (result i32)))
  (import "env" "proxy_get_current_time_nanoseconds" (func $proxy_get_current_time_nanoseconds (param i32) (result i32)))
  (import "env" "proxy_get_property" (func $proxy_get_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_property" (func $proxy_set_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_effective_context" (func $proxy_set_effective_context (param i32) (result i32)))
  (import "env" "proxy_done" (func $proxy_done (result i32)))
  (import "env" "proxy_call_foreign_function" (func $proxy_call_foreign_function (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $proxy_get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_buffer_bytes" (func $proxy_set_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_status" (func $proxy_get_buffer_status (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_size" (func $proxy_get_header_map_size (param i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_pairs" (func $proxy_get_header_map_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_set_header_map_pairs" (func $proxy_set_header_map_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $proxy_get_header_map_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $proxy_add_header_map_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_replace_header_map_value" (func $proxy_replace_header_map_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_remove_header_map_value" (func $proxy_remove_header_map_value (param i32 i32 i32) (result i32)))
  (import "env" "proxy_continue_stream" (func $proxy_continue_stream (param i32) (result i32)))
  (import "env" "proxy_close_stream" (func $proxy_close_stream (param i32) (result i32)))
  (import "env" "proxy_get_status" (func $proxy_get_status (param i32 i32 i32) (result i32)))
  (import "env" "proxy_send_local_response" (func $proxy_send_local_response (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_http_call" (func $proxy_http_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_call" (func $proxy_grpc_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_stream" (func $proxy_grpc_stream (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_send" (func $proxy_grpc_send (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_cancel" (func $proxy_grpc_cancel (param i32) (result i32)))
  (import "env" "proxy_grpc_close" (func $proxy_grpc_close (param i32) (result i32)))
  (import "env" "proxy_set_shared_data" (func $proxy_set_shared_data (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_shared_data" (func $proxy_get_shared_data (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_register_shared_queue" (func $proxy_register_shared_queue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_resolve_shared_queue" (func $proxy_resolve_shared_queue (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_enqueue_shared_queue" (func $proxy_enqueue_shared_queue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_dequeue_shared_queue" (func $proxy_dequeue_shared_queue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_define_metric" (func $proxy_define_metric (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_record_metric" (func $proxy_record_metric (param i32 i64) (result i32)))
  (import "env" "proxy_increment_metric" (func $proxy_increment_metric (param i32 i64) (result i32)))
  (import "env" "proxy_get_metric" (func $proxy_get_metric (param i32 i32) (result i32)))
  (import "env" "proxy_continue_request" (func $proxy_continue_request (result i32)))
  (import "env" "proxy_continue_response" (func $proxy_continue_response (result i32)))
  (import "env" "proxy_clear_route_cache" (func $proxy_clear_route_cache (result i32)))
  (import "env" "proxy_get_configuration" (func $proxy_get_configuration (param i32 i32) (result i32)))

  (memory (export "memory") 2)
  (table 43 funcref)
  (elem (i32.const 0)
    $proxy_log
    $proxy_get_log_level
    $proxy_set_tick_period_milliseconds
    $proxy_get_current_time_nanoseconds
    $proxy_get_property
    $proxy_set_property
    $proxy_set_effective_context
    $proxy_done
    $proxy_call_foreign_function
    $proxy_get_buffer_bytes
    $proxy_set_buffer_bytes
    $proxy_get_buffer_status
    $proxy_get_header_map_size
    $proxy_get_header_map_pairs
    $proxy_set_header_map_pairs
    $proxy_get_header_map_value
    $proxy_add_header_map_value
    $proxy_replace_header_map_value
    $proxy_remove_header_map_value
    $proxy_continue_stream
    $proxy_close_stream
    $proxy_get_status
    $proxy_send_local_response
    $proxy_http_call
    $proxy_grpc_call
    $proxy_grpc_stream
    $proxy_grpc_send
    $proxy_grpc_cancel
    $proxy_grpc_close
    $proxy_set_shared_data
    $proxy_get_shared_data
    $proxy_register_shared_queue
    $proxy_resolve_shared_queue
    $proxy_enqueue_shared_queue
    $proxy_dequeue_shared_queue
    $proxy_define_metric
    $proxy_record_metric
    $proxy_increment_metric
    $proxy_get_metric
    $proxy_continue_request
    $proxy_continue_response
    $proxy_clear_route_cache
    $proxy_get_configuration)

  (global $heap (mut i32) (i32.const 0x10000))
  (global $out (mut i32) (i32.const 0x1000))
  (global $script (mut i32) (i32.const 0))
  (global $inst (mut i64) (i64.const 0))
  (global $cur_ctx (mut i32) (i32.const 0))
  (global $root_ctx (mut i32) (i32.const 0))
  (global $inv (mut i32) (i32.const 0))

  (data (i32.const 0x300) "\00\04\00\00\11\00\00\00\11\04\00\00\12\00\00\00\23\04\00\00\17\00\00\00\3a\04\00\00\17\00\00\00\51\04\00\00\18\00\00\00\69\04\00\00\15\00\00\00\7e\04\00\00\19\00\00\00\97\04\00\00\19\00\00\00\b0\04\00\00\16\00\00\00\c6\04\00\00\1a\00\00\00\e0\04\00\00\0d\00\00\00\ed\04\00\00\0c\00\00\00\f9\04\00\00\0f\00\00\00\08\05\00\00\0d\00\00\00\15\05\00\00\14\00\00\00\29\05\00\00\1b\00\00\00\44\05\00\00\19\00\00\00\5d\05\00\00\0b\00\00\00")
  (data (i32.const 0x400) "proxy_on_vm_start")
  (data (i32.const 0x411) "proxy_on_configure")
  (data (i32.const 0x423) "proxy_on_context_create")
  (data (i32.const 0x43a) "proxy_on_context_create")
  (data (i32.const 0x451) "proxy_on_request_headers")
  (data (i32.const 0x469) "proxy_on_request_body")
  (data (i32.const 0x47e) "proxy_on_request_trailers")
  (data (i32.const 0x497) "proxy_on_response_headers")
  (data (i32.const 0x4b0) "proxy_on_response_body")
  (data (i32.const 0x4c6) "proxy_on_response_trailers")
  (data (i32.const 0x4e0) "proxy_on_done")
  (data (i32.const 0x4ed) "proxy_on_log")
  (data (i32.const 0x4f9) "proxy_on_delete")
  (data (i32.const 0x508) "proxy_on_tick")
  (data (i32.const 0x515) "proxy_on_queue_ready")
  (data (i32.const 0x529) "proxy_on_http_call_response")
  (data (i32.const 0x544) "proxy_on_foreign_function")
  (data (i32.const 0x55d) "_initialize")
  (data (i32.const 0x800) "cf cb res badptr cfgerr -")
  ;; "cf " 0x800/3, "cb " 0x803/3, "res " 0x806/4, "badptr" 0x80a/6,
  ;; "cfgerr " 0x811/7, "-" 0x818/1

  ;; The Proxy-Wasm 0.2.1 marker.
  (func (export "proxy_abi_version_0_2_1"))

  (func $memend (result i64)
    (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)))

  ;; Bump allocator: 8-byte aligned, grows memory, 0 on failure.
  (func $alloc (export "proxy_on_memory_allocate") (param $n i32) (result i32)
    (local $p i32) (local $end i64)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (local.set $end (i64.add (i64.extend_i32_u (local.get $p)) (i64.extend_i32_u (local.get $n))))
    (if (i64.gt_u (local.get $end) (i64.const 0xffffffff)) (then (return (i32.const 0))))
    (if (i64.gt_u (local.get $end) (call $memend))
      (then
        (if (i32.eq
              (memory.grow (i32.wrap_i64 (i64.shr_u
                (i64.sub (i64.add (local.get $end) (i64.const 0xffff)) (call $memend))
                (i64.const 16))))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $heap (i32.wrap_i64 (local.get $end)))
    (local.get $p))

  ;; ---- output -------------------------------------------------------

  (func $putc (param $c i32)
    (if (i32.lt_u (global.get $out) (i32.const 0x5000))
      (then
        (i32.store8 (global.get $out) (local.get $c))
        (global.set $out (i32.add (global.get $out) (i32.const 1))))))

  (func $puts (param $p i32) (param $n i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (call $putc (i32.load8_u (local.get $p)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l))))

  (func $sp (call $putc (i32.const 32)))

  (func $putu (param $v i64)
    (local $i i32)
    (local.set $i (i32.const 0x1a0))
    (loop $l
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (local.get $i)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $l (i64.ne (local.get $v) (i64.const 0))))
    (call $puts (local.get $i) (i32.sub (i32.const 0x1a0) (local.get $i))))

  (func $putu32 (param $v i32) (call $putu (i64.extend_i32_u (local.get $v))))

  (func $hexdigit (param $d i32) (result i32)
    (select (i32.add (local.get $d) (i32.const 48)) (i32.add (local.get $d) (i32.const 87))
      (i32.lt_u (local.get $d) (i32.const 10))))

  (func $puthex (param $p i32) (param $n i32)
    (local $b i32)
    (if (i32.eqz (local.get $n)) (then (call $putc (i32.const 45)) (return)))
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $b (i32.load8_u (local.get $p)))
        (call $putc (call $hexdigit (i32.shr_u (local.get $b) (i32.const 4))))
        (call $putc (call $hexdigit (i32.and (local.get $b) (i32.const 15))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l))))

  (func $fnv (param $p i32) (param $n i32) (result i32)
    (local $h i32)
    (local.set $h (i32.const 0x811c9dc5))
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load8_u (local.get $p))) (i32.const 16777619)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $h))

  (func $begin
    (global.set $out (i32.const 0x1000))
    (call $puts (i32.const 0x800) (i32.const 3)))

  (func $flush
    (drop (call $proxy_log (i32.const 2) (i32.const 0x1000)
      (i32.sub (global.get $out) (i32.const 0x1000)))))

  ;; A per-instance identifier: the wall clock at the first callback.
  (func $inst_id (result i64)
    (if (i64.eqz (global.get $inst))
      (then
        (if (i32.eqz (call $proxy_get_current_time_nanoseconds (i32.const 0x140)))
          (then (global.set $inst (i64.load (i32.const 0x140)))))))
    (global.get $inst))

  (func $trace (param $ph i32) (param $ctx i32) (param $a i32) (param $b i32) (param $c i32)
    (local $e i32)
    (global.set $inv (i32.add (global.get $inv) (i32.const 1)))
    (call $begin)
    (call $puts (i32.const 0x803) (i32.const 3))
    (call $putu32 (local.get $ph)) (call $sp)
    (local.set $e (i32.add (i32.const 0x300) (i32.shl (local.get $ph) (i32.const 3))))
    (call $puts (i32.load (local.get $e)) (i32.load offset=4 (local.get $e))) (call $sp)
    (call $putu32 (local.get $ctx)) (call $sp)
    (call $putu32 (local.get $a)) (call $sp)
    (call $putu32 (local.get $b)) (call $sp)
    (call $putu32 (local.get $c)) (call $sp)
    (call $putu (call $inst_id))
    (call $flush))

  ;; ---- script -------------------------------------------------------

  (func $slot (param $k i32) (result i32)
    (i32.add (i32.const 0x100) (i32.shl (i32.and (local.get $k) (i32.const 7)) (i32.const 3))))

  ;; Argument k of the current step, as i32.
  (func $a (param $k i32) (result i32)
    (i32.wrap_i64 (i64.load (i32.add (i32.const 0x200) (i32.shl (local.get $k) (i32.const 3))))))

  (func $argval (param $kind i32) (param $lo i32) (param $hi i32) (result i64)
    (local $s i32)
    (block $root
    (block $ctx
    (block $memend
    (block $slotval
    (block $out
    (block $data
    (block $imm
      (br_table $imm $data $out $slotval $memend $ctx $root $imm (local.get $kind)))
    (return (i64.or (i64.extend_i32_u (local.get $lo))
      (i64.shl (i64.extend_i32_u (local.get $hi)) (i64.const 32)))))
    (return (i64.extend_i32_u (i32.add (global.get $script) (local.get $lo)))))
    (local.set $s (call $slot (local.get $lo)))
    (i64.store (local.get $s) (i64.const 0))
    (return (i64.extend_i32_u (local.get $s))))
    (return (i64.load (call $slot (local.get $lo)))))
    (return (i64.add (call $memend) (i64.extend_i32_s (local.get $lo)))))
    (return (i64.extend_i32_u (global.get $cur_ctx))))
    (i64.extend_i32_u (global.get $root_ctx)))

  (func $dispatch (param $fn i32) (param $sig i32) (result i32)
    (if (i32.eq (local.get $sig) (i32.const 100))
      (then (return (call_indirect (type $s2l) (call $a (i32.const 0)) (i64.load (i32.const 0x208)) (local.get $fn)))))
    (block $bad
    (block $c12
    (block $c11
    (block $c10
    (block $c9
    (block $c8
    (block $c7
    (block $c6
    (block $c5
    (block $c4
    (block $c3
    (block $c2
    (block $c1
    (block $c0
      (br_table $c0 $c1 $c2 $c3 $c4 $c5 $c6 $c7 $c8 $c9 $c10 $c11 $c12 $bad (local.get $sig)))
    ;; 0 params
    (return (call_indirect (type $s0)  (local.get $fn))))
    ;; 1 params
    (return (call_indirect (type $s1) (call $a (i32.const 0)) (local.get $fn))))
    ;; 2 params
    (return (call_indirect (type $s2) (call $a (i32.const 0)) (call $a (i32.const 1)) (local.get $fn))))
    ;; 3 params
    (return (call_indirect (type $s3) (call $a (i32.const 0)) (call $a (i32.const 1)) (call $a (i32.const 2)) (local.get $fn))))
    ;; 4 params
    (return (call_indirect (type $s4) (call $a (i32.const 0)) (call $a (i32.const 1)) (call $a (i32.const 2)) (call $a (i32.const 3)) (local.get $fn))))
    ;; 5 params
    (return (call_indirect (type $s5) (call $a (i32.const 0)) (call $a (i32.const 1)) (call $a (i32.const 2)) (call $a (i32.const 3)) (call $a (i32.const 4)) (local.get $fn))))
    ;; 6 params
    (return (call_indirect (type $s6) (call $a (i32.const 0)) (call $a (i32.const 1)) (call $a (i32.const 2)) (call $a (i32.const 3)) (call $a (i32.const 4)) (call $a (i32.const 5)) (local.get $fn))))
    (br $bad))
    ;; 8 params
    (return (call_indirect (type $s8) (call $a (i32.const 0)) (call $a (i32.const 1)) (call $a (i32.const 2)) (call $a (i32.const 3)) (call $a (i32.const 4)) (call $a (i32.const 5)) (call $a (i32.const 6)) (call $a (i32.const 7)) (local.get $fn))))
    ;; 9 params
    (return (call_indirect (type $s9) (call $a (i32.const 0)) (call $a (i32.const 1)) (call $a (i32.const 2)) (call $a (i32.const 3)) (call $a (i32.const 4)) (call $a (i32.const 5)) (call $a (i32.const 6)) (call $a (i32.const 7)) (call $a (i32.const 8)) (local.get $fn))))
    ;; 10 params
    (return (call_indirect (type $s10) (call $a (i32.const 0)) (call $a (i32.const 1)) (call $a (i32.const 2)) (call $a (i32.const 3)) (call $a (i32.const 4)) (call $a (i32.const 5)) (call $a (i32.const 6)) (call $a (i32.const 7)) (call $a (i32.const 8)) (call $a (i32.const 9)) (local.get $fn))))
    (br $bad))
    ;; 12 params
    (return (call_indirect (type $s12) (call $a (i32.const 0)) (call $a (i32.const 1)) (call $a (i32.const 2)) (call $a (i32.const 3)) (call $a (i32.const 4)) (call $a (i32.const 5)) (call $a (i32.const 6)) (call $a (i32.const 7)) (call $a (i32.const 8)) (call $a (i32.const 9)) (call $a (i32.const 10)) (call $a (i32.const 11)) (local.get $fn))))
    unreachable)

  ;; Control ops: 0x80000001 trap, 0x80000002 spin forever,
  ;; 0x80000003 slot[arg0] = arg1.
  (func $control (param $op i32) (result i32)
    (if (i32.eq (local.get $op) (i32.const 0x80000001)) (then unreachable))
    (if (i32.eq (local.get $op) (i32.const 0x80000002)) (then (loop $spin (br $spin))))
    (if (i32.eq (local.get $op) (i32.const 0x80000003))
      (then
        (i64.store (call $slot (call $a (i32.const 0))) (i64.load (i32.const 0x208)))
        (return (i32.const 0))))
    (i32.const -1))

  (func $report (param $p i32) (param $idx i32) (param $st i32)
    (local $k i32) (local $d i32) (local $ptr i32) (local $len i32) (local $max i32)
    (call $begin)
    (call $puts (i32.const 0x806) (i32.const 4))
    (call $putu32 (global.get $inv)) (call $sp)
    (call $putu32 (local.get $idx)) (call $sp)
    (call $putu32 (local.get $st))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $k) (i32.const 8)))
        (call $sp)
        (call $putu (i64.load (call $slot (local.get $k))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $l)))
    (local.set $d (i32.load offset=16 (local.get $p)))
    (if (i32.and (i32.ne (local.get $d) (i32.const -1)) (i32.eqz (local.get $st)))
      (then
        (call $sp)
        (local.set $ptr (i32.load (call $slot (i32.and (local.get $d) (i32.const 0xff)))))
        (local.set $len (i32.load (call $slot (i32.and (i32.shr_u (local.get $d) (i32.const 8)) (i32.const 0xff)))))
        (local.set $max (i32.shr_u (local.get $d) (i32.const 16)))
        (if (i64.gt_u
              (i64.add (i64.extend_i32_u (local.get $ptr)) (i64.extend_i32_u (local.get $len)))
              (call $memend))
          (then (call $puts (i32.const 0x80a) (i32.const 6)))
          (else
            (call $putu32 (local.get $len)) (call $sp)
            (call $putu32 (call $fnv (local.get $ptr) (local.get $len))) (call $sp)
            (if (i32.gt_u (local.get $len) (local.get $max)) (then (local.set $len (local.get $max))))
            (call $puthex (local.get $ptr) (local.get $len))))))
    (call $flush))

  (func $exec (param $p i32) (param $idx i32)
    (local $fn i32) (local $nargs i32) (local $k i32) (local $a i32) (local $st i32)
    (local.set $fn (i32.load offset=4 (local.get $p)))
    (local.set $nargs (i32.load offset=12 (local.get $p)))
    (local.set $a (i32.add (local.get $p) (i32.const 20)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $k) (local.get $nargs)))
        (i64.store (i32.add (i32.const 0x200) (i32.shl (local.get $k) (i32.const 3)))
          (call $argval (i32.load (local.get $a)) (i32.load offset=4 (local.get $a))
            (i32.load offset=8 (local.get $a))))
        (local.set $a (i32.add (local.get $a) (i32.const 12)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $l)))
    (if (i32.and (local.get $fn) (i32.const 0x80000000))
      (then (local.set $st (call $control (local.get $fn))))
      (else (local.set $st (call $dispatch (local.get $fn) (i32.load offset=8 (local.get $p))))))
    (call $report (local.get $p) (local.get $idx) (local.get $st)))

  (func $run (param $ph i32)
    (local $p i32) (local $n i32) (local $i i32)
    (if (i32.eqz (global.get $script)) (then (return)))
    (local.set $n (i32.load offset=84 (global.get $script)))
    (local.set $p (i32.add (global.get $script) (i32.const 88)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.eq (i32.load (local.get $p)) (local.get $ph))
          (then (call $exec (local.get $p) (local.get $i))))
        (local.set $p (i32.add (local.get $p)
          (i32.add (i32.const 20) (i32.mul (i32.load offset=12 (local.get $p)) (i32.const 12)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l))))

  (func $ret (param $ph i32) (param $def i32) (result i32)
    (local $v i32)
    (if (i32.eqz (global.get $script)) (then (return (local.get $def))))
    (local.set $v (i32.load offset=4 (i32.add (global.get $script) (i32.shl (local.get $ph) (i32.const 2)))))
    (select (local.get $def) (local.get $v) (i32.eq (local.get $v) (i32.const -1))))

  ;; Reads buffer t (VM or plugin configuration); adopts it as the script
  ;; when it starts with the magic. Returns 0 when the read failed.
  (func $load (param $t i32) (param $size i32) (result i32)
    (local $st i32) (local $p i32)
    (local.set $st (call $proxy_get_buffer_bytes (local.get $t) (i32.const 0) (local.get $size)
      (i32.const 0x148) (i32.const 0x14c)))
    (if (local.get $st)
      (then
        (call $begin)
        (call $puts (i32.const 0x811) (i32.const 7))
        (call $putu32 (local.get $t)) (call $sp) (call $putu32 (local.get $st))
        (call $flush)
        (return (i32.const 0))))
    (local.set $p (i32.load (i32.const 0x148)))
    (if (i32.and
          (i32.ge_u (i32.load (i32.const 0x14c)) (i32.const 88))
          (i32.eq (i32.load (local.get $p)) (i32.const 0x31304643)))
      (then (global.set $script (local.get $p))))
    (i32.const 1))

  ;; ---- callbacks ----------------------------------------------------

  (func (export "_initialize")
    (call $trace (i32.const 17) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))

  (func (export "proxy_on_context_create") (param $ctx i32) (param $parent i32)
    (global.set $cur_ctx (local.get $ctx))
    (if (i32.eqz (local.get $parent))
      (then
        (global.set $root_ctx (local.get $ctx))
        (call $trace (i32.const 2) (local.get $ctx) (local.get $parent) (i32.const 0) (i32.const 0))
        (call $run (i32.const 2)))
      (else
        (call $trace (i32.const 3) (local.get $ctx) (local.get $parent) (i32.const 0) (i32.const 0))
        (call $run (i32.const 3)))))

  (func (export "proxy_on_vm_start") (param $ctx i32) (param $size i32) (result i32)
    (global.set $cur_ctx (local.get $ctx))
    (call $trace (i32.const 0) (local.get $ctx) (local.get $size) (i32.const 0) (i32.const 0))
    (if (local.get $size) (then (drop (call $load (i32.const 6) (local.get $size)))))
    (call $run (i32.const 0))
    (call $ret (i32.const 0) (i32.const 1)))

  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (global.set $cur_ctx (local.get $ctx))
    (call $trace (i32.const 1) (local.get $ctx) (local.get $size) (i32.const 0) (i32.const 0))
    (if (local.get $size)
      (then (if (i32.eqz (call $load (i32.const 7) (local.get $size))) (then (return (i32.const 0))))))
    (call $run (i32.const 1))
    (call $ret (i32.const 1) (i32.const 1)))

  (func $stream (param $ph i32) (param $ctx i32) (param $a i32) (param $b i32) (param $def i32) (result i32)
    (global.set $cur_ctx (local.get $ctx))
    (call $trace (local.get $ph) (local.get $ctx) (local.get $a) (local.get $b) (i32.const 0))
    (call $run (local.get $ph))
    (call $ret (local.get $ph) (local.get $def)))

  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (call $stream (i32.const 4) (local.get 0) (local.get 1) (local.get 2) (i32.const 0)))
  (func (export "proxy_on_request_body") (param i32 i32 i32) (result i32)
    (call $stream (i32.const 5) (local.get 0) (local.get 1) (local.get 2) (i32.const 0)))
  (func (export "proxy_on_request_trailers") (param i32 i32) (result i32)
    (call $stream (i32.const 6) (local.get 0) (local.get 1) (i32.const 0) (i32.const 0)))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (call $stream (i32.const 7) (local.get 0) (local.get 1) (local.get 2) (i32.const 0)))
  (func (export "proxy_on_response_body") (param i32 i32 i32) (result i32)
    (call $stream (i32.const 8) (local.get 0) (local.get 1) (local.get 2) (i32.const 0)))
  (func (export "proxy_on_response_trailers") (param i32 i32) (result i32)
    (call $stream (i32.const 9) (local.get 0) (local.get 1) (i32.const 0) (i32.const 0)))
  (func (export "proxy_on_done") (param i32) (result i32)
    (call $stream (i32.const 10) (local.get 0) (i32.const 0) (i32.const 0) (i32.const 1)))
  (func (export "proxy_on_log") (param i32)
    (drop (call $stream (i32.const 11) (local.get 0) (i32.const 0) (i32.const 0) (i32.const 0))))
  (func (export "proxy_on_delete") (param i32)
    (drop (call $stream (i32.const 12) (local.get 0) (i32.const 0) (i32.const 0) (i32.const 0))))
  (func (export "proxy_on_tick") (param i32)
    (drop (call $stream (i32.const 13) (local.get 0) (i32.const 0) (i32.const 0) (i32.const 0))))
  (func (export "proxy_on_queue_ready") (param i32 i32)
    (drop (call $stream (i32.const 14) (local.get 0) (local.get 1) (i32.const 0) (i32.const 0))))
  (func (export "proxy_on_http_call_response") (param i32 i32 i32 i32 i32)
    (drop (call $stream (i32.const 15) (local.get 0) (local.get 1) (local.get 2) (i32.const 0))))
  (func (export "proxy_on_foreign_function") (param i32 i32 i32)
    (drop (call $stream (i32.const 16) (local.get 0) (local.get 1) (local.get 2) (i32.const 0))))
)
