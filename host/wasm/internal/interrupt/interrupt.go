// Package interrupt instruments a WebAssembly module so that the host can
// stop a running call at its next loop iteration.
//
// Instrument adds one exported, mutable i32 global (initially 0) to the
// module and inserts, at the start of every loop body,
//
//	global.get $flag
//	if
//	  unreachable
//	end
//
// A host that wants a call to stop sets the global, exported as ExportName,
// to 1 (typically from a timer goroutine); the guest traps at its next loop
// iteration. The same check opens every function body, so recursion
// without loops stops too (a body that reaches a loop through
// straight-line code, with no call or branch, has that loop's check first
// instead). A trapped instance may be in an inconsistent state and should
// be discarded.
//
// # Yielding to the Go runtime
//
// Machine code compiled by wazero cannot be preempted by the Go scheduler.
// A guest that loops without ever leaving its machine code therefore blocks
// every stop-the-world phase of the Go garbage collector, and with it every
// goroutine of the process, including the timer that would set the flag: the
// process hangs for as long as the loop runs, forever for an infinite loop.
// So, when the module has a memory, Instrument also adds a second mutable
// i32 global, a loop-iteration counter exported as TicksExportName, and
// follows the check with
//
//	global.get $tick  i32.const 1  i32.add  global.set $tick
//	global.get $tick  i32.const 0xffff  i32.and  i32.eqz
//	if
//	  i32.const 0  memory.grow 0  drop    ;; i64.const 0 for a 64-bit memory
//	end
//
// Growing a memory by zero pages has no effect, but wazero implements it by
// leaving the machine code for Go code, where the goroutine can be preempted.
// So every YieldInterval loop iterations of an instance the runtime gets a
// chance to stop the world. A module without a memory gets no counter and
// no yield (and keeps the stop-the-world hazard).
//
// The check costs a load and a well-predicted branch per loop iteration,
// the counter a load, a store and a branch, and nothing per call, unlike a
// per-call watchdog goroutine, plus the same at each function entry.
//
// Instrument also rejects what no deadline could stop or what would make a
// runtime exhaust memory before validating: a start section, a section
// declaring more entries than it has bytes, a function declaring more than
// MaxLocals locals.
//
// The rewrite only adds: no existing function, global, memory or export
// index moves, and every section other than the global, export and code
// sections is copied byte for byte, as is every function body without a
// loop.
package interrupt

import (
	"bytes"
	"errors"
	"fmt"
	"math"
)

// ExportName is the name under which the instrumented module exports the flag global.
const ExportName = "wasmgate_interrupt"

// TicksExportName is the name of the exported counter global (modules with
// a memory only): it counts loop iterations and function entries, so a
// host can tell a guest that is running from one that is merely waiting
// for a CPU.
const TicksExportName = "wasmgate_ticks"

// MaxLocals is the most locals a function may declare (the limit web
// engines use). Larger declarations are rejected before a runtime sizes
// anything by them.
const MaxLocals = 50000

// YieldInterval is the number of loop iterations of an instance between two
// yields to the Go runtime (see the package documentation).
const YieldInterval = 1 << 16

var (
	// ErrMalformed is wrapped by errors about input that is not a well-formed
	// Wasm binary (bad header, truncated or oversized encodings, sections
	// out of order, function bodies that do not end where their size says).
	ErrMalformed = errors.New("malformed module")
	// ErrUnknownOpcode is wrapped by errors about an instruction the
	// decoder does not know; the message names the opcode and the function.
	ErrUnknownOpcode = errors.New("unknown opcode")
	// ErrStartFunction is returned for a module with a start function: it
	// would run inside instantiation, where no deadline can stop it.
	ErrStartFunction = errors.New("module has a start function")
	// ErrAlreadyInstrumented is returned for a module that already exports
	// ExportName.
	ErrAlreadyInstrumented = errors.New("module already exports " + ExportName)
)

// Section ids.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// order gives the position of each known non-custom section id in the
// canonical section order; 0 marks an unknown id.
var order = [...]int{
	secType:      1,
	secImport:    2,
	secFunction:  3,
	secTable:     4,
	secMemory:    5,
	secTag:       6,
	secGlobal:    7,
	secExport:    8,
	secStart:     9,
	secElement:   10,
	secDataCount: 11,
	secCode:      12,
	secData:      13,
}

