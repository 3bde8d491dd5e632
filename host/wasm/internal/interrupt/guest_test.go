package interrupt

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// goGuestSource is a standard-Go reactor. spin runs n rounds of xorshift64
// so the loop cannot be folded away; noop measures the bare call cost.
const goGuestSource = `package main

func main() {}

//go:wasmexport spin
func spin(n int64) int64 {
	x := uint64(88172645463325252)
	for i := int64(0); i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return int64(x)
}

//go:wasmexport noop
func noop() {}
`

// cGuestSource is the same spin function in C.
const cGuestSource = `
__attribute__((export_name("spin")))
unsigned long long spin(unsigned long long n) {
	unsigned long long x = 88172645463325252ull;
	for (unsigned long long i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	return x;
}
`

// spinWant is spin computed natively.
func spinWant(n int64) uint64 {
	x := uint64(88172645463325252)
	for i := int64(0); i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// A guest is built once per test process; its bytes outlive the TempDir it
// was built in.
type builtGuest struct {
	once sync.Once
	wasm []byte
	err  string // why it could not be built
}

var goGuest, cGuest builtGuest

// get builds the guest into dir with build on first use and returns it, or
// skips tb when it cannot be built.
func (g *builtGuest) get(tb testing.TB, build func(dir string) (string, error)) []byte {
	tb.Helper()
	g.once.Do(func() {
		dir := tb.TempDir()
		path, err := build(dir)
		if err != nil {
			g.err = err.Error()
			return
		}
		if g.wasm, err = os.ReadFile(path); err != nil {
			g.err = err.Error()
		}
	})
	if g.wasm == nil {
		tb.Skipf("cannot build the guest: %s", g.err)
	}
	return g.wasm
}

// command runs name with args in dir and returns its error with its output.
func command(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return &buildError{cmd: cmd.String(), err: err, out: string(out)}
	}
	return nil
}

type buildError struct {
	cmd, out string
	err      error
}

func (e *buildError) Error() string { return e.cmd + ": " + e.err.Error() + "\n" + e.out }

// goGuestWasm builds the Go guest with the go command from PATH:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o guest.wasm .
func goGuestWasm(tb testing.TB) []byte {
	return goGuest.get(tb, func(dir string) (string, error) {
		goCmd, err := exec.LookPath("go")
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module guest\n\ngo 1.24\n"), 0o644); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(goGuestSource), 0o644); err != nil {
			return "", err
		}
		env := []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-buildvcs=false"}
		return filepath.Join(dir, "guest.wasm"), command(dir, env, goCmd, "build", "-buildmode=c-shared", "-o", "guest.wasm", ".")
	})
}

// cGuestWasm builds the C guest with clang from PATH, as a WASI reactor if
// wasi-libc and its runtime library are installed, else freestanding.
func cGuestWasm(tb testing.TB) []byte {
	return cGuest.get(tb, func(dir string) (string, error) {
		clang, err := exec.LookPath("clang")
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, "spin.c"), []byte(cGuestSource), 0o644); err != nil {
			return "", err
		}
		out := filepath.Join(dir, "spin.wasm")
		err = command(dir, nil, clang, "--target=wasm32-wasi", "-O2", "-mexec-model=reactor", "-o", out, "spin.c")
		if err == nil {
			return out, nil
		}
		if err2 := command(dir, nil, clang, "--target=wasm32-wasi", "-O2", "-nostdlib", "-Wl,--no-entry", "-o", out, "spin.c"); err2 != nil {
			return "", &buildError{cmd: "both clang builds", err: err2, out: err.Error()}
		}
		return out, nil
	})
}

// instantiateGuest instantiates a WASI guest without running any start
// function, then calls _initialize if it is exported.
func instantiateGuest(tb testing.TB, rt wazero.Runtime, wasm []byte) api.Module {
	tb.Helper()
	ctx := context.Background()
	mod, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		tb.Fatalf("instantiate: %v", err)
	}
	if init := mod.ExportedFunction("_initialize"); init != nil {
		if _, err := init.Call(ctx); err != nil {
			tb.Fatalf("_initialize: %v", err)
		}
	}
	return mod
}

