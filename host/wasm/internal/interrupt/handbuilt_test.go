package interrupt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// A tiny assembler for modules that wabt 1.0.32 cannot build and for
// malformed inputs.

func u32(v uint32) []byte { return appendU32(nil, v) }

func str(s string) []byte { return append(u32(uint32(len(s))), s...) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// vec is a vector: the item count, then the items.
func vec(items ...[]byte) []byte { return append(u32(uint32(len(items))), cat(items...)...) }

// sec is a section with the given id and payload.
func sec(id byte, payload ...[]byte) []byte {
	p := cat(payload...)
	return cat([]byte{id}, u32(uint32(len(p))), p)
}

// mod is a module: the header, then the sections.
func mod(sections ...[]byte) []byte { return cat([]byte("\x00asm\x01\x00\x00\x00"), cat(sections...)) }

// body is a size-prefixed function body: locals, then code.
func body(locals []byte, code ...byte) []byte {
	return append(u32(uint32(len(locals)+len(code))), append(bytes.Clone(locals), code...)...)
}

// Common pieces.
var (
	noLocals   = []byte{0x00}
	funcI32I32 = []byte{0x60, 0x01, 0x7f, 0x01, 0x7f} // (func (param i32) (result i32))
	funcVoid   = []byte{0x60, 0x00, 0x00}             // (func)
)

// tryTableModule uses the exnref form of exception handling inside a loop:
//
//	(tag $e (param i32))
//	(func (export "f") (param $n i32) (result i32) (local $acc i32) (local $x exnref)
//	  (loop $l
//	    (block $h (result i32)                         ;; catch: the payload
//	      (try_table (catch $e $h) (throw $e (local.get $n)))
//	      unreachable)
//	    local.get $acc i32.add local.set $acc
//	    (block $r (result exnref)                      ;; catch_all_ref: the exnref
//	      (try_table (catch_all_ref $r) (throw $e (local.get $n)))
//	      unreachable)
//	    local.set $x
//	    (block $h (result i32)
//	      (try_table (catch $e $h) (throw_ref (local.get $x)))
//	      unreachable)
//	    local.get $acc i32.add local.set $acc
//	    (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
//	  (local.get $acc))
//
// f(n) = n(n+1).
func tryTableModule() []byte {
	code := body([]byte{0x02, 0x01, 0x7f, 0x01, 0x69},
		0x03, 0x40, // loop
		0x02, 0x7f, //   block (result i32)
		0x1f, 0x40, 0x01, 0x00, 0x00, 0x00, //     try_table (catch 0 0)
		0x20, 0x00, 0x08, 0x00, //         local.get 0, throw 0
		0x0b, 0x00, //       end, unreachable
		0x0b,                         //   end
		0x20, 0x01, 0x6a, 0x21, 0x01, //   local.get 1, i32.add, local.set 1
		0x02, 0x69, //   block (result exnref)
		0x1f, 0x40, 0x01, 0x03, 0x00, //     try_table (catch_all_ref 0)
		0x20, 0x00, 0x08, 0x00, //         local.get 0, throw 0
		0x0b, 0x00, //       end, unreachable
		0x0b,       //   end
		0x21, 0x02, //   local.set 2
		0x02, 0x7f, //   block (result i32)
		0x1f, 0x40, 0x01, 0x00, 0x00, 0x00, //     try_table (catch 0 0)
		0x20, 0x02, 0x0a, //         local.get 2, throw_ref
		0x0b, 0x00, //       end, unreachable
		0x0b,                         //   end
		0x20, 0x01, 0x6a, 0x21, 0x01, //   local.get 1, i32.add, local.set 1
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, 0x0d, 0x00, // n-1, local.tee 0, br_if 0
		0x0b,       // end
		0x20, 0x01, // local.get 1
		0x0b,
	)
	return mod(
		sec(secType, vec(funcI32I32, []byte{0x60, 0x01, 0x7f, 0x00})),
		sec(secFunction, vec(u32(0))),
		sec(secTag, vec([]byte{0x00, 0x01})),
		sec(secExport, vec(cat(str("f"), []byte{kindFunc, 0x00}))),
		sec(secCode, vec(code)),
	)
}

// funcRefModule uses typed function references inside loops:
//
//	(type $t (func (param i32) (result i32)))
//	(elem declare func $inc)
//	(func $inc (type $t) (i32.add (local.get 0) (i32.const 1)))
//	(func (export "apply") (type $t) (local $acc i32) (local $i i32) (local $f (ref null $t))
//	  (local.set $f (ref.func $inc))
//	  (loop $l
//	    (local.set $acc (call_ref $t (local.get $acc) (ref.as_non_null (local.get $f))))
//	    (block $null
//	      (local.set $acc (call_ref $t (local.get $acc) (br_on_null $null (local.get $f)))))
//	    (drop (block $nn (result (ref $t)) (br_on_non_null $nn (local.get $f)) unreachable))
//	    (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get 0))))
//	  (local.get $acc))
//	(func (export "tail") (type $t)
//	  (loop $l (br_if $l (i32.const 0)))
//	  (return_call_ref $t (local.get 0) (ref.func $inc)))
//
// apply(n) = 2n, tail(x) = x+1.
func funcRefModule() []byte {
	inc := body(noLocals, 0x20, 0x00, 0x41, 0x01, 0x6a, 0x0b)
	apply := body([]byte{0x02, 0x02, 0x7f, 0x01, 0x63, 0x00},
		0xd2, 0x00, 0x21, 0x03, // ref.func 0, local.set 3
		0x03, 0x40, // loop
		0x20, 0x01, 0x20, 0x03, 0xd4, 0x14, 0x00, 0x21, 0x01, // acc = call_ref(acc, ref.as_non_null f)
		0x02, 0x40, //   block
		0x20, 0x01, 0x20, 0x03, 0xd5, 0x00, 0x14, 0x00, 0x21, 0x01, // acc = call_ref(acc, br_on_null 0 f)
		0x0b,             //   end
		0x02, 0x64, 0x00, //   block (result (ref 0))
		0x20, 0x03, 0xd6, 0x00, 0x00, //     local.get 3, br_on_non_null 0, unreachable
		0x0b, 0x1a, //   end, drop
		0x20, 0x02, 0x41, 0x01, 0x6a, 0x22, 0x02, 0x20, 0x00, 0x49, 0x0d, 0x00, // i++ < n: br_if 0
		0x0b,       // end
		0x20, 0x01, // local.get 1
		0x0b,
	)
	tail := body(noLocals,
		0x03, 0x40, 0x41, 0x00, 0x0d, 0x00, 0x0b, // loop (br_if 0 (i32.const 0)) end
		0x20, 0x00, 0xd2, 0x00, 0x15, 0x00, // return_call_ref 0 (local.get 0) (ref.func 0)
		0x0b,
	)
	return mod(
		sec(secType, vec(funcI32I32)),
		sec(secFunction, vec(u32(0), u32(0), u32(0))),
		sec(secExport, vec(
			cat(str("apply"), []byte{kindFunc, 0x01}),
			cat(str("tail"), []byte{kindFunc, 0x02}),
		)),
		sec(secElement, vec([]byte{0x03, 0x00, 0x01, 0x00})), // declarative: func 0
		sec(secCode, vec(inc, apply, tail)),
	)
}

// customModule has custom sections before, between and after the others,
// a memory, a start function with a loop, a data count section and data,
// but neither globals nor exports. Its start function stores the bytes 0..7
// at address 16; the data segment puts "abc" at address 0.
func customModule() []byte {
	code := body([]byte{0x01, 0x01, 0x7f},
		0x03, 0x40, // loop
		0x20, 0x00, 0x20, 0x00, 0x3a, 0x00, 0x10, // i32.store8 offset=16 (i, i)
		0x20, 0x00, 0x41, 0x01, 0x6a, 0x22, 0x00, // local.tee 0 (i+1)
		0x41, 0x08, 0x49, 0x0d, 0x00, // br_if 0 (i < 8)
		0x0b, 0x0b,
	)
	return mod(
		sec(secCustom, str("first"), []byte("payload 1")),
		sec(secType, vec(funcVoid)),
		sec(secFunction, vec(u32(0))),
		sec(secMemory, vec([]byte{0x00, 0x01})),
		sec(secCustom, str("middle")),
		sec(secExport, vec(cat(str("fill"), []byte{kindFunc, 0x00}))),
		sec(secDataCount, u32(1)),
		sec(secCode, vec(code)),
		sec(secData, vec(cat([]byte{0x00, 0x41, 0x00, 0x0b}, str("abc")))),
		sec(secCustom, str("last"), []byte{0xff, 0x00}),
	)
}

// sectionIDs lists the section ids of a module, custom sections as 0.
func sectionIDs(tb testing.TB, wasm []byte) []byte {
	tb.Helper()
	m, err := parse(wasm)
	if err != nil {
		tb.Fatal(err)
	}
	var ids []byte
	for _, s := range m.sections {
		ids = append(ids, s.id)
	}
	return ids
}

func TestHandBuilt(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		wasm     []byte
		features api.CoreFeatures
		ids      []byte // section ids of the output
		calls    []call
		check    func(t *testing.T, mod api.Module, instrumented bool)
	}{
		{
			name:     "try_table",
			wasm:     tryTableModule(),
			features: experimental.CoreFeaturesExceptionHandling,
			ids:      []byte{1, 3, 13, 6, 7, 10},
			calls:    []call{{fn: "f", args: []uint64{10}, want: []uint64{110}}},
		},
		{
			name:     "typed function references",
			wasm:     funcRefModule(),
			features: experimental.CoreFeaturesTypedFunctionReferences | experimental.CoreFeaturesTailCall,
			ids:      []byte{1, 3, 6, 7, 9, 10},
			calls: []call{
				{fn: "apply", args: []uint64{10}, want: []uint64{20}},
				{fn: "tail", args: []uint64{5}, want: []uint64{6}},
			},
		},
		{
			name: "custom sections, data count",
			wasm: customModule(),
			ids:  []byte{0, 1, 3, 5, 6, 0, 7, 12, 10, 11, 0},
			check: func(t *testing.T, mod api.Module, _ bool) {
				if _, err := mod.ExportedFunction("fill").Call(context.Background()); err != nil {
					t.Fatal(err)
				}
				got, _ := mod.Memory().Read(0, 24)
				want := append([]byte("abc"), make([]byte, 13)...)
				want = append(want, 0, 1, 2, 3, 4, 5, 6, 7)
				if !bytes.Equal(got, want) {
					t.Errorf("memory = % x, want % x", got, want)
				}
			},
		},
		{
			name: "global section but no export section",
			wasm: mod(
				sec(secType, vec(funcVoid)),
				sec(secFunction, vec(u32(0))),
				sec(secGlobal, vec([]byte{0x7e, 0x00, 0x42, 0x2a, 0x0b})), // (global i64 (i64.const 42))
				sec(secCode, vec(body(noLocals, 0x03, 0x40, 0x0b, 0x0b))),
			),
			ids: []byte{1, 3, 6, 7, 10},
			check: func(t *testing.T, mod api.Module, instrumented bool) {
				if g := mod.ExportedGlobal(ExportName); instrumented && (g == nil || g.Get() != 0) {
					t.Errorf("flag global %v", g)
				}
			},
		},
		{
			name: "only custom sections",
			wasm: mod(sec(secCustom, str("a")), sec(secCustom, str("b"), []byte("x"))),
			ids:  []byte{6, 7, 0, 0},
		},
		{
			name: "code section without loops",
			wasm: mod(
				sec(secType, vec(funcVoid)),
				sec(secFunction, vec(u32(0), u32(0))),
				sec(secCode, vec(body(noLocals, 0x01, 0x0b), body(noLocals, 0x02, 0x40, 0x0b, 0x0b))),
			),
			ids: []byte{1, 3, 6, 7, 10},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := mustInstrument(t, tc.wasm)
			checkInstrumented(t, tc.wasm, out)
			if got := sectionIDs(t, out); !slices.Equal(got, tc.ids) {
				t.Errorf("output section ids %v, want %v", got, tc.ids)
			}
			for i, wasm := range [][]byte{tc.wasm, out} {
				rt := newRuntime(t, api.CoreFeaturesV2|tc.features)
				mod, err := rt.Instantiate(ctx, wasm)
				if err != nil {
					t.Fatalf("instantiate: %v", err)
				}
				for _, c := range tc.calls {
					res, err := mod.ExportedFunction(c.fn).Call(ctx, c.args...)
					if err != nil || !slices.Equal(res, c.want) {
						t.Errorf("%s%v = %v, %v; want %v", c.fn, c.args, res, err, c.want)
					}
				}
				if tc.check != nil {
					tc.check(t, mod, i == 1)
				}
			}
		})
	}
}