// External kinds used in import and export entries.
const (
	kindFunc   = 0x00
	kindTable  = 0x01
	kindMemory = 0x02
	kindGlobal = 0x03
	kindTag    = 0x04
)

// newGlobal is the global entry Instrument appends, once for the flag and
// once for the loop counter: mutable i32, init expression `i32.const 0; end`.
var newGlobal = []byte{0x7f, 0x01, 0x41, 0x00, 0x0b}

// section is one section of the input: wasm[start:end] is the whole
// section (id, size and payload), wasm[payload:end] its payload.
type section struct {
	id                  byte
	start, payload, end int
}

// module is what Instrument needs to know about its input.
type module struct {
	wasm     []byte
	sections []section

	importedFuncs   uint32
	importedGlobals uint32
	memories        uint32 // imported and defined
	mem64           bool   // memory 0 has 64-bit addresses

	global, export, code int // index in sections, or -1
	data                 int // index in sections, or -1
	dataCount            bool

	definedGlobals uint32 // count in the global section
	globalEntries  int    // offset of the first global entry in wasm
	exports        uint32 // count in the export section
	exportEntries  int    // offset of the first export entry in wasm
	exportsFlag    bool   // some export is named ExportName

	funcImports []string // "module.name" of each imported function
	exportNames []string
}

// Inspect returns a module's imported functions ("module.name", in
// order) and its export names, decoding only those sections: no
// instrumentation and no validation of the code.
func Inspect(wasm []byte) (funcImports, exports []string, err error) {
	m, err := parse(wasm)
	if err != nil {
		return nil, nil, err
	}
	return m.funcImports, m.exportNames, nil
}

// Instrument returns a new module binary: the input plus one defined mutable i32 global (init 0),
// exported as ExportName, and at the start of every loop body the check
//
//	global.get $flag ; if (blocktype empty 0x40) ; unreachable ; end
//
// It returns an error (never panics) for malformed input, an unknown opcode, or a module that
// already exports ExportName.
//
// When the module has a memory, Instrument also adds an unexported counter
// global right after the flag and, after each check, the periodic yield
// described in the package documentation.
//
// Instrument decodes just enough to find every loop; it does not validate
// the module (types, stack discipline, index ranges). Compile the result
// with a validating runtime as usual. The input slice is not modified.
func Instrument(wasm []byte) ([]byte, error) {
	m, err := parse(wasm)
	if err != nil {
		return nil, err
	}
	if m.exportsFlag {
		return nil, fmt.Errorf("interrupt: %w", ErrAlreadyInstrumented)
	}
	added := uint32(1) // new globals: the flag, and the counter if we can yield
	if m.memories > 0 {
		added = 2
	}
	flag64 := uint64(m.importedGlobals) + uint64(m.definedGlobals)
	if flag64+uint64(added) > math.MaxUint32 {
		return nil, fmt.Errorf("interrupt: too many globals (%d): %w", flag64, ErrMalformed)
	}
	flag := uint32(flag64)

	var code []byte
	if m.code >= 0 {
		if code, err = m.instrumentCode(m.loopPrologue(flag)); err != nil {
			return nil, fmt.Errorf("interrupt: code section: %w", err)
		}
	}

	// The new sections go right after the last non-custom section that
	// precedes them in the canonical order (-1: right after the header).
	globalAfter, exportAfter := -1, -1
	for i, s := range m.sections {
		if s.id == secCustom {
			continue
		}
		if order[s.id] < order[secGlobal] {
			globalAfter = i
		}
		if order[s.id] < order[secExport] {
			exportAfter = i
		}
	}

	// Without a data count section no instruction names a data segment,
	// so they can be merged (see mergeData).
	var data []byte
	if m.data >= 0 && !m.dataCount && !m.mem64 {
		d := m.sections[m.data]
		data = mergeData(wasm[d.payload:d.end])
	}

	size := len(wasm) + 64 // the new sections are small
	if code != nil {
		c := m.sections[m.code]
		size += len(code) - (c.end - c.payload)
	}
	if data != nil {
		d := m.sections[m.data]
		size += len(data) - (d.end - d.payload)
	}
	out := make([]byte, 0, size)
	out = append(out, wasm[:8]...)
	emitNew := func(i int) {
		if m.global < 0 && globalAfter == i {
			out = appendSection(out, secGlobal, m.globalPayload(nil, added))
		}
		if m.export < 0 && exportAfter == i {
			out = appendSection(out, secExport, m.exportPayload(nil, flag))
		}
	}
	emitNew(-1)
	for i, s := range m.sections {
		switch {
		case i == m.global:
			out = appendSection(out, secGlobal, m.globalPayload(wasm[m.globalEntries:s.end], added))
		case i == m.export:
			out = appendSection(out, secExport, m.exportPayload(wasm[m.exportEntries:s.end], flag))
		case i == m.code && code != nil:
			out = appendSection(out, secCode, code)
		case i == m.data && data != nil:
			out = appendSection(out, secData, data)
		default:
			out = append(out, wasm[s.start:s.end]...)
		}
		emitNew(i)
	}
	return out, nil
}

