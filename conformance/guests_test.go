package conformance

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/abi"
)

// The probe guest must import every host function of the ABI, with the
// ABI's signature, so that loading it proves they all link.
func TestProbeImportsEveryHostFunction(t *testing.T) {
	imps, err := FuncImports(ProbeWasm)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]abi.Signature{}
	for _, imp := range imps {
		if imp.Module != abi.ImportModule {
			t.Errorf("unexpected import %s.%s", imp.Module, imp.Name)
			continue
		}
		got[imp.Name] = imp.Sig
	}
	for name, want := range abi.HostFunctions {
		sig, ok := got[name]
		if !ok {
			t.Errorf("probe.wat does not import %s", name)
			continue
		}
		if !reflect.DeepEqual(norm(sig), norm(want)) {
			t.Errorf("%s: probe imports %v, ABI says %v", name, sig, want)
		}
	}
	for name := range got {
		if _, ok := abi.HostFunctions[name]; !ok {
			t.Errorf("probe.wat imports %s, which is not in abi.HostFunctions", name)
		}
	}
	if len(probeIndex) != len(abi.HostFunctions) {
		t.Errorf("probe table has %d functions, ABI %d", len(probeIndex), len(abi.HostFunctions))
	}
}

func norm(s abi.Signature) abi.Signature {
	if len(s.Params) == 0 {
		s.Params = nil
	}
	if len(s.Results) == 0 {
		s.Results = nil
	}
	return s
}

func TestScriptEncode(t *testing.T) {
	s := Script{Steps: []Step{
		Call(PhaseRequestHeaders, abi.FuncLog, Imm(2), Str("hi")),
		Call(PhaseRequestHeaders, abi.FuncIncrementMetric, Slot(1), Imm64(-1)),
	}}
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("CF01")) || !bytes.HasSuffix(b, []byte("hi")) {
		t.Fatalf("bad encoding % x", b)
	}
	if _, err := (Script{Steps: []Step{Call(PhaseRequestHeaders, abi.FuncLog, Imm(2))}}).Encode(); err == nil {
		t.Fatal("want an arity error")
	}
	if _, err := (Script{Steps: []Step{Call(PhaseRequestHeaders, "proxy_nope")}}).Encode(); err == nil {
		t.Fatal("want an unknown-function error")
	}
}

func TestParseLines(t *testing.T) {
	tr, ok := parseTrace("cf cb 4 proxy_on_request_headers 2 8 0 0 12345")
	if !ok || tr.Phase != PhaseRequestHeaders || tr.Ctx != 2 || tr.A != 8 || tr.Instance != 12345 {
		t.Fatalf("%+v %v", tr, ok)
	}
	r, ok := parseResult("cf res 3 1 0 5 6 0 0 0 0 0 0 2 1 6869")
	if !ok || r.Status != 0 || r.Slots[0] != 5 || r.Len != 2 || string(r.Data) != "hi" {
		t.Fatalf("%+v %v", r, ok)
	}
	if r, ok := parseResult("cf res 3 1 0 5 6 0 0 0 0 0 0 badptr"); !ok || !r.BadPtr {
		t.Fatalf("%+v %v", r, ok)
	}
}

// The checked-in .wasm files must be what their sources build to. Skipped
// when the tools are missing; a different tool version that produces
// different bytes is reported as a skip, not a failure.
func TestGuestsUpToDate(t *testing.T) {
	srcs, _ := filepath.Glob("guests/*.wat")
	cs, _ := filepath.Glob("guests/*.c")
	srcs = append(srcs, cs...)
	sort.Strings(srcs)
	if len(srcs) == 0 {
		t.Fatal("no guest sources")
	}
	for _, src := range srcs {
		t.Run(filepath.Base(src), func(t *testing.T) {
			wasm := strings.TrimSuffix(strings.TrimSuffix(src, ".wat"), ".c") + ".wasm"
			want, err := os.ReadFile(wasm)
			if err != nil {
				t.Fatalf("%s has no checked-in %s: run `make guests`", src, wasm)
			}
			out := filepath.Join(t.TempDir(), "out.wasm")
			var cmd *exec.Cmd
			if strings.HasSuffix(src, ".wat") {
				if _, err := exec.LookPath("wat2wasm"); err != nil {
					t.Skip("wat2wasm not installed")
				}
				cmd = exec.Command("wat2wasm", src, "-o", out)
			} else {
				if _, err := exec.LookPath("clang"); err != nil {
					t.Skip("clang not installed")
				}
				if _, err := os.Stat("/usr/lib/wasm32-wasi/libc.a"); err != nil {
					t.Skip("wasi-libc not installed in /usr")
				}
				cmd = exec.Command("clang", "--target=wasm32-wasi", "--sysroot=/usr", "-mexec-model=reactor",
					"-O2", "-nodefaultlibs", "-o", out, src, "-lc")
			}
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", cmd.Args, err, msg)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				if strings.HasSuffix(src, ".c") && !strings.Contains(toolVersion("clang"), clangVersion) {
					t.Skipf("%s differs, but clang is not %s", wasm, clangVersion)
				}
				t.Errorf("%s is stale: run `make guests` in conformance/", wasm)
			}
		})
	}
}

// clangVersion built the checked-in C guests.
const clangVersion = "clang version 14.0.6"

func toolVersion(tool string) string {
	out, _ := exec.Command(tool, "--version").CombinedOutput()
	return string(out)
}

// Every scripted case must encode (arity and names match the ABI).
func TestProbeTablesEncode(t *testing.T) {
	n := 0
	for _, g := range hostFunctionGroups("x") {
		for _, c := range g.cases {
			if _, err := (Script{Steps: c.steps, Ret: c.ret}).Encode(); err != nil {
				t.Errorf("%s/%s: %v", g.name, c.name, err)
			}
			n++
		}
	}
	t.Logf("%d probe cases", n)
}