// TestInterruptHandBuilt interrupts a loop that is inside a try_table with
// a catch_all: the trap is not an exception, so the handler must not
// swallow it.
func TestInterruptHandBuilt(t *testing.T) {
	ctx := context.Background()
	// (func (export "spin") (try_table (catch_all 0) (loop $l (br $l))))
	// with a memory, so the instrumented loop yields to the Go scheduler:
	// without one a garbage collection during the spin would stop the
	// world forever (see the package documentation).
	wasm := mod(
		sec(secType, vec(funcVoid)),
		sec(secFunction, vec(u32(0))),
		sec(secMemory, vec([]byte{0x00, 0x01})),
		sec(secExport, vec(cat(str("spin"), []byte{kindFunc, 0x00}))),
		sec(secCode, vec(body(noLocals,
			0x1f, 0x40, 0x01, 0x02, 0x00, // try_table (catch_all 0)
			0x03, 0x40, 0x0c, 0x00, 0x0b, // loop br 0 end
			0x0b, 0x0b))),
	)
	rt := newRuntime(t, api.CoreFeaturesV2|experimental.CoreFeaturesExceptionHandling)
	mod, err := rt.InstantiateWithConfig(ctx, mustInstrument(t, wasm), wazero.NewModuleConfig())
	if err != nil {
		t.Fatal(err)
	}
	took, err := interruptAfter(t, mod, 20*time.Millisecond, "spin")
	requireTrap(t, took, err)
}

