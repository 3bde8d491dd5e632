package conformance

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/wasmgate/wasmgate/abi"
)

// The guest modules (sources and build commands next to them in guests/).
var (
	//go:embed guests/probe.wasm
	ProbeWasm []byte
	//go:embed guests/abuse.wasm
	AbuseWasm []byte
	//go:embed guests/cguest.wasm
	CGuestWasm []byte
	//go:embed guests/trap_initialize.wasm
	TrapInitializeWasm []byte
	//go:embed guests/trap_root_create.wasm
	TrapRootCreateWasm []byte
	//go:embed guests/no_abi_marker.wasm
	NoABIMarkerWasm []byte
)

// probeIndex maps each host function to its index in the probe guest's
// table: the probe puts its imported functions in the table in import
// order.
var probeIndex = func() map[string]int {
	imps, err := FuncImports(ProbeWasm)
	if err != nil {
		panic("conformance: probe.wasm: " + err.Error())
	}
	m := make(map[string]int, len(imps))
	for i, imp := range imps {
		if imp.Module == abi.ImportModule {
			m[imp.Name] = i
		}
	}
	return m
}()

// FuncImport is a function a module imports.
type FuncImport struct {
	Module, Name string
	Sig          abi.Signature
}

var errShort = errors.New("truncated module")

// FuncImports lists the functions a Wasm binary imports, in order.
func FuncImports(wasm []byte) ([]FuncImport, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, errors.New("not a wasm module")
	}
	b := wasm[8:]
	var types []abi.Signature
	var out []FuncImport
	for len(b) > 0 {
		id := b[0]
		size, n := binary.Uvarint(b[1:])
		if n <= 0 || uint64(len(b)-1-n) < size {
			return nil, errShort
		}
		sec := b[1+n : 1+n+int(size)]
		b = b[1+n+int(size):]
		r := reader{b: sec}
		switch id {
		case 1: // type
			cnt := r.u()
			for i := uint64(0); i < cnt && r.err == nil; i++ {
				if r.byte() != 0x60 {
					return nil, errors.New("unsupported type form")
				}
				var s abi.Signature
				for j, np := uint64(0), r.u(); j < np && r.err == nil; j++ {
					s.Params = append(s.Params, abi.ValType(r.byte()))
				}
				for j, nr := uint64(0), r.u(); j < nr && r.err == nil; j++ {
					s.Results = append(s.Results, abi.ValType(r.byte()))
				}
				types = append(types, s)
			}
		case 2: // import
			cnt := r.u()
			for i := uint64(0); i < cnt && r.err == nil; i++ {
				mod, name := r.name(), r.name()
				switch kind := r.byte(); kind {
				case 0:
					ti := r.u()
					if ti >= uint64(len(types)) {
						return nil, fmt.Errorf("import %s.%s: bad type index", mod, name)
					}
					out = append(out, FuncImport{mod, name, types[ti]})
				case 1: // table: reftype, limits
					r.byte()
					r.limits()
				case 2:
					r.limits()
				case 3:
					r.byte()
					r.byte()
				default:
					return nil, fmt.Errorf("unknown import kind %d", kind)
				}
			}
		}
		if r.err != nil {
			return nil, r.err
		}
	}
	return out, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) u() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = errShort, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.err = errShort
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) name() string {
	n := r.u()
	if uint64(len(r.b)) < n {
		r.err, r.b = errShort, nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) limits() {
	if r.byte()&1 != 0 {
		r.u()
	}
	r.u()
}