// loopPrologue returns the code inserted at the start of every loop body:
// the flag check, then, when the module has a memory, the counter update
// and the periodic yield.
func (m *module) loopPrologue(flag uint32) []byte {
	p := appendU32([]byte{opGlobalGet}, flag)
	p = append(p, opIf, 0x40, opUnreachable, opEnd)
	if m.memories == 0 {
		return p
	}
	tick := flag + 1
	p = appendU32(append(p, opGlobalGet), tick)
	p = append(p, opI32Const, 0x01, opI32Add)
	p = appendU32(append(p, opGlobalSet), tick)
	p = appendU32(append(p, opGlobalGet), tick)
	p = append(p, opI32Const)
	p = appendS32(p, YieldInterval-1)
	p = append(p, opI32And, opI32Eqz, opIf, 0x40)
	if m.mem64 {
		p = append(p, opI64Const, 0x00)
	} else {
		p = append(p, opI32Const, 0x00)
	}
	return append(p, opMemoryGrow, 0x00, opDrop, opEnd)
}

// globalPayload returns a global section payload: the existing entries
// followed by n new globals (the flag, then the counter).
func (m *module) globalPayload(entries []byte, n uint32) []byte {
	p := make([]byte, 0, 5+len(entries)+int(n)*len(newGlobal))
	p = appendU32(p, m.definedGlobals+n)
	p = append(p, entries...)
	for ; n > 0; n-- {
		p = append(p, newGlobal...)
	}
	return p
}

// exportPayload returns an export section payload: the existing entries
// followed by the export of global flag as ExportName.
func (m *module) exportPayload(entries []byte, flag uint32) []byte {
	p := make([]byte, 0, 32+len(entries)+len(ExportName)+len(TicksExportName))
	n := m.exports + 1
	if m.memories > 0 {
		n++
	}
	p = appendU32(p, n)
	p = append(p, entries...)
	p = appendU32(p, uint32(len(ExportName)))
	p = append(p, ExportName...)
	p = append(p, kindGlobal)
	p = appendU32(p, flag)
	if m.memories > 0 {
		p = appendU32(p, uint32(len(TicksExportName)))
		p = append(p, TicksExportName...)
		p = append(p, kindGlobal)
		p = appendU32(p, flag+1)
	}
	return p
}

