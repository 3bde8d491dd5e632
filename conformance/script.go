package conformance

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/abi"
)

// Phase names a callback of the probe guest, in the order a stream sees
// them; the number is what the guest logs.
type Phase uint32

// Phases.
const (
	PhaseVMStart Phase = iota
	PhaseConfigure
	PhaseRootCreate   // proxy_on_context_create, parent 0
	PhaseStreamCreate // proxy_on_context_create, parent = root
	PhaseRequestHeaders
	PhaseRequestBody
	PhaseRequestTrailers
	PhaseResponseHeaders
	PhaseResponseBody
	PhaseResponseTrailers
	PhaseDone
	PhaseLog
	PhaseDelete
	PhaseTick
	PhaseQueueReady
	PhaseHTTPCallResponse
	PhaseForeignFunction
	PhaseInitialize
	phaseCount
)

var phaseExports = [...]string{
	abi.ExportOnVMStart, abi.ExportOnConfigure, abi.ExportOnContextCreate, abi.ExportOnContextCreate,
	abi.ExportOnRequestHeaders, abi.ExportOnRequestBody, abi.ExportOnRequestTrailers,
	abi.ExportOnResponseHeaders, abi.ExportOnResponseBody, abi.ExportOnResponseTrailers,
	abi.ExportOnDone, abi.ExportOnLog, abi.ExportOnDelete, abi.ExportOnTick, abi.ExportOnQueueReady,
	abi.ExportOnHTTPCallResponse, abi.ExportOnForeignFunc, abi.ExportInitialize,
}

// Export returns the guest export the phase runs in.
func (p Phase) Export() string {
	if p < phaseCount {
		return phaseExports[p]
	}
	return "phase" + strconv.Itoa(int(p))
}

func (p Phase) String() string {
	switch p {
	case PhaseRootCreate:
		return "proxy_on_context_create(root)"
	case PhaseStreamCreate:
		return "proxy_on_context_create(stream)"
	}
	return p.Export()
}

func (p Phase) isStream() bool { return p >= PhaseStreamCreate && p <= PhaseDelete }

// Arg is an argument of a scripted host call.
type Arg struct {
	kind   uint32
	lo, hi uint32
	data   []byte
	pair   bool // data: expands to pointer and length
}

const (
	argImm = iota
	argData
	argOut
	argSlot
	argMemEnd
	argCtx
	argRootCtx
)

// Imm is an immediate i32 argument.
func Imm(v uint32) Arg { return Arg{kind: argImm, lo: v} }

// Imm64 is an immediate i64 argument.
func Imm64(v int64) Arg { return Arg{kind: argImm, lo: uint32(v), hi: uint32(uint64(v) >> 32)} }

// Str is two arguments: a pointer to a copy of s in guest memory, and its
// length.
func Str(s string) Arg { return Arg{kind: argData, data: []byte(s), pair: true} }

// Ptr is a pointer to a copy of s in guest memory.
func Ptr(s string) Arg { return Arg{kind: argData, data: []byte(s)} }

// Out is a pointer to slot k (0-7), zeroed before the call; the guest
// reports every slot after each call.
func Out(k int) Arg { return Arg{kind: argOut, lo: uint32(k)} }

// Slot is the value of slot k, as left by an earlier step.
func Slot(k int) Arg { return Arg{kind: argSlot, lo: uint32(k)} }

// MemEnd is the address delta bytes from the end of guest memory
// (MemEnd(-2) points at the last two bytes).
func MemEnd(delta int32) Arg { return Arg{kind: argMemEnd, lo: uint32(delta)} }

// Ctx is the id of the context of the running callback.
func Ctx() Arg { return Arg{kind: argCtx} }

// RootCtx is the id of the instance's root context.
func RootCtx() Arg { return Arg{kind: argRootCtx} }

// OOB is a pointer far outside any guest memory.
const OOB = 0xffff_ff00

// Step is one host call (or control operation) the probe guest performs
// when the host invokes the callback of Phase.
type Step struct {
	Phase   Phase
	Fn      string // host function name; empty for control operations
	Args    []Arg
	control uint32
	deref   uint32
	want    []abi.Status
	check   func(t testing.TB, r Result)
}

