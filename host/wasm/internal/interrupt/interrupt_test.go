package interrupt

// The modules in testdata/ are built from the .wat files next to them:
//
//	make -C host/wasm/internal/interrupt/testdata
//
// (needs wabt's wat2wasm; the Makefile lists the per-file feature flags).
// Modules that wabt 1.0.32 cannot assemble (try_table, typed function
// references) are hand-assembled in handbuilt_test.go.

//go:generate make -C testdata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// All the wazero features the tests may need.
const allFeatures = api.CoreFeaturesV2 |
	experimental.CoreFeaturesTailCall |
	experimental.CoreFeaturesExceptionHandling |
	experimental.CoreFeaturesThreads |
	experimental.CoreFeaturesTypedFunctionReferences

// testdataModule describes a checked-in test module.
type testdataModule struct {
	name     string
	validate []string // wasm-validate flags; the module is also decoded by it
	runs     bool     // wazero can compile and run it
}

var testdataModules = []testdataModule{
	{name: "loop", runs: true},
	{name: "nested", runs: true},
	{name: "env", runs: true},
	{name: "imports", runs: true},
	{name: "bare", runs: true},
	{name: "empty", runs: true},
	{name: "features", runs: true},
	{name: "tailcall", validate: []string{"--enable-tail-call"}, runs: true},
	{name: "exceptions", validate: []string{"--enable-exceptions"}}, // wazero runs only the exnref form
	{name: "threads", validate: []string{"--enable-threads"}, runs: true},
	{name: "relaxed", validate: []string{"--enable-relaxed-simd"}},
	{name: "multimem", validate: []string{"--enable-multi-memory", "--enable-memory64"}},
}

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustInstrument(tb testing.TB, wasm []byte) []byte {
	tb.Helper()
	out, err := Instrument(wasm)
	if err != nil {
		tb.Fatalf("Instrument: %v", err)
	}
	return out
}

// prologue is the code Instrument inserts at the start of a loop body, spelled
// out independently of loopPrologue: the flag check and, for a module with
// a memory, the counter update and the yield.
func prologue(flag uint32, memory, mem64 bool) []byte {
	p := append(appendU32([]byte{0x23}, flag), 0x04, 0x40, 0x00, 0x0b) // global.get $flag, if, unreachable, end
	if !memory {
		return p
	}
	tick := u32(flag + 1)
	p = cat(p, []byte{0x23}, tick, []byte{0x41, 0x01, 0x6a}, []byte{0x24}, tick) // tick++
	p = cat(p, []byte{0x23}, tick, []byte{0x41, 0xff, 0xff, 0x03, 0x71, 0x45})   // tick & 0xffff == 0
	if mem64 {
		return cat(p, []byte{0x04, 0x40, 0x42, 0x00, 0x40, 0x00, 0x1a, 0x0b}) // if (drop (memory.grow (i64.const 0))) end
	}
	return cat(p, []byte{0x04, 0x40, 0x41, 0x00, 0x40, 0x00, 0x1a, 0x0b}) // if (drop (memory.grow (i32.const 0))) end
}

// codeBodies returns the [start, end) offsets of the function bodies
// (locals and instructions) of m.
func codeBodies(tb testing.TB, m *module) [][2]int {
	tb.Helper()
	if m.code < 0 {
		return nil
	}
	s := m.sections[m.code]
	r := &reader{buf: m.wasm[:s.end], pos: s.payload}
	n, err := r.u32()
	if err != nil {
		tb.Fatal(err)
	}
	var bodies [][2]int
	for ; n > 0; n-- {
		size, err := r.u32()
		if err != nil {
			tb.Fatal(err)
		}
		bodies = append(bodies, [2]int{r.pos, r.pos + int(size)})
		if err := r.skip(int(size)); err != nil {
			tb.Fatal(err)
		}
	}
	return bodies
}

