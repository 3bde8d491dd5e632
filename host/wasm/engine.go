package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/wasm/internal/interrupt"
)

const (
	pageSize           = 65536
	defaultMemoryLimit = 128 << 20
)

// Engine compiles plugins and owns what their instances share: the wazero
// runtimes (one per distinct memory limit), the compilation cache, shared
// data, shared queues and metrics. It is safe for concurrent use.
type Engine struct {
	cfg   EngineConfig
	cache wazero.CompilationCache

	mu       sync.Mutex
	closed   bool
	runtimes map[uint32]*runtimeEntry // by memory limit in pages
	modules  map[string]*Module       // by digest
	plugins  map[*Plugin]struct{}

	shared sharedData
	// sharedErrAt is when an external shared store failure was last logged
	// (Unix ns).
	sharedErrAt atomic.Int64
	queues      queueRegistry
	metrics     metricRegistry
	wd          watchdog
}

type runtimeEntry struct {
	rt       wazero.Runtime
	mu       sync.Mutex
	compiled map[string]wazero.CompiledModule // by digest
}

// Module is a validated, instrumented and compiled plugin binary,
// identified by the sha256 digest of the bytes it was compiled from.
type Module struct {
	digest  string
	size    int
	code    []byte // instrumented binary
	imports []string
	exports map[string]bool
	abi     string

	// Guarded by Engine.mu: the plugins using the module, and the timer
	// that releases it when none has for moduleIdleGrace.
	refs int
	idle *time.Timer
}

// defaultModuleIdleGrace is how long the engine keeps a module no plugin
// uses compiled in memory (EngineConfig.ModuleIdleGrace). A standard-Go
// module holds about 10 MiB of the Go heap once compiled: every plugin
// version ever pushed, kept forever, would grow the heap without bound,
// and a large live heap makes the collector let each request's garbage
// land in cold memory. The grace covers a push followed by the deployment
// that uses it, and a rollback soon after a deployment; a module compiled
// again later comes from the on-disk cache (EngineConfig.CacheDir).
const defaultModuleIdleGrace = 10 * time.Minute

// Digest returns "sha256:<hex>" of the original binary.
func (m *Module) Digest() string { return m.digest }

// Size returns the size in bytes of the original binary.
func (m *Module) Size() int { return m.size }

// Imports returns the module's imports as "module.name", sorted.
func (m *Module) Imports() []string { return append([]string(nil), m.imports...) }

// ABIVersion returns the Proxy-Wasm ABI version marker the module exports,
// e.g. "0.2.1".
func (m *Module) ABIVersion() string { return m.abi }

// Exports reports whether the module exports name.
func (m *Module) Exports(name string) bool { return m.exports[name] }

// Inspect reads what a plugin binary declares without compiling it: its
// Proxy-Wasm ABI version marker and its imported functions ("module.name",
// sorted). It is for binaries that are trusted or compiled later anyway
// (the gateway's embedded plugins); Compile is what validates a module.
func Inspect(wasm []byte) (abiVersion string, imports []string, err error) {
	imports, exports, err := interrupt.Inspect(wasm)
	if err != nil {
		return "", nil, fmt.Errorf("not a valid Wasm module: %w", err)
	}
	for _, name := range exports {
		switch {
		case name == abi.ExportABIVersion021:
			abiVersion = "0.2.1"
		case name == abi.ExportABIVersion020 && abiVersion == "":
			abiVersion = "0.2.0"
		}
	}
	if abiVersion == "" {
		return "", nil, fmt.Errorf("%w: exports no proxy_abi_version_0_2_1 or proxy_abi_version_0_2_0 marker; is it a Proxy-Wasm plugin?", ErrPluginRejected)
	}
	sort.Strings(imports)
	return abiVersion, imports, nil
}

// Digest returns the content address of a plugin binary: "sha256:<hex>".
func Digest(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// NewEngine creates an engine. Close it to release compiled code.
func NewEngine(ctx context.Context, cfg EngineConfig) (*Engine, error) {
	if cfg.ModuleIdleGrace <= 0 {
		cfg.ModuleIdleGrace = defaultModuleIdleGrace
	}
	e := &Engine{
		cfg:      cfg,
		runtimes: map[uint32]*runtimeEntry{},
		modules:  map[string]*Module{},
		plugins:  map[*Plugin]struct{}{},
	}
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("wasm: compilation cache dir: %w", err)
		}
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm: compilation cache dir %s: %w", cfg.CacheDir, err)
		}
		e.cache = c
	} else {
		e.cache = wazero.NewCompilationCache()
	}
	limit := e.cfg.SharedDataLimit
	if limit <= 0 {
		limit = 64 << 20
	}
	e.shared.init(limit)
	ql := e.cfg.QueueLimit
	if ql <= 0 {
		ql = 10000
	}
	e.queues.init(ql)
	e.metrics.init()
	return e, nil
}