// Call is a step calling host function fn.
func Call(p Phase, fn string, args ...Arg) Step {
	return Step{Phase: p, Fn: fn, Args: args, deref: 0xffff_ffff}
}

// Want sets the statuses the call may return.
func (s Step) Want(st ...abi.Status) Step { s.want = st; return s }

// Deref makes the guest report the bytes at the pointer in slot ptr with
// the length in slot n (up to max bytes of them, and their length and
// FNV-1a hash) when the call succeeds.
func (s Step) Deref(ptr, n int) Step {
	s.deref = uint32(ptr) | uint32(n)<<8 | 4096<<16
	return s
}

// Check adds a check of the step's result.
func (s Step) Check(f func(t testing.TB, r Result)) Step {
	prev := s.check
	s.check = func(t testing.TB, r Result) {
		if prev != nil {
			prev(t, r)
		}
		f(t, r)
	}
	return s
}

// WantData expects a successful call whose dereferenced output is s.
func (s Step) WantData(want string) Step {
	return s.Want(abi.StatusOK).Check(func(t testing.TB, r Result) {
		t.Helper()
		if r.BadPtr {
			t.Errorf("host discrepancy: returned pointer/length outside guest memory")
			return
		}
		if int(r.Len) != len(want) || r.Sum != fnv32([]byte(want)) {
			t.Errorf("host discrepancy: got %d bytes %q, want %q", r.Len, r.Data, want)
		}
	})
}

// Trap makes the guest execute unreachable.
func Trap(p Phase) Step { return Step{Phase: p, control: 0x8000_0001, deref: 0xffff_ffff} }

// Spin makes the guest loop forever.
func Spin(p Phase) Step { return Step{Phase: p, control: 0x8000_0002, deref: 0xffff_ffff} }

// SetSlot stores v in slot k.
func SetSlot(p Phase, k int, v Arg) Step {
	return Step{Phase: p, control: 0x8000_0003, Args: []Arg{Imm(uint32(k)), v}, deref: 0xffff_ffff}
}

// Script is the probe guest's configuration.
type Script struct {
	Steps []Step
	// Ret overrides what the probe's callbacks return (default: true for
	// on_vm_start, on_configure and on_done, CONTINUE for stream
	// callbacks).
	Ret map[Phase]uint32
}

const scriptMagic = 0x3130_4643 // "CF01"