// checkInstrumented verifies out = Instrument(in) structurally: same
// header; every section of in other than global, export and code appears
// in out unchanged and in the same order; the global and export sections
// gained exactly the flag global (and the counter if there is a memory) and
// the flag's export; each function body of out has the prologue right after
// the block type of every loop, and removing the prologues gives back the
// original body byte for byte.
func checkInstrumented(tb testing.TB, in, out []byte) (loops int) {
	tb.Helper()
	mi, err := parse(in)
	if err != nil {
		tb.Fatalf("parse input: %v", err)
	}
	mo, err := parse(out)
	if err != nil {
		tb.Fatalf("parse output: %v", err)
	}
	if !bytes.Equal(in[:8], out[:8]) {
		tb.Fatalf("header changed: % x -> % x", in[:8], out[:8])
	}
	kept := func(m *module) (secs [][]byte) {
		for _, s := range m.sections {
			if s.id != secGlobal && s.id != secExport && s.id != secCode && s.id != secData {
				secs = append(secs, m.wasm[s.start:s.end])
			}
		}
		return secs
	}
	ki, ko := kept(mi), kept(mo)
	if len(ki) != len(ko) {
		tb.Fatalf("other sections: %d in input, %d in output", len(ki), len(ko))
	}
	for i := range ki {
		if !bytes.Equal(ki[i], ko[i]) {
			tb.Fatalf("section %d (id %d) changed", i, ki[i][0])
		}
	}
	if mi.importedGlobals != mo.importedGlobals || mi.importedFuncs != mo.importedFuncs {
		tb.Fatalf("imports changed")
	}
	// Data segments may be merged, but must write the same bytes.
	if (mi.data >= 0) != (mo.data >= 0) {
		tb.Fatalf("data section added or removed")
	}
	if mi.data >= 0 {
		di := dataImage(tb, in[mi.sections[mi.data].payload:mi.sections[mi.data].end])
		do := dataImage(tb, out[mo.sections[mo.data].payload:mo.sections[mo.data].end])
		if !bytes.Equal(di, do) {
			tb.Fatalf("data segments write other bytes (%d vs %d bytes of memory)", len(di), len(do))
		}
	}
	flag := mi.importedGlobals + mi.definedGlobals
	memory := mi.memories > 0

	// Global section: the old entries, then the flag and the counter.
	added := uint32(1)
	if memory {
		added = 2
	}
	if mo.global < 0 || mo.definedGlobals != mi.definedGlobals+added {
		tb.Fatalf("global section: %d defined globals, want %d", mo.definedGlobals, mi.definedGlobals+added)
	}
	var oldGlobals []byte
	if mi.global >= 0 {
		oldGlobals = in[mi.globalEntries:mi.sections[mi.global].end]
	}
	wantGlobals := append(bytes.Clone(oldGlobals), 0x7f, 0x01, 0x41, 0x00, 0x0b) // (mut i32) (i32.const 0)
	if memory {
		wantGlobals = append(wantGlobals, 0x7f, 0x01, 0x41, 0x00, 0x0b)
	}
	if got := out[mo.globalEntries:mo.sections[mo.global].end]; !bytes.Equal(got, wantGlobals) {
		tb.Fatalf("global entries = % x, want % x", got, wantGlobals)
	}

	// Export section: the old entries, then the flag's export (and the
	// counter's).
	if mo.export < 0 || mo.exports != mi.exports+added {
		tb.Fatalf("export section: %d exports, want %d", mo.exports, mi.exports+added)
	}
	var oldExports []byte
	if mi.export >= 0 {
		oldExports = in[mi.exportEntries:mi.sections[mi.export].end]
	}
	wantExports := append(bytes.Clone(oldExports), byte(len(ExportName)))
	wantExports = append(wantExports, ExportName...)
	wantExports = appendU32(append(wantExports, kindGlobal), flag)
	if memory {
		wantExports = append(wantExports, byte(len(TicksExportName)))
		wantExports = append(wantExports, TicksExportName...)
		wantExports = appendU32(append(wantExports, kindGlobal), flag+1)
	}
	if got := out[mo.exportEntries:mo.sections[mo.export].end]; !bytes.Equal(got, wantExports) {
		tb.Fatalf("export entries = % x, want % x", got, wantExports)
	}

	// Code: checks after every loop header, nothing else changed.
	bi, bo := codeBodies(tb, mi), codeBodies(tb, mo)
	if len(bi) != len(bo) {
		tb.Fatalf("%d bodies in input, %d in output", len(bi), len(bo))
	}
	check := prologue(flag, memory, mi.mem64)
	for f := range bi {
		w := walker{r: reader{buf: out[:bo[f][1]], pos: bo[f][0]}}
		at, err := w.walk(nil)
		if err != nil {
			tb.Fatalf("body %d: walk output: %v", f, err)
		}
		var stripped []byte
		prev := bo[f][0]
		for _, l := range at {
			if !bytes.HasPrefix(out[l:bo[f][1]], check) {
				tb.Fatalf("body %d: loop at offset %d has no prologue", f, l)
			}
			stripped = append(stripped, out[prev:l]...)
			prev = l + len(check)
		}
		stripped = append(stripped, out[prev:bo[f][1]]...)
		if !bytes.Equal(stripped, in[bi[f][0]:bi[f][1]]) {
			tb.Fatalf("body %d differs from the input beyond the inserted prologues", f)
		}
		loops += len(at)
	}

	// Instrumenting twice is refused.
	if _, err := Instrument(out); !errors.Is(err, ErrAlreadyInstrumented) {
		tb.Fatalf("Instrument(instrumented) = %v, want ErrAlreadyInstrumented", err)
	}
	return loops
}