func TestInstrumentErrors(t *testing.T) {
	header := []byte("\x00asm\x01\x00\x00\x00")
	types := sec(secType, vec(funcVoid))
	// fn returns a module with one imported function and one defined
	// function (index 1) with the given code.
	fn := func(code ...byte) []byte {
		return mod(
			types,
			sec(secImport, vec(cat(str("m"), str("f"), []byte{kindFunc, 0x00}))),
			sec(secFunction, vec(u32(0))),
			sec(secCode, vec(body(noLocals, code...))),
		)
	}
	tests := []struct {
		name string
		wasm []byte
		is   error
		msg  string // a substring of the message
	}{
		{"nil", nil, ErrMalformed, "bad magic"},
		{"short header", header[:6], ErrMalformed, "bad magic"},
		{"bad magic", []byte("\x00wasm\x01\x00\x00"), ErrMalformed, "bad magic"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), ErrMalformed, "version 0d 00 01 00"},
		{"section size past end", cat(header, []byte{secType, 0x05, 0x00}), ErrMalformed, "section id 1"},
		{"section size too long", cat(header, []byte{secType, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}), ErrMalformed, "u32 out of range"},
		{"truncated section size", cat(header, []byte{secType, 0x80}), ErrMalformed, "unexpected end"},
		{"unknown section", mod(sec(14)), ErrMalformed, "unknown section id 14"},
		{"out of order", mod(sec(secExport, vec()), types), ErrMalformed, "out of order"},
		{"tag after global", mod(sec(secGlobal, vec()), sec(secTag, vec())), ErrMalformed, "out of order"},
		{"repeated", mod(types, types), ErrMalformed, "section id 1 out of order or repeated"},
		{"custom section without name", mod(sec(secCustom)), ErrMalformed, "custom section name"},
		{"custom name too long", mod(sec(secCustom, []byte{0x05, 'a'})), ErrMalformed, "custom section name"},
		{"unknown import kind", mod(sec(secImport, vec(cat(str("m"), str("x"), []byte{0x05})))), ErrMalformed, "unknown import kind 0x05"},
		{"bad global import type", mod(sec(secImport, vec(cat(str("m"), str("g"), []byte{kindGlobal, 0x40, 0x00})))), ErrMalformed, "invalid value type 0x40"},
		{"bad global import mutability", mod(sec(secImport, vec(cat(str("m"), str("g"), []byte{kindGlobal, 0x7f, 0x02})))), ErrMalformed, "mutability"},
		{"bad limits", mod(sec(secImport, vec(cat(str("m"), str("mem"), []byte{kindMemory, 0x10, 0x01})))), ErrMalformed, "limits flags"},
		{"bad tag attribute", mod(sec(secImport, vec(cat(str("m"), str("t"), []byte{kindTag, 0x01, 0x00})))), ErrMalformed, "tag attribute"},
		{"import trailing bytes", mod(sec(secImport, vec(), []byte{0x00})), ErrMalformed, "trailing"},
		{"unknown export kind", mod(sec(secExport, vec(cat(str("x"), []byte{0x05, 0x00})))), ErrMalformed, "unknown export kind"},
		{"export trailing bytes", mod(sec(secExport, vec(), []byte{0x00})), ErrMalformed, "trailing"},
		{"already instrumented", mod(sec(secExport, vec(cat(str(ExportName), []byte{kindFunc, 0x00})))), ErrAlreadyInstrumented, "already exports " + ExportName},
		{"too many globals", mod(sec(secGlobal, u32(0xffffffff))), ErrMalformed, "declares 4294967295 entries in 0 bytes"},
		{"code count past end", mod(sec(secCode, u32(2), body(noLocals, 0x0b))), ErrMalformed, "unexpected end"},
		{"code trailing bytes", mod(sec(secCode, vec(body(noLocals, 0x0b)), []byte{0x00})), ErrMalformed, "trailing"},
		{"body without end", fn(0x01), ErrMalformed, "function 1: body ends before its final end"},
		{"bytes after end", fn(0x0b, 0x01), ErrMalformed, "function 1: offset"},
		{"unclosed loop", fn(0x03, 0x40, 0x0b), ErrMalformed, "body ends before its final end"},
		{"bad locals", mod(types, sec(secFunction, vec(u32(0))), sec(secCode, vec(body([]byte{0x01, 0x01, 0x40}, 0x0b)))), ErrMalformed, "function 0: locals"},
		{"unknown opcode", fn(0x27, 0x0b), ErrUnknownOpcode, "function 1: offset 32: opcode 0x27"},
		{"GC prefix", fn(0xfb, 0x00, 0x0b), ErrUnknownOpcode, "function 1: offset 32: opcode 0xfb"},
		{"SIMD gap", fn(0xfd, 0x9a, 0x01, 0x0b), ErrUnknownOpcode, "opcode 0xfd 0x9a"},
		{"SIMD past relaxed", fn(0xfd, 0x94, 0x02, 0x0b), ErrUnknownOpcode, "opcode 0xfd 0x114"},
		{"misc 18", fn(0xfc, 0x12, 0x0b), ErrUnknownOpcode, "opcode 0xfc 0x12"},
		{"atomic 4", fn(0xfe, 0x04, 0x0b), ErrUnknownOpcode, "opcode 0xfe 0x04"},
		{"atomic 0x4f", fn(0xfe, 0x4f, 0x0b), ErrUnknownOpcode, "opcode 0xfe 0x4f"},
		{"atomic.fence reserved byte", fn(0xfe, 0x03, 0x01, 0x0b), ErrMalformed, "atomic.fence"},
		{"negative block type", fn(0x02, 0xff, 0x7f, 0x0b, 0x0b), ErrMalformed, "invalid block type -1"},
		{"bad heap type", fn(0xd0, 0x60, 0x1a, 0x0b), ErrMalformed, "invalid heap type"},
		{"bad catch kind", fn(0x1f, 0x40, 0x01, 0x04, 0x00, 0x0b, 0x0b), ErrMalformed, "catch clause kind 0x04"},
		{"delegate closing the function", fn(0x18, 0x00), ErrMalformed, "delegate outside a try block"},
		{"i32.const out of range", fn(0x41, 0x80, 0x80, 0x80, 0x80, 0x10, 0x1a, 0x0b), ErrMalformed, "s32 out of range"},
		{"i64.const too long", fn(0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x1a, 0x0b), ErrMalformed, "s64"},
		{"truncated memarg", fn(0x28, 0x02), ErrMalformed, "unexpected end"},
		{"truncated v128.const", fn(0xfd, 0x0c, 0x00, 0x00), ErrMalformed, "16 bytes wanted"},
		{"truncated br_table", fn(0x0e, 0x05, 0x00), ErrMalformed, "unexpected end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Instrument(tc.wasm)
			if err == nil {
				t.Fatalf("Instrument = % x, want an error", out)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %q does not wrap %v", err, tc.is)
			}
			if !strings.HasPrefix(err.Error(), "interrupt: ") || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q, want it to start with %q and contain %q", err, "interrupt: ", tc.msg)
			}
			if out != nil {
				t.Errorf("output % x with an error", out)
			}
		})
	}
}