// appendSection appends a section with a minimal size encoding.
func appendSection(dst []byte, id byte, payload []byte) []byte {
	dst = append(dst, id)
	dst = appendU32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// parse splits wasm into sections and decodes the import, global and
// export sections far enough for Instrument.
func parse(wasm []byte) (*module, error) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return nil, fmt.Errorf("interrupt: not a Wasm binary (bad magic): %w", ErrMalformed)
	}
	if !bytes.Equal(wasm[4:8], []byte{1, 0, 0, 0}) {
		return nil, fmt.Errorf("interrupt: unsupported binary version % x (want 01 00 00 00): %w", wasm[4:8], ErrMalformed)
	}
	m := &module{wasm: wasm, global: -1, export: -1, code: -1, data: -1}
	r := &reader{buf: wasm, pos: 8}
	last := 0 // order of the last non-custom section
	for !r.eof() {
		start := r.pos
		id, _ := r.byte() // cannot fail: not at eof
		size, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("interrupt: section id %d size: %w", id, err)
		}
		payload := r.pos
		if err := r.skip(int(size)); err != nil {
			return nil, fmt.Errorf("interrupt: section id %d: %w", id, err)
		}
		s := section{id: id, start: start, payload: payload, end: r.pos}
		if id != secCustom {
			if int(id) >= len(order) || order[id] == 0 {
				return nil, fmt.Errorf("interrupt: offset %d: unknown section id %d: %w", start, id, ErrMalformed)
			}
			if order[id] <= last {
				return nil, fmt.Errorf("interrupt: offset %d: section id %d out of order or repeated: %w", start, id, ErrMalformed)
			}
			last = order[id]
		}
		if id == secStart {
			return nil, fmt.Errorf("interrupt: %w: a start function runs while the module is instantiated, where no deadline applies; plugins initialize in _initialize or proxy_on_vm_start", ErrStartFunction)
		}
		if err := checkCount(wasm, s); err != nil {
			return nil, err
		}
		if err := m.decodeSection(len(m.sections), s); err != nil {
			return nil, err
		}
		m.sections = append(m.sections, s)
	}
	return m, nil
}

// checkCount rejects a section whose declared number of entries cannot fit
// in its bytes: every entry takes at least one byte. Runtimes reserve
// memory for the declared count before reading entries, so a 15-byte
// module claiming 2³² functions would otherwise exhaust the host's memory.
func checkCount(wasm []byte, s section) error {
	switch s.id {
	case secCustom, secStart, secDataCount:
		return nil
	}
	r := &reader{buf: wasm[:s.end], pos: s.payload}
	n, err := r.u32()
	if err != nil {
		return fmt.Errorf("interrupt: section id %d count: %w", s.id, err)
	}
	if uint64(n) > uint64(s.end-r.pos) {
		return fmt.Errorf("interrupt: section id %d declares %d entries in %d bytes: %w", s.id, n, s.end-r.pos, ErrMalformed)
	}
	return nil
}

// decodeSection records what Instrument needs from section number i.
func (m *module) decodeSection(i int, s section) error {
	r := &reader{buf: m.wasm[:s.end], pos: s.payload}
	var err error
	switch s.id {
	case secCustom:
		// A custom section must at least hold its name.
		if _, err = r.name(); err != nil {
			return fmt.Errorf("interrupt: custom section name: %w", err)
		}
		return nil
	case secImport:
		if err = m.decodeImports(r); err != nil {
			return fmt.Errorf("interrupt: import section: %w", err)
		}
	case secMemory:
		if err = m.decodeMemories(r); err != nil {
			return fmt.Errorf("interrupt: memory section: %w", err)
		}
	case secGlobal:
		m.global = i
		if m.definedGlobals, err = r.u32(); err != nil {
			return fmt.Errorf("interrupt: global section: %w", err)
		}
		m.globalEntries = r.pos
		return nil // entries are copied unchanged
	case secExport:
		m.export = i
		if err = m.decodeExports(r); err != nil {
			return fmt.Errorf("interrupt: export section: %w", err)
		}
	case secCode:
		m.code = i
		return nil // decoded by instrumentCode
	case secData:
		m.data = i
		return nil // rewritten by mergeData
	case secDataCount:
		m.dataCount = true
		return nil
	default:
		return nil // copied unchanged
	}
	if !r.eof() {
		return fmt.Errorf("interrupt: section id %d: %w", s.id, r.errorf("%d trailing bytes", len(r.buf)-r.pos))
	}
	return nil
}