func TestRejectsStartFunction(t *testing.T) {
	if _, err := Instrument(readTestdata(t, "start")); !errors.Is(err, ErrStartFunction) {
		t.Fatalf("a module with a start function: %v, want ErrStartFunction", err)
	}
}

func TestRejectsImpossibleCounts(t *testing.T) {
	tests := map[string][]byte{
		// A function section claiming 2^32-1 entries in 5 bytes.
		"huge function count": {0, 'a', 's', 'm', 1, 0, 0, 0, 3, 5, 0xff, 0xff, 0xff, 0xff, 0x0f},
		// A body declaring 2^32-1 locals.
		"huge locals": {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0,
			10, 10, 1, 8, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 0x0b},
	}
	for name, wasm := range tests {
		if _, err := Instrument(wasm); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestInstrumentTestdata(t *testing.T) {
	// Checks inserted: one per loop plus one per defined function, less
	// the functions whose straight-line start leads to a loop (its check
	// comes first).
	wantLoops := map[string]int{
		"loop": 2 + 3 - 2, "nested": 5 + 5 - 4, "env": 0 + 1, "imports": 1 + 2 - 1, "bare": 1 + 1 - 1, "empty": 0,
		"features": 4 + 8 - 2, "tailcall": 1 + 1 - 1, "exceptions": 2 + 2 - 1, "threads": 1 + 1 - 1, "relaxed": 1 + 1 - 1, "multimem": 1 + 1 - 1,
	}
	for _, tc := range testdataModules {
		t.Run(tc.name, func(t *testing.T) {
			in := readTestdata(t, tc.name)
			orig := bytes.Clone(in)
			out := mustInstrument(t, in)
			if !bytes.Equal(in, orig) {
				t.Fatal("Instrument modified its input")
			}
			if got := checkInstrumented(t, in, out); got != wantLoops[tc.name] {
				t.Errorf("%d loops instrumented, want %d", got, wantLoops[tc.name])
			}
			if tc.runs {
				cm, err := newRuntime(t, allFeatures).CompileModule(context.Background(), out)
				if err != nil {
					t.Fatalf("wazero rejects the instrumented module: %v", err)
				}
				_ = cm.Close(context.Background())
			}
			wabtValidate(t, out, tc.validate...)
		})
	}
}

// wabtValidate checks wasm with wabt's wasm-validate, an independent
// decoder and validator, when it is installed.
func wabtValidate(t *testing.T, wasm []byte, flags ...string) {
	t.Helper()
	validate, err := exec.LookPath("wasm-validate")
	if err != nil {
		return
	}
	path := filepath.Join(t.TempDir(), "module.wasm")
	if err := os.WriteFile(path, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(validate, append(flags, path)...).CombinedOutput(); err != nil {
		t.Errorf("wasm-validate: %v\n%s", err, b)
	}
}

// newRuntime returns a compiler runtime without CloseOnContextDone, closed
// at the end of the test.
func newRuntime(tb testing.TB, features api.CoreFeatures) wazero.Runtime {
	tb.Helper()
	ctx := context.Background()
	cfg := wazero.NewRuntimeConfigCompiler().WithCoreFeatures(features)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	tb.Cleanup(func() { _ = rt.Close(ctx) })
	return rt
}

type call struct {
	fn   string
	args []uint64
	want []uint64 // nil: only compare the original and the instrumented module
}

// runCalls instantiates wasm in a fresh runtime (after the "env" and "host"
// modules) and returns the results of calls and what the start function
// reported through host.report.
func runCalls(t *testing.T, wasm []byte, features api.CoreFeatures, calls []call) (results [][]uint64, reported []uint32) {
	t.Helper()
	ctx := context.Background()
	rt := newRuntime(t, features)
	if _, err := rt.NewHostModuleBuilder("host").
		NewFunctionBuilder().WithFunc(func(v uint32) { reported = append(reported, v) }).Export("report").
		Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.InstantiateWithConfig(ctx, readTestdata(t, "env"), wazero.NewModuleConfig().WithName("env")); err != nil {
		t.Fatal(err)
	}
	mod, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName("guest"))
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	for _, c := range calls {
		fn := mod.ExportedFunction(c.fn)
		if fn == nil {
			t.Fatalf("no export %q", c.fn)
		}
		res, err := fn.Call(ctx, c.args...)
		if err != nil {
			t.Fatalf("%s%v: %v", c.fn, c.args, err)
		}
		results = append(results, res)
	}
	if g, ok := mod.ExportedGlobal(ExportName).(api.MutableGlobal); ok {
		if g.Type() != api.ValueTypeI32 || g.Get() != 0 {
			t.Errorf("flag global: type %v value %d, want i32 0", g.Type(), g.Get())
		}
	}
	return results, reported
}

func TestSameResults(t *testing.T) {
	f64 := api.EncodeF64
	tests := []struct {
		name     string
		features api.CoreFeatures
		calls    []call
		report   []uint32 // what the start function reports
	}{
		{name: "loop", calls: []call{
			{fn: "count", args: []uint64{0}, want: []uint64{0}},
			{fn: "count", args: []uint64{1000}, want: []uint64{499500}},
			{fn: "add", args: []uint64{2, 3}, want: []uint64{5}},
		}},
		{name: "nested", calls: []call{
			{fn: "collatz", args: []uint64{100}},
			{fn: "collatz", args: []uint64{1}, want: []uint64{0}},
			{fn: "machine", args: []uint64{1}, want: []uint64{1}},
			{fn: "machine", args: []uint64{25}},
			{fn: "fib", args: []uint64{10}, want: []uint64{55}},
			{fn: "fib", args: []uint64{0}, want: []uint64{0}},
			{fn: "deep", args: []uint64{50}, want: []uint64{20}},
		}},
		{name: "imports", calls: []call{
			{fn: "run", args: []uint64{10}, want: []uint64{1070}},
			{fn: "bump", args: []uint64{5}},
			{fn: "run", args: []uint64{3}, want: []uint64{1091}},
		}},
		{name: "bare"},
		{name: "empty"},
		{name: "features", calls: []call{
			{fn: "init"},
			{fn: "simd", args: []uint64{1}},
			{fn: "simd", args: []uint64{17}},
			{fn: "bulk", args: []uint64{20}},
			{fn: "refs", args: []uint64{12}},
			{fn: "numeric", args: []uint64{f64(1.75)}},
			{fn: "numeric", args: []uint64{f64(-3e9)}},
		}},
		{name: "tailcall", features: experimental.CoreFeaturesTailCall, calls: []call{
			{fn: "sum", args: []uint64{100, 0}, want: []uint64{5050}},
			{fn: "sum", args: []uint64{100000, 0}, want: []uint64{705082704}}, // 100000*100001/2 mod 2^32,
		}},
		{name: "threads", features: experimental.CoreFeaturesThreads, calls: []call{
			{fn: "atomics", args: []uint64{10}, want: []uint64{45 + 5}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := readTestdata(t, tc.name)
			out := mustInstrument(t, in)
			features := api.CoreFeaturesV2 | tc.features
			want, wantReport := runCalls(t, in, features, tc.calls)
			got, gotReport := runCalls(t, out, features, tc.calls)
			for i, c := range tc.calls {
				if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
					t.Errorf("%s%v: instrumented %v, original %v", c.fn, c.args, got[i], want[i])
				}
				if c.want != nil && fmt.Sprint(got[i]) != fmt.Sprint(c.want) {
					t.Errorf("%s%v = %v, want %v", c.fn, c.args, got[i], c.want)
				}
			}
			if fmt.Sprint(gotReport) != fmt.Sprint(wantReport) || fmt.Sprint(gotReport) != fmt.Sprint(tc.report) {
				t.Errorf("start function reported %v (original %v), want %v", gotReport, wantReport, tc.report)
			}
		})
	}
}

// interruptAfter calls fn in a goroutine, sets the flag global of mod to 1
// from another goroutine after delay and returns how long the call took to
// return after the flag was set and its error. It fails the test
// if the call does not return within a few seconds.
func interruptAfter(t *testing.T, mod api.Module, delay time.Duration, fn string, args ...uint64) (time.Duration, error) {
	t.Helper()
	flag, ok := mod.ExportedGlobal(ExportName).(api.MutableGlobal)
	if !ok {
		t.Fatalf("no mutable global %q", ExportName)
	}
	f := mod.ExportedFunction(fn)
	if f == nil {
		t.Fatalf("no export %q", fn)
	}
	done := make(chan error, 1)
	go func() {
		_, err := f.Call(context.Background(), args...)
		done <- err
	}()
	var setAt atomic.Int64
	go func() {
		time.Sleep(delay)
		setAt.Store(time.Now().UnixNano())
		flag.Set(1)
	}()
	select {
	case err := <-done:
		if setAt.Load() == 0 {
			t.Fatalf("%s returned before the interrupt: %v", fn, err)
		}
		return time.Duration(time.Now().UnixNano() - setAt.Load()), err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return within 10s of the interrupt", fn)
		return 0, nil
	}
}

// requireTrap fails the test unless err is the trap of the check.
func requireTrap(t *testing.T, took time.Duration, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("interrupted call returned no error")
	}
	if !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("interrupted call: %v, want an unreachable trap", err)
	}
	if took > 2*time.Second {
		t.Errorf("call returned %v after the interrupt, want promptly", took)
	}
	t.Logf("trapped %v after the interrupt: %v", took, firstLine(err.Error()))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func TestInterrupt(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		fn   string
		args []uint64
	}{
		{name: "infinite loop", fn: "spin"},
		{name: "long counted loop", fn: "count", args: []uint64{1 << 62}},
	}
	rt := newRuntime(t, api.CoreFeaturesV2)
	cm, err := rt.CompileModule(ctx, mustInstrument(t, readTestdata(t, "loop")))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mod, err := rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName(""))
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close(ctx)
			took, err := interruptAfter(t, mod, 20*time.Millisecond, tc.fn, tc.args...)
			requireTrap(t, took, err)
		})
	}

	t.Run("reset on a fresh instance", func(t *testing.T) {
		mod, err := rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatal(err)
		}
		defer mod.Close(ctx)
		flag := mod.ExportedGlobal(ExportName).(api.MutableGlobal)
		count := mod.ExportedFunction("count")
		flag.Set(1) // a raised flag traps at the first loop iteration
		if _, err := count.Call(ctx, 10); err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("count with the flag set: %v, want an unreachable trap", err)
		}
		// Function entries are checked too, so recursion without loops stops.
		if _, err := mod.ExportedFunction("add").Call(ctx, 1, 2); err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("add with the flag set: %v, want an unreachable trap at its entry", err)
		}
		flag.Set(0)
		res, err := count.Call(ctx, 1000)
		if err != nil || res[0] != 499500 {
			t.Fatalf("count after reset = %v, %v; want 499500", res, err)
		}
	})
}