// TestDecodeAccepts checks that instructions whose immediates the testdata
// modules do not exercise decode, and that the loop after them is found.
func TestDecodeAccepts(t *testing.T) {
	loop := []byte{0x03, 0x40, 0x0b} // an empty loop after the instruction
	tests := []struct {
		name string
		code []byte
	}{
		{"memarg with memory index", []byte{0x28, 0x42, 0x01, 0x08, 0x1a}},
		{"memory64 offset", []byte{0x29, 0x03, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x1a}},
		{"memory.size of memory 1", []byte{0x3f, 0x01, 0x1a}},
		{"block type index", []byte{0x02, 0x80, 0x01, 0x0b}},
		{"block type (ref null 3)", []byte{0x02, 0x63, 0x03, 0x0b}},
		{"loop with value type", []byte{0x03, 0x7b, 0x0b}},
		{"ref.null extern", []byte{0xd0, 0x6f, 0x1a}},
		{"ref.null exn", []byte{0xd0, 0x69, 0x1a}},
		{"ref.null type index", []byte{0xd0, 0x05, 0x1a}},
		{"select with types", []byte{0x1c, 0x02, 0x7f, 0x64, 0x70, 0x1a}},
		{"br_table", []byte{0x0e, 0x03, 0x00, 0x01, 0x80, 0x01, 0x02}},
		{"call_indirect table 1", []byte{0x11, 0x00, 0x01}},
		{"return_call_indirect", []byte{0x13, 0x00, 0x00}},
		{"catch_ref", []byte{0x1f, 0x40, 0x02, 0x01, 0x00, 0x00, 0x02, 0x00, 0x0b}},
		{"legacy try/catch/catch_all/rethrow", []byte{0x06, 0x40, 0x07, 0x00, 0x09, 0x00, 0x19, 0x0b}},
		{"legacy try/delegate", []byte{0x06, 0x40, 0x18, 0x00}},
		{"f32.const, f64.const", []byte{0x43, 0, 0, 0x80, 0x3f, 0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x1a, 0x1a}},
		{"i64.const min", []byte{0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f, 0x1a}},
		{"memory.init, memory.copy with u32 indices", []byte{0xfc, 0x08, 0x81, 0x01, 0x00, 0xfc, 0x0a, 0x01, 0x00}},
		{"table ops", []byte{0xfc, 0x0c, 0x00, 0x01, 0xfc, 0x0d, 0x00, 0xfc, 0x0e, 0x01, 0x00, 0xfc, 0x0f, 0x00, 0xfc, 0x10, 0x00, 0xfc, 0x11, 0x00}},
		{"trunc_sat", []byte{0xfc, 0x00, 0xfc, 0x07}},
		{"SIMD lane store", []byte{0xfd, 0x5b, 0x03, 0x00, 0x01}},
		{"SIMD last opcode, relaxed", []byte{0xfd, 0xff, 0x01, 0xfd, 0x80, 0x02, 0xfd, 0x93, 0x02}},
		{"SIMD opcode with padded LEB", []byte{0xfd, 0x8c, 0x80, 0x80, 0x80, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"atomics", []byte{0xfe, 0x00, 0x02, 0x00, 0xfe, 0x03, 0x00, 0xfe, 0x4e, 0x03, 0x00}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := cat(tc.code, loop, []byte{0x0b})
			w := walker{r: reader{buf: body(noLocals, code...)}}
			w.r.pos = sizeU32(uint32(len(code) + 1))
			loops, err := w.walk(nil)
			if err != nil {
				t.Fatalf("walk: %v", err)
			}
			want := w.r.pos - 2 // after the block type of the final loop: 0b (loop end) 0b (function end)
			if len(loops) == 0 || loops[len(loops)-1] != want {
				t.Fatalf("loops at %v, want the last at %d", loops, want)
			}
		})
	}
}