// Encode serializes the script (see guests/probe.wat for the layout).
func (s Script) Encode() ([]byte, error) {
	var steps []byte
	var data []byte
	type fix struct{ at, off int }
	var fixes []fix
	u32 := func(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
	for i, st := range s.Steps {
		fn, sig := st.control, uint32(0)
		if st.control == 0 {
			idx, ok := probeIndex[st.Fn]
			if !ok {
				return nil, fmt.Errorf("step %d: %q is not imported by the probe guest", i, st.Fn)
			}
			fn = uint32(idx)
			want := abi.HostFunctions[st.Fn]
			sig = uint32(len(want.Params))
			if len(want.Params) == 2 && want.Params[1] == abi.I64 {
				sig = 100
			}
		}
		var args []byte
		n := 0
		for _, a := range st.Args {
			if a.kind == argData {
				fixes = append(fixes, fix{len(steps) + 20 + len(args) + 4, len(data)})
				args = u32(u32(u32(args, argData), 0), 0)
				data = append(data, a.data...)
				n++
				if a.pair {
					args = u32(u32(u32(args, argImm), uint32(len(a.data))), 0)
					n++
				}
				continue
			}
			args = u32(u32(u32(args, a.kind), a.lo), a.hi)
			n++
		}
		if st.control == 0 && n != int(sig%100) && !(sig == 100 && n == 2) {
			return nil, fmt.Errorf("step %d: %s takes %d arguments, got %d", i, st.Fn, len(abi.HostFunctions[st.Fn].Params), n)
		}
		if n > 12 {
			return nil, fmt.Errorf("step %d: too many arguments", i)
		}
		steps = u32(u32(u32(u32(u32(steps, uint32(st.Phase)), fn), sig), uint32(n)), st.deref)
		steps = append(steps, args...)
	}
	out := u32(nil, scriptMagic)
	for p := Phase(0); p < 20; p++ {
		v, ok := s.Ret[p]
		if !ok {
			v = 0xffff_ffff
		}
		out = u32(out, v)
	}
	out = u32(out, uint32(len(s.Steps)))
	base := len(out)
	out = append(out, steps...)
	dataAt := len(out)
	out = append(out, data...)
	for _, f := range fixes {
		binary.LittleEndian.PutUint32(out[base+f.at:], uint32(dataAt+f.off))
	}
	return out, nil
}

// Trace is a callback invocation as a guest logged it.
type Trace struct {
	Phase    Phase
	Export   string
	Ctx      uint32
	A, B, C  uint32 // the callback's further arguments
	Instance uint64 // per-instance id (wall clock at its first callback)
	Inv      int    // per-instance invocation number (probe guest)
	Seq      int    // position in the plugin's log
}

// Result is the outcome of one scripted step.
type Result struct {
	Inv, Step int
	Status    abi.Status
	Slots     [8]uint64
	HasData   bool   // the step dereferenced its output
	BadPtr    bool   // … and it pointed outside guest memory
	Len, Sum  uint32 // length and FNV-1a of the output
	Data      []byte // its first bytes (up to 4096)
	Seq       int
}

func fnv32(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}

// parseTrace parses "cf cb <phase> <export> <ctx> <a> <b> <c> <inst>".
func parseTrace(msg string) (Trace, bool) {
	f := strings.Fields(msg)
	if len(f) != 9 || f[0] != "cf" || f[1] != "cb" {
		return Trace{}, false
	}
	n := make([]uint64, 9)
	for _, i := range []int{2, 4, 5, 6, 7, 8} {
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return Trace{}, false
		}
		n[i] = v
	}
	return Trace{Phase: Phase(n[2]), Export: f[3], Ctx: uint32(n[4]), A: uint32(n[5]), B: uint32(n[6]),
		C: uint32(n[7]), Instance: n[8]}, true
}

// parseResult parses a probe result line.
func parseResult(msg string) (Result, bool) {
	f := strings.Fields(msg)
	if len(f) < 13 || f[0] != "cf" || f[1] != "res" {
		return Result{}, false
	}
	var n [11]uint64
	for i := range n {
		v, err := strconv.ParseUint(f[2+i], 10, 64)
		if err != nil {
			return Result{}, false
		}
		n[i] = v
	}
	r := Result{Inv: int(n[0]), Step: int(n[1]), Status: abi.Status(n[2])}
	copy(r.Slots[:], n[3:])
	switch rest := f[13:]; {
	case len(rest) == 1 && rest[0] == "badptr":
		r.HasData, r.BadPtr = true, true
	case len(rest) == 3:
		l, err1 := strconv.ParseUint(rest[0], 10, 32)
		s, err2 := strconv.ParseUint(rest[1], 10, 32)
		if err1 != nil || err2 != nil {
			return Result{}, false
		}
		r.HasData, r.Len, r.Sum = true, uint32(l), uint32(s)
		if rest[2] != "-" {
			d := make([]byte, len(rest[2])/2)
			for i := range d {
				v, err := strconv.ParseUint(rest[2][2*i:2*i+2], 16, 8)
				if err != nil {
					return Result{}, false
				}
				d[i] = byte(v)
			}
			r.Data = d
		}
	case len(rest) != 0:
		return Result{}, false
	}
	return r, true
}

// decodeMapResult decodes a dereferenced serialized map.
func decodeMapResult(r Result) ([][2]string, error) {
	if r.BadPtr {
		return nil, fmt.Errorf("pointer outside guest memory")
	}
	if int(r.Len) != len(r.Data) {
		return nil, fmt.Errorf("map of %d bytes too large to inspect", r.Len)
	}
	return abi.DecodeMap(r.Data)
}

func samePairs(a, b [][2]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
