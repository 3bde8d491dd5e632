;; abuse.wat — misbehaving guest of the wasmgate conformance suite.
;;
;; Build (from conformance/):  wat2wasm guests/abuse.wat -o guests/abuse.wasm
;; or `make guests`.
;;
;; The plugin configuration (and, for "trap 0", the VM configuration)
;; selects the misbehaviour. Stream misbehaviour only fires for requests
;; carrying an "x-abuse" header, so well-behaved requests can share the
;; plugin:
;;
;;   loop            spin forever in proxy_on_request_headers
;;   loop-configure  spin forever in proxy_on_configure
;;   bomb            memory.grow until it fails, then keep touching every
;;                   page forever (proxy_on_request_headers)
;;   bomb-abort      memory.grow until it fails, then trap (what an
;;                   allocator does when it runs out of memory)
;;   trap <phase>    unreachable in the callback of that phase number
;;                   (see script.go: 0 vm_start, 1 configure, 3 stream
;;                   context_create, 4 request_headers … 12 delete, 13 tick)
;;   recurse-exp     exponential recursion without any loop (f(n) calls
;;                   f(n-1) twice, n = 64): runs practically forever yet
;;                   never reaches a loop header (proxy_on_request_headers)
;;   recurse-deep    unbounded recursion: exhausts the stack
;;   alloc-zero      after configuration proxy_on_memory_allocate returns 0,
;;   alloc-oob       … returns 0xffffff00,
;;   alloc-straddle  … returns a pointer 8 bytes before the end of memory,
;;   alloc-trap      … traps;
;;                   proxy_on_request_headers and proxy_on_request_body then
;;                   ask the host for data and log each status:
;;                   "cf res <n> <status>".
;;
;; Every callback logs "cf cb <phase> <export> <ctx> <a> <b> <c> <instance>".
(module
  (import "env" "proxy_log" (func $proxy_log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_current_time_nanoseconds" (func $proxy_get_current_time_nanoseconds (param i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $proxy_get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $proxy_get_header_map_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_pairs" (func $proxy_get_header_map_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $proxy_get_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_tick_period_milliseconds" (func $proxy_set_tick_period_milliseconds (param i32) (result i32)))

  (memory (export "memory") 2)

  (global $heap (mut i32) (i32.const 0x10000))
  (global $out (mut i32) (i32.const 0x1000))
  (global $inst (mut i64) (i64.const 0))
  (global $mode (mut i32) (i32.const 0))
  (global $arg (mut i32) (i32.const -1))
  (global $amode (mut i32) (i32.const 0))
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

  (data (i32.const 0x800) "cf cb res x-abuse")
  ;; "cf " 0x800/3, "cb " 0x803/3, "res " 0x806/4, "x-abuse" 0x80a/7
  (data (i32.const 0x820) ":pathrequest\00path")
  ;; ":path" 0x820/5, "request\0path" 0x825/12
  (data (i32.const 0x840) "loop-configure\00loop\00bomb-abort\00bomb\00trap \00alloc-zero\00alloc-oob\00alloc-straddle\00alloc-trap\00recurse-exp\00recurse-deep\00\00")
  ;; mode names, NUL separated, in mode order 2,1,4,3,5,6,7,8,9,10,11
  (data (i32.const 0x8c0) "\02\01\04\03\05\06\07\08\09\0a\0b")

  (func (export "proxy_abi_version_0_2_1"))

  (func $memend (result i64)
    (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)))

  (func (export "proxy_on_memory_allocate") (param $n i32) (result i32)
    (local $p i32) (local $end i64)
    (if (i32.eq (global.get $amode) (i32.const 6)) (then (return (i32.const 0))))
    (if (i32.eq (global.get $amode) (i32.const 7)) (then (return (i32.const 0xffffff00))))
    (if (i32.eq (global.get $amode) (i32.const 8))
      (then (return (i32.wrap_i64 (i64.sub (call $memend) (i64.const 8))))))
    (if (i32.eq (global.get $amode) (i32.const 9)) (then unreachable))
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

  (func $result (param $n i32) (param $st i32)
    (call $begin)
    (call $puts (i32.const 0x806) (i32.const 4))
    (call $putu32 (local.get $n)) (call $sp)
    (call $putu32 (local.get $st))
    (call $flush))

  ;; Reads the configuration buffer t and sets $mode/$arg from it.
  (func $configure (param $t i32) (param $size i32)
    (local $p i32) (local $n i32) (local $m i32) (local $k i32) (local $i i32) (local $v i32)
    (if (i32.eqz (local.get $size)) (then (return)))
    (if (call $proxy_get_buffer_bytes (local.get $t) (i32.const 0) (local.get $size)
          (i32.const 0x148) (i32.const 0x14c))
      (then (return)))
    (local.set $p (i32.load (i32.const 0x148)))
    (local.set $n (i32.load (i32.const 0x14c)))
    ;; walk the NUL-separated mode names; first prefix match wins
    (local.set $m (i32.const 0x840))
    (block $found
      (loop $next
        (local.set $k (i32.const 0))
        (block $mismatch
          (loop $cmp
            (if (i32.eqz (i32.load8_u (i32.add (local.get $m) (local.get $k))))
              (then (br $found)))
            (br_if $mismatch (i32.ge_u (local.get $k) (local.get $n)))
            (br_if $mismatch (i32.ne (i32.load8_u (i32.add (local.get $m) (local.get $k)))
                                     (i32.load8_u (i32.add (local.get $p) (local.get $k)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $cmp)))
        ;; skip to the next name
        (loop $skip
          (local.set $m (i32.add (local.get $m) (i32.const 1)))
          (br_if $skip (i32.load8_u (i32.sub (local.get $m) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $next (i32.load8_u (local.get $m)))
        (return)))
    (global.set $mode (i32.load8_u (i32.add (i32.const 0x8c0) (local.get $i))))
    ;; decimal argument after the name
    (if (i32.lt_u (local.get $k) (local.get $n))
      (then
        (block $end
          (loop $dig
            (br_if $end (i32.ge_u (local.get $k) (local.get $n)))
            (local.set $i (i32.sub (i32.load8_u (i32.add (local.get $p) (local.get $k))) (i32.const 48)))
            (br_if $end (i32.gt_u (local.get $i) (i32.const 9)))
            (local.set $v (i32.add (i32.mul (local.get $v) (i32.const 10)) (local.get $i)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $dig)))
        (global.set $arg (local.get $v)))))

  (func $abusive (param $ctx i32) (result i32)
    (i32.load8_u (i32.add (i32.const 0x2000) (i32.and (local.get $ctx) (i32.const 0xfff)))))

  (func $maybe_trap (param $ph i32) (param $ctx i32)
    (if (i32.and (i32.eq (global.get $mode) (i32.const 5)) (i32.eq (global.get $arg) (local.get $ph)))
      (then
        (if (i32.or (i32.le_u (local.get $ph) (i32.const 3)) (i32.eq (local.get $ph) (i32.const 13)))
          (then unreachable))
        (if (call $abusive (local.get $ctx)) (then unreachable)))))

  (func $spin (loop $l (br $l)))

  (func $alloc_mode (result i32)
    (i32.and (i32.ge_u (global.get $mode) (i32.const 6)) (i32.le_u (global.get $mode) (i32.const 9))))

  ;; 2^n calls, no loop anywhere.
  (func $exp (param $n i64)
    (if (i64.eqz (local.get $n)) (then (return)))
    (call $exp (i64.sub (local.get $n) (i64.const 1)))
    (call $exp (i64.sub (local.get $n) (i64.const 1))))

  ;; Recursion until the stack is exhausted (the add defeats tail-call
  ;; elimination).
  (func $deep (param $n i32) (result i32)
    (i32.add (call $deep (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))

  (func $bomb (param $abort i32)
    (local $pages i32) (local $i i32)
    (block $full
      (loop $grow
        (br_if $full (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $grow)))
    (if (local.get $abort) (then unreachable))
    (local.set $pages (memory.size))
    (loop $touch
      (local.set $i (i32.const 0))
      (loop $page
        (i32.store (i32.shl (local.get $i) (i32.const 16)) (local.get $i))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $page (i32.lt_u (local.get $i) (local.get $pages))))
      (br $touch)))

  (func $probe_alloc (param $body i32)
    (if (local.get $body)
      (then
        (call $result (i32.const 4)
          (call $proxy_get_buffer_bytes (i32.const 0) (i32.const 0) (i32.const 1024)
            (i32.const 0x148) (i32.const 0x14c)))
        (return)))
    (call $result (i32.const 1)
      (call $proxy_get_header_map_pairs (i32.const 0) (i32.const 0x148) (i32.const 0x14c)))
    (call $result (i32.const 2)
      (call $proxy_get_header_map_value (i32.const 0) (i32.const 0x820) (i32.const 5)
        (i32.const 0x148) (i32.const 0x14c)))
    (call $result (i32.const 3)
      (call $proxy_get_property (i32.const 0x825) (i32.const 12) (i32.const 0x148) (i32.const 0x14c))))

  (func (export "proxy_on_context_create") (param $ctx i32) (param $parent i32)
    (call $trace (select (i32.const 3) (i32.const 2) (local.get $parent))
      (local.get $ctx) (local.get $parent) (i32.const 0) (i32.const 0))
    (if (local.get $parent)
      (then
        (i32.store8 (i32.add (i32.const 0x2000) (i32.and (local.get $ctx) (i32.const 0xfff))) (i32.const 0))
        (call $maybe_trap (i32.const 3) (local.get $ctx)))))

  (func (export "proxy_on_vm_start") (param $ctx i32) (param $size i32) (result i32)
    (call $trace (i32.const 0) (local.get $ctx) (local.get $size) (i32.const 0) (i32.const 0))
    (call $configure (i32.const 6) (local.get $size))
    (call $maybe_trap (i32.const 0) (local.get $ctx))
    (global.set $mode (i32.const 0))
    (i32.const 1))

  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (call $trace (i32.const 1) (local.get $ctx) (local.get $size) (i32.const 0) (i32.const 0))
    (call $configure (i32.const 7) (local.get $size))
    (call $maybe_trap (i32.const 1) (local.get $ctx))
    (if (i32.eq (global.get $mode) (i32.const 2)) (then (call $spin)))
    (if (i32.and (i32.eq (global.get $mode) (i32.const 5)) (i32.eq (global.get $arg) (i32.const 13)))
      (then (drop (call $proxy_set_tick_period_milliseconds (i32.const 10)))))
    (if (call $alloc_mode) (then (global.set $amode (global.get $mode))))
    (i32.const 1))

  (func (export "proxy_on_request_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $trace (i32.const 4) (local.get $ctx) (local.get $n) (local.get $eos) (i32.const 0))
    (if (call $alloc_mode)
      (then (call $probe_alloc (i32.const 0)) (return (i32.const 0))))
    (if (i32.eqz (call $proxy_get_header_map_value (i32.const 0) (i32.const 0x80a) (i32.const 7)
                   (i32.const 0x148) (i32.const 0x14c)))
      (then (i32.store8 (i32.add (i32.const 0x2000) (i32.and (local.get $ctx) (i32.const 0xfff))) (i32.const 1))))
    (if (call $abusive (local.get $ctx))
      (then
        (if (i32.eq (global.get $mode) (i32.const 1)) (then (call $spin)))
        (if (i32.eq (global.get $mode) (i32.const 3)) (then (call $bomb (i32.const 0))))
        (if (i32.eq (global.get $mode) (i32.const 4)) (then (call $bomb (i32.const 1))))
        (if (i32.eq (global.get $mode) (i32.const 10)) (then (call $exp (i64.const 64))))
        (if (i32.eq (global.get $mode) (i32.const 11)) (then (drop (call $deep (i32.const 0)))))))
    (call $maybe_trap (i32.const 4) (local.get $ctx))
    (i32.const 0))

  (func $cb (param $ph i32) (param $ctx i32) (param $a i32) (param $b i32) (param $def i32) (result i32)
    (call $trace (local.get $ph) (local.get $ctx) (local.get $a) (local.get $b) (i32.const 0))
    (call $maybe_trap (local.get $ph) (local.get $ctx))
    (local.get $def))

  (func (export "proxy_on_request_body") (param i32 i32 i32) (result i32)
    (if (call $alloc_mode) (then (call $probe_alloc (i32.const 1))))
    (call $cb (i32.const 5) (local.get 0) (local.get 1) (local.get 2) (i32.const 0)))
  (func (export "proxy_on_request_trailers") (param i32 i32) (result i32)
    (call $cb (i32.const 6) (local.get 0) (local.get 1) (i32.const 0) (i32.const 0)))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (call $cb (i32.const 7) (local.get 0) (local.get 1) (local.get 2) (i32.const 0)))
  (func (export "proxy_on_response_body") (param i32 i32 i32) (result i32)
    (call $cb (i32.const 8) (local.get 0) (local.get 1) (local.get 2) (i32.const 0)))
  (func (export "proxy_on_response_trailers") (param i32 i32) (result i32)
    (call $cb (i32.const 9) (local.get 0) (local.get 1) (i32.const 0) (i32.const 0)))
  (func (export "proxy_on_done") (param i32) (result i32)
    (call $cb (i32.const 10) (local.get 0) (i32.const 0) (i32.const 0) (i32.const 1)))
  (func (export "proxy_on_log") (param i32)
    (drop (call $cb (i32.const 11) (local.get 0) (i32.const 0) (i32.const 0) (i32.const 0))))
  (func (export "proxy_on_delete") (param i32)
    (drop (call $cb (i32.const 12) (local.get 0) (i32.const 0) (i32.const 0) (i32.const 0))))
  (func (export "proxy_on_tick") (param i32)
    (drop (call $cb (i32.const 13) (local.get 0) (i32.const 0) (i32.const 0) (i32.const 0))))
)