func ExampleInstrument() {
	// (module (func (export "spin") (loop (br 0))))
	wasm := []byte{
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: (func)
		0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
		0x07, 0x08, 0x01, 0x04, 's', 'p', 'i', 'n', 0x00, 0x00, // export section: "spin" func 0
		0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // code: loop br 0 end end
	}
	out, err := Instrument(wasm)
	if err != nil {
		panic(err)
	}
	// The type and function sections are unchanged; a global section is
	// added, the export section gains the flag, and the loop gets the
	// check (the function opens with it, so its entry needs none).
	fmt.Printf("% x\n", out[:18])
	fmt.Printf("% x\n", out[18:26])
	fmt.Printf("% x\n", out[26:57])
	fmt.Printf("% x\n", out[57:])
	// Output:
	// 00 61 73 6d 01 00 00 00 01 04 01 60 00 00 03 02 01 00
	// 06 06 01 7f 01 41 00 0b
	// 07 1d 02 04 73 70 69 6e 00 00 12 77 61 73 6d 67 61 74 65 5f 69 6e 74 65 72 72 75 70 74 03 00
	// 0a 0f 01 0d 00 03 40 23 00 04 40 00 0b 0c 00 0b 0b
}

// TestEntryCheckOnlyWithoutLeadingLoop: a function whose straight-line
// start (locals, block, consts) leads to a loop gets only the loop's check;
// one that can call or branch first keeps its entry check.
func TestEntryCheckOnlyWithoutLeadingLoop(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   []byte
		want int
	}{
		{"opens with a loop", body(noLocals, 0x03, 0x40, 0x0b, 0x0b), 1},
		// (local i32) local.get 0 local.set 0 (block (loop))
		{"straight-line to a loop", body([]byte{0x01, 0x01, 0x7f}, 0x20, 0x00, 0x21, 0x00, 0x02, 0x40, 0x03, 0x40, 0x0b, 0x0b, 0x0b), 1},
		{"a call before the loop", body(noLocals, 0x10, 0x00, 0x03, 0x40, 0x0b, 0x0b), 2},
		{"a branch before the loop", body(noLocals, 0x02, 0x40, 0x0c, 0x00, 0x03, 0x40, 0x0b, 0x0b, 0x0b), 2},
		{"no loop", body(noLocals, 0x0b), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := mod(sec(1, vec(funcVoid)), sec(3, vec([]byte{0x00})), sec(10, vec(tc.fn)))
			out := mustInstrument(t, in)
			if got := checkInstrumented(t, in, out); got != tc.want {
				t.Fatalf("%d checks, want %d", got, tc.want)
			}
		})
	}
}
