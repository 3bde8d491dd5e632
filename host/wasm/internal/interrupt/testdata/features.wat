;; features.wat: SIMD, bulk-memory, reference-type, saturating-truncation,
;; sign-extension and typed-select instructions, each inside a loop so the
;; decoder must step over their immediates to find the loops.
;; Rebuild: wat2wasm features.wat -o features.wasm (see Makefile)
(module
  (type $i2i (func (param i32) (result i32)))
  (memory 1)
  (data $bytes "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10")
  (table $funcs 4 funcref)
  (table $refs 2 externref)
  (elem $fs func $inc $dbl)
  (elem declare func $neg)

  (func $inc (type $i2i) (i32.add (local.get 0) (i32.const 1)))
  (func $dbl (type $i2i) (i32.mul (local.get 0) (i32.const 2)))
  (func $neg (type $i2i) (i32.sub (i32.const 0) (local.get 0)))

  ;; init copies the passive data segment to address 0 and drops it.
  (func (export "init")
    (memory.init $bytes (i32.const 0) (i32.const 0) (i32.const 16))
    (data.drop $bytes))

  ;; simd sums the lanes of a v128 built with const, shuffle, splat, lane
  ;; ops and loads/stores, n times over.
  (func (export "simd") (param $n i32) (result i32)
    (local $v v128) (local $acc i32)
    (loop $l
      (local.set $v
        (i8x16.shuffle 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0
          (v128.load offset=0 align=16 (i32.const 0))
          (v128.const i32x4 1 2 3 4)))
      (local.set $v (i32x4.add (local.get $v) (i32x4.splat (local.get $n))))
      (local.set $v (i32x4.replace_lane 3 (local.get $v) (i32.const 100)))
      (local.set $v (v128.load32_lane 1 (i32.const 4) (local.get $v)))
      (v128.store8_lane 0 (i32.const 32) (local.get $v))
      (v128.store offset=48 (i32.const 0) (v128.load64_zero (i32.const 8)))
      (local.set $v (v128.xor (local.get $v) (v128.load offset=48 (i32.const 0))))
      (local.set $v (i16x8.add_sat_u (local.get $v) (v128.load8x8_u (i32.const 0))))
      (local.set $acc
        (i32.add (local.get $acc)
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
            (i32.add (i32x4.extract_lane 2 (local.get $v))
              (i32.add (i8x16.extract_lane_u 15 (local.get $v)) (i32.load8_u (i32.const 32)))))))
      (local.set $acc (i32.add (local.get $acc) (i8x16.bitmask (i8x16.popcnt (local.get $v)))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (i32.gt_s (local.get $n) (i32.const 0))))
    (local.get $acc))

  ;; bulk fills, copies and sums memory in a loop.
  (func (export "bulk") (param $n i32) (result i32)
    (local $i i32) (local $sum i32)
    (memory.fill (i32.const 100) (i32.const 7) (i32.const 64))
    (loop $l
      (memory.copy (i32.const 200) (i32.const 100) (i32.const 64))
      (memory.fill (i32.add (i32.const 200) (local.get $i)) (local.get $i) (i32.const 1))
      (local.set $sum (i32.add (local.get $sum) (i32.load8_u offset=200 (local.get $i))))
      (local.set $sum (i32.add (local.get $sum) (i32.load16_s align=1 (i32.const 201))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (i32.add (local.get $sum) (i32.div_u (memory.size) (i32.const 1))))

  ;; refs exercises tables and references: table.init/copy/grow/size/fill,
  ;; elem.drop, table.get/set, ref.null, ref.is_null, ref.func,
  ;; call_indirect and a typed select.
  (func (export "refs") (param $n i32) (result i32)
    (local $i i32) (local $acc i32) (local $f funcref)
    (table.init $funcs $fs (i32.const 0) (i32.const 0) (i32.const 2))
    (elem.drop $fs)
    (table.copy $funcs $funcs (i32.const 2) (i32.const 0) (i32.const 2))
    (table.set $funcs (i32.const 3) (ref.func $neg))
    (drop (table.grow $refs (ref.null extern) (i32.const 1)))
    (table.fill $refs (i32.const 0) (ref.null extern) (table.size $refs))
    (loop $l
      (local.set $f (table.get $funcs (i32.and (local.get $i) (i32.const 3))))
      (local.set $f
        (select (result funcref) (local.get $f) (ref.null func)
          (i32.eqz (ref.is_null (local.get $f)))))
      (local.set $acc
        (call_indirect $funcs (type $i2i)
          (i32.add (local.get $acc) (local.get $i))
          (i32.and (local.get $i) (i32.const 3))))
      (local.set $acc (i32.add (local.get $acc) (ref.is_null (table.get $refs (i32.const 0)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (i32.add (local.get $acc) (table.size $funcs)))

  ;; numeric exercises saturating truncation and sign extension.
  (func (export "numeric") (param $x f64) (result i64)
    (local $acc i64) (local $k i32)
    (loop $l
      (local.set $acc
        (i64.add (local.get $acc)
          (i64.add (i64.trunc_sat_f64_s (local.get $x))
            (i64.extend_i32_u (i32.trunc_sat_f32_u (f32.demote_f64 (local.get $x)))))))
      (local.set $acc (i64.add (local.get $acc) (i64.extend8_s (i64.const 0xff))))
      (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_s (i32.extend16_s (i32.const 0x8000)))))
      (local.set $x (f64.mul (local.get $x) (f64.const -2.5)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $k) (i32.const 40))))
    (local.get $acc)))