// wasiRuntime returns a compiler runtime with WASI; closeOnDone enables
// WithCloseOnContextDone for comparison benchmarks.
func wasiRuntime(tb testing.TB, closeOnDone bool) wazero.Runtime {
	tb.Helper()
	ctx := context.Background()
	cfg := wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(closeOnDone)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	tb.Cleanup(func() { _ = rt.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	return rt
}

func TestGuests(t *testing.T) {
	tests := []struct {
		name  string
		build func(testing.TB) []byte
	}{
		{"go", goGuestWasm},
		{"clang", cGuestWasm},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wasm := tc.build(t)
			out := mustInstrument(t, wasm)
			loops := checkInstrumented(t, wasm, out)
			t.Logf("%d bytes, %d loops instrumented, +%d bytes", len(wasm), loops, len(out)-len(wasm))
			wabtValidate(t, out)

			rt := wasiRuntime(t, false)
			plain, inst := instantiateGuest(t, rt, wasm), instantiateGuest(t, rt, out)
			for _, n := range []int64{0, 1, 1000, 100000} {
				want := spinWant(n)
				for name, mod := range map[string]api.Module{"original": plain, "instrumented": inst} {
					res, err := mod.ExportedFunction("spin").Call(ctx, uint64(n))
					if err != nil || res[0] != want {
						t.Errorf("%s spin(%d) = %v, %v; want %d", name, n, res, err, want)
					}
				}
			}

			took, err := interruptAfter(t, instantiateGuest(t, rt, out), 20*time.Millisecond, "spin", 1<<62)
			requireTrap(t, took, err)
		})
	}
}

// benchModule instantiates wasm in a fresh WASI runtime, with or without
// CloseOnContextDone.
func benchModule(b *testing.B, wasm []byte, closeOnDone bool) api.Module {
	b.Helper()
	return instantiateGuest(b, wasiRuntime(b, closeOnDone), wasm)
}

func BenchmarkInstrumentGoModule(b *testing.B) {
	wasm := goGuestWasm(b)
	b.SetBytes(int64(len(wasm)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Instrument(wasm); err != nil {
			b.Fatal(err)
		}
	}
}

// hotLoopN is the number of iterations per call in the hot loop benchmarks.
const hotLoopN = 1 << 20

// benchCalls calls fn(args) b.N times and reports ns per loop iteration
// when iters > 0.
func benchCalls(b *testing.B, mod api.Module, fn string, iters int, args ...uint64) {
	b.Helper()
	ctx := context.Background()
	f := mod.ExportedFunction(fn)
	stack := make([]uint64, 2)
	for b.Loop() {
		copy(stack, args)
		if err := f.CallWithStack(ctx, stack); err != nil {
			b.Fatal(err)
		}
	}
	if iters > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(iters), "ns/iter")
	}
}

// variants are the configurations the runtime benchmarks compare: the
// original module, the instrumented one, and the original with wazero's
// own CloseOnContextDone.
var variants = []struct {
	name        string
	instrument  bool
	closeOnDone bool
}{
	{"plain", false, false},
	{"instrumented", true, false},
	{"closeOnContextDone", false, true},
}

func variantWasm(b *testing.B, wasm []byte, instrument bool) []byte {
	if instrument {
		return mustInstrument(b, wasm)
	}
	return wasm
}

// BenchmarkHotLoop is the cost of a tight counting loop (loop.wat count,
// 2^20 iterations per call).
func BenchmarkHotLoop(b *testing.B) {
	wasm := readTestdata(b, "loop")
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			mod := benchModule(b, variantWasm(b, wasm, v.instrument), v.closeOnDone)
			benchCalls(b, mod, "count", hotLoopN, hotLoopN)
		})
	}
}

// BenchmarkGoGuest is the cost of a standard-Go guest: an empty export
// (call overhead) and the xorshift loop (2^20 iterations per call).
func BenchmarkGoGuest(b *testing.B) {
	wasm := goGuestWasm(b)
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			mod := benchModule(b, variantWasm(b, wasm, v.instrument), v.closeOnDone)
			b.Run("call", func(b *testing.B) { benchCalls(b, mod, "noop", 0) })
			b.Run("loop", func(b *testing.B) { benchCalls(b, mod, "spin", hotLoopN, hotLoopN) })
		})
	}
}