// decodeImports counts the imported functions and globals.
func (m *module) decodeImports(r *reader) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		mod, err := r.name()
		if err != nil {
			return err
		}
		name, err := r.name()
		if err != nil {
			return err
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case kindFunc:
			m.importedFuncs++
			m.funcImports = append(m.funcImports, string(mod)+"."+string(name))
			_, err = r.u32()
		case kindTable:
			if err = r.valType(); err == nil {
				_, err = r.limits()
			}
		case kindMemory:
			var flags byte
			if flags, err = r.limits(); err == nil {
				m.addMemory(flags)
			}
		case kindGlobal:
			m.importedGlobals++
			if err = r.valType(); err == nil {
				var mut byte
				if mut, err = r.byte(); err == nil && mut > 1 {
					err = r.errorf("invalid global mutability 0x%02x", mut)
				}
			}
		case kindTag:
			var attr byte
			if attr, err = r.byte(); err == nil {
				if attr != 0 {
					err = r.errorf("invalid tag attribute 0x%02x", attr)
				} else {
					_, err = r.u32()
				}
			}
		default:
			err = r.errorf("unknown import kind 0x%02x", kind)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// decodeExports counts the exports and notes whether one is named
// ExportName.
func (m *module) decodeExports(r *reader) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	m.exports = n
	m.exportEntries = r.pos
	if n == math.MaxUint32 {
		return r.errorf("too many exports")
	}
	for i := uint32(0); i < n; i++ {
		name, err := r.name()
		if err != nil {
			return err
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		if kind > kindTag {
			return r.errorf("unknown export kind 0x%02x", kind)
		}
		if _, err := r.u32(); err != nil {
			return err
		}
		if string(name) == ExportName {
			m.exportsFlag = true
		}
		m.exportNames = append(m.exportNames, string(name))
	}
	return nil
}

// decodeMemories records the memories of the memory section.
func (m *module) decodeMemories(r *reader) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	for ; n > 0; n-- {
		flags, err := r.limits()
		if err != nil {
			return err
		}
		m.addMemory(flags)
	}
	return nil
}

// addMemory records a memory with the given limits flags.
func (m *module) addMemory(flags byte) {
	if m.memories == 0 {
		m.mem64 = flags&limits64 != 0
	}
	m.memories++
}

// limits64 is the limits flag of a 64-bit memory or table.
const limits64 = 0x04

// limits skips a table or memory limits encoding and returns its flags
// byte (bit 0: a maximum follows, bit 1: shared, bit 2: 64-bit, bit 3: a
// custom page size follows); then come the minimum, the optional maximum
// and the optional page size.
func (r *reader) limits() (flags byte, err error) {
	if flags, err = r.byte(); err != nil {
		return 0, err
	}
	if flags > 0x0f {
		return 0, r.errorf("invalid limits flags 0x%02x", flags)
	}
	n := 1
	if flags&0x01 != 0 {
		n = 2
	}
	for ; n > 0; n-- {
		if flags&limits64 != 0 {
			_, err = r.u64()
		} else {
			_, err = r.u32()
		}
		if err != nil {
			return 0, err
		}
	}
	if flags&0x08 != 0 {
		_, err = r.u32()
	}
	return flags, err
}

// isValTypeStart reports whether b starts a value type: a number or vector
// type, an abstract reference type shorthand, or the (ref null? ht) prefix.
func isValTypeStart(b byte) bool {
	return (b >= 0x7b && b <= 0x7f) || (b >= 0x69 && b <= 0x74) || b == 0x63 || b == 0x64
}

// valType skips a value type.
func (r *reader) valType() error {
	b, err := r.byte()
	if err != nil {
		return err
	}
	if !isValTypeStart(b) {
		r.pos--
		return r.errorf("invalid value type 0x%02x", b)
	}
	if b == 0x63 || b == 0x64 {
		return r.heapType()
	}
	return nil
}

// heapType skips a heap type: an abstract heap type (one byte 0x69..0x74)
// or a type index, both as s33.
func (r *reader) heapType() error {
	v, err := r.signed(33)
	if err != nil {
		return err
	}
	if v < 0 && (v < -0x17 || v > -0x0c) { // 0x69 = -0x17 … 0x74 = -0x0c
		return r.errorf("invalid heap type %d", v)
	}
	return nil
}

// blockType skips a block type: 0x40 (empty), a value type or an s33 type
// index.
func (r *reader) blockType() error {
	b, err := r.peek()
	if err != nil {
		return err
	}
	if b == 0x40 {
		r.pos++
		return nil
	}
	if isValTypeStart(b) {
		return r.valType()
	}
	v, err := r.signed(33)
	if err != nil {
		return err
	}
	if v < 0 {
		return r.errorf("invalid block type %d", v)
	}
	return nil
}