// runtime returns the wazero runtime for a memory limit, creating it and
// its host modules on first use.
func (e *Engine) runtime(ctx context.Context, pages uint32) (*runtimeEntry, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if r, ok := e.runtimes[pages]; ok {
		return r, nil
	}
	cfg := wazero.NewRuntimeConfigCompiler().
		WithCompilationCache(e.cache).
		WithMemoryLimitPages(pages).
		WithCloseOnContextDone(false) // deadlines use the interrupt global instead
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx) // keep the original error
		return nil, fmt.Errorf("wasm: wasi: %w", err)
	}
	if err := registerHostModules(ctx, rt); err != nil {
		_ = rt.Close(ctx) // keep the original error
		return nil, err
	}
	r := &runtimeEntry{rt: rt, compiled: map[string]wazero.CompiledModule{}}
	e.runtimes[pages] = r
	return r, nil
}

// Compile validates, instruments and compiles a plugin binary. The result
// is cached by digest: compiling the same bytes again is free, and with
// EngineConfig.CacheDir a restart reuses the machine code on disk. A
// module no plugin uses is released from memory after
// EngineConfig.ModuleIdleGrace; a Module value stays valid after that
// (NewPlugin compiles it again).
//
// A module is rejected when it is not valid Wasm, exports no
// proxy_abi_version_0_2_0/0_2_1 marker, exports a callback with a wrong
// signature, imports a function the host does not provide, or imports its
// memory.
func (e *Engine) Compile(ctx context.Context, wasm []byte) (*Module, error) {
	digest := Digest(wasm)
	e.mu.Lock()
	if m, ok := e.modules[digest]; ok {
		if m.refs == 0 {
			e.idleLocked(m)
		}
		e.mu.Unlock()
		return m, nil
	}
	e.mu.Unlock()

	code, err := interrupt.Instrument(wasm)
	if err != nil {
		return nil, fmt.Errorf("plugin[%s]: not a valid Wasm module: %w", short(digest), err)
	}
	r, err := e.runtime(ctx, pagesFor(defaultMemoryLimit))
	if err != nil {
		return nil, err
	}
	cm, err := r.rt.CompileModule(compileCtx(ctx), code)
	if err != nil {
		return nil, fmt.Errorf("plugin[%s]: compile: %w", short(digest), err)
	}
	m := &Module{digest: digest, size: len(wasm), code: code, exports: map[string]bool{}}
	if err := m.validate(cm); err != nil {
		_ = cm.Close(ctx) // keep the original error
		return nil, fmt.Errorf("plugin[%s]: %w", short(digest), err)
	}
	r.mu.Lock()
	r.compiled[digest] = cm
	r.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if prev, ok := e.modules[digest]; ok {
		return prev, nil
	}
	e.modules[digest] = m
	e.idleLocked(m)
	return m, nil
}

// compileCtx lets wazero compile a module's functions on every CPU: a
// standard-Go plugin takes over a second of CPU to compile.
func compileCtx(ctx context.Context) context.Context {
	return experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0))
}

// use records a plugin of m and returns the engine's module for m's
// digest (m itself, re-registered if it was released meanwhile: its
// code is compiled again on demand).
func (e *Engine) use(m *Module) *Module {
	e.mu.Lock()
	defer e.mu.Unlock()
	if cur, ok := e.modules[m.digest]; ok {
		m = cur
	} else {
		e.modules[m.digest] = m
	}
	m.refs++
	if m.idle != nil {
		m.idle.Stop()
	}
	return m
}

// unuse is use's counterpart, when a plugin closes.
func (e *Engine) unuse(m *Module) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m.refs--; m.refs == 0 {
		e.idleLocked(m)
	}
}

// idleLocked (re)starts m's release timer. e.mu is held.
func (e *Engine) idleLocked(m *Module) {
	if m.idle == nil {
		m.idle = time.AfterFunc(e.cfg.ModuleIdleGrace, func() { e.release(m) })
		return
	}
	m.idle.Reset(e.cfg.ModuleIdleGrace)
}

// release drops an idle module's compiled code from every runtime. It
// holds e.mu throughout, so a plugin being created (use) either sees the
// module gone, and compiles it again, or keeps it.
func (e *Engine) release(m *Module) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || m.refs > 0 || e.modules[m.digest] != m {
		return
	}
	delete(e.modules, m.digest)
	for _, r := range e.runtimes {
		r.mu.Lock()
		if cm, ok := r.compiled[m.digest]; ok {
			delete(r.compiled, m.digest)
			_ = cm.Close(context.Background()) // only drops wazero's reference
		}
		r.mu.Unlock()
	}
}