// TestInterruptDuringGC runs a garbage collection while the guest spins.
// wazero's machine code cannot be preempted, so without the periodic yield
// the collector's stop-the-world phase would wait for the loop forever and
// freeze the whole process (this test would hang until the go test
// timeout).
func TestInterruptDuringGC(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t, api.CoreFeaturesV2)
	mod, err := rt.Instantiate(ctx, mustInstrument(t, readTestdata(t, "loop")))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := mod.ExportedFunction("spin").Call(ctx)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	for i := 0; i < 3; i++ {
		start := time.Now()
		runtime.GC()
		t.Logf("runtime.GC took %v while the guest spun", time.Since(start))
	}
	select {
	case err := <-done:
		t.Fatalf("spin returned before the interrupt: %v", err)
	default:
	}
	start := time.Now()
	mod.ExportedGlobal(ExportName).(api.MutableGlobal).Set(1)
	select {
	case err := <-done:
		requireTrap(t, time.Since(start), err)
	case <-time.After(10 * time.Second):
		t.Fatal("spin did not return within 10s of the interrupt")
	}
}

// FuzzInstrument checks that Instrument never panics, that it returns
// either an output or an error, and that every output has the structure
// checkInstrumented expects (which also instruments it a second time).
//
// It does not hand fuzzed bytes to wazero: wazero v1.12.0's decoder
// allocates vectors by their declared length before reading them, so a
// tiny module declaring 2^32 entries makes CompileModule die of a fatal
// out-of-memory error (for example the 15 bytes of
// mod(sec(secFunction, u32(0xfffffff0)))), which Instrument, not parsing the
// function section, passes through.
func FuzzInstrument(f *testing.F) {
	for _, tc := range testdataModules {
		f.Add(readTestdata(f, tc.name))
	}
	f.Add(tryTableModule())
	f.Add(funcRefModule())
	f.Add(customModule())
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, err := Instrument(wasm)
		if err != nil {
			if out != nil {
				t.Fatalf("output with error %v", err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownOpcode) && !errors.Is(err, ErrAlreadyInstrumented) && !errors.Is(err, ErrStartFunction) {
				t.Fatalf("error %v wraps none of the package's errors", err)
			}
			return
		}
		checkInstrumented(t, wasm, out)
	})
}

// dataImage applies the active data segments of a data section payload (as
// mergeData reads them) to zeroed memory and returns it, trailing zeros
// trimmed; passive segments are skipped.
func dataImage(tb testing.TB, payload []byte) []byte {
	tb.Helper()
	r := &reader{buf: payload}
	n, err := r.u32()
	if err != nil {
		tb.Fatal(err)
	}
	var mem []byte
	for i := uint32(0); i < n; i++ {
		flags, _ := r.u32()
		if flags == 2 {
			r.u32()
		}
		var off int64
		if flags != 1 {
			r.byte() // i32.const
			off, _ = r.signed(32)
			r.byte() // end
		}
		size, _ := r.u32()
		init, err := r.bytes(int(size))
		if err != nil {
			tb.Fatalf("segment %d: %v", i, err)
		}
		if flags == 1 {
			continue
		}
		if end := int(uint32(off)) + len(init); end > len(mem) {
			mem = append(mem, make([]byte, end-len(mem))...)
		}
		copy(mem[uint32(off):], init)
	}
	return bytes.TrimRight(mem, "\x00")
}