func (m *Module) validate(cm wazero.CompiledModule) error {
	var problems []string
	for _, def := range cm.ImportedFunctions() {
		mod, name, _ := def.Import()
		m.imports = append(m.imports, mod+"."+name)
		var want abi.Signature
		var ok bool
		switch mod {
		case abi.ImportModule:
			want, ok = abi.HostFunctions[name]
		case abi.ExtModule:
			want, ok = abi.ExtFunctions[name]
		case wasi_snapshot_preview1.ModuleName:
			continue // wazero checks WASI signatures at instantiation
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("imports %s.%s, which the host does not provide (Proxy-Wasm 0.2.1 functions live in module %q, gateway extensions in %q)", mod, name, abi.ImportModule, abi.ExtModule))
			continue
		}
		if !sameSig(def.ParamTypes(), def.ResultTypes(), want) {
			problems = append(problems, fmt.Sprintf("imports %s.%s with signature %s, want %s", mod, name, sigString(def.ParamTypes(), def.ResultTypes()), wantString(want)))
		}
	}
	for _, def := range cm.ImportedMemories() {
		mod, name, _ := def.Import()
		problems = append(problems, fmt.Sprintf("imports memory %s.%s; plugins must define and export their own memory", mod, name))
	}
	sort.Strings(m.imports)
	for name, def := range cm.ExportedFunctions() {
		m.exports[name] = true
		if want, ok := abi.Callbacks[name]; ok && !sameSig(def.ParamTypes(), def.ResultTypes(), want) {
			problems = append(problems, fmt.Sprintf("exports %s with signature %s, want %s", name, sigString(def.ParamTypes(), def.ResultTypes()), wantString(want)))
		}
	}
	switch {
	case m.exports[abi.ExportABIVersion021]:
		m.abi = "0.2.1"
	case m.exports[abi.ExportABIVersion020]:
		m.abi = "0.2.0"
	default:
		problems = append(problems, "exports no proxy_abi_version_0_2_1 or proxy_abi_version_0_2_0 marker; is it a Proxy-Wasm plugin?")
	}
	if !m.exports[abi.ExportMemoryAllocate] && !m.exports[abi.ExportMalloc] {
		problems = append(problems, "exports neither proxy_on_memory_allocate nor malloc; the host cannot return data to it")
	}
	if _, ok := cm.ExportedMemories()["memory"]; !ok {
		problems = append(problems, `does not export its memory as "memory"`)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrPluginRejected, strings.Join(problems, "; "))
	}
	return nil
}

func sameSig(params, results []api.ValueType, want abi.Signature) bool {
	if len(params) != len(want.Params) || len(results) != len(want.Results) {
		return false
	}
	for i, p := range params {
		if byte(p) != byte(want.Params[i]) {
			return false
		}
	}
	for i, r := range results {
		if byte(r) != byte(want.Results[i]) {
			return false
		}
	}
	return true
}

func sigString(params, results []api.ValueType) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, p := range params {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(api.ValueTypeName(p))
	}
	b.WriteString(") -> (")
	for i, r := range results {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(api.ValueTypeName(r))
	}
	b.WriteByte(')')
	return b.String()
}

func wantString(s abi.Signature) string {
	conv := func(v []abi.ValType) []api.ValueType {
		out := make([]api.ValueType, len(v))
		for i, t := range v {
			out[i] = api.ValueType(t)
		}
		return out
	}
	return sigString(conv(s.Params), conv(s.Results))
}

// compiled returns the module compiled in the runtime for a memory limit.
func (e *Engine) compiled(ctx context.Context, m *Module, pages uint32) (*runtimeEntry, wazero.CompiledModule, error) {
	r, err := e.runtime(ctx, pages)
	if err != nil {
		return nil, nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if cm, ok := r.compiled[m.digest]; ok {
		return r, cm, nil
	}
	cm, err := r.rt.CompileModule(compileCtx(ctx), m.code)
	if err != nil {
		return nil, nil, fmt.Errorf("plugin[%s]: compile: %w", short(m.digest), err)
	}
	r.compiled[m.digest] = cm
	return r, cm, nil
}

// Close closes every plugin, then the runtimes and compiled code.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	plugins := make([]*Plugin, 0, len(e.plugins))
	for p := range e.plugins {
		plugins = append(plugins, p)
	}
	e.mu.Unlock()
	var first error
	for _, p := range plugins {
		if err := p.Close(ctx); err != nil && first == nil {
			first = err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.runtimes {
		if err := r.rt.Close(ctx); err != nil && first == nil {
			first = err
		}
	}
	if err := e.cache.Close(ctx); err != nil && first == nil {
		first = err
	}
	return first
}

func pagesFor(bytes uint64) uint32 {
	p := (bytes + pageSize - 1) / pageSize
	if p > 65536 {
		p = 65536
	}
	if p == 0 {
		p = 1
	}
	return uint32(p)
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19] + "…"
	}
	return digest
}
