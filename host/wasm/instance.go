package wasm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/wasm/internal/interrupt"
)

// phase is the callback an instance (or a stream) is in. Host calls use it
// to decide which maps and buffers are available.
type phase uint8

const (
	phNone phase = iota
	phStart
	phVMStart
	phConfigure
	phRoot // on_tick, on_queue_ready, on_foreign_function
	phHTTPCallResponse
	phContextCreate
	phRequestHeaders
	phRequestBody
	phRequestTrailers
	phResponseHeaders
	phResponseBody
	phResponseTrailers
	phDone // on_done, on_log, on_delete
)

// Callback slots, resolved once per instance.
const (
	cbContextCreate = iota
	cbVMStart
	cbConfigure
	cbTick
	cbDone
	cbLog
	cbDelete
	cbQueueReady
	cbRequestHeaders
	cbRequestBody
	cbRequestTrailers
	cbResponseHeaders
	cbResponseBody
	cbResponseTrailers
	cbHTTPCallResponse
	cbYield
	cbCount
)

var callbackNames = [cbCount]string{
	cbContextCreate:    abi.ExportOnContextCreate,
	cbVMStart:          abi.ExportOnVMStart,
	cbConfigure:        abi.ExportOnConfigure,
	cbTick:             abi.ExportOnTick,
	cbDone:             abi.ExportOnDone,
	cbLog:              abi.ExportOnLog,
	cbDelete:           abi.ExportOnDelete,
	cbQueueReady:       abi.ExportOnQueueReady,
	cbRequestHeaders:   abi.ExportOnRequestHeaders,
	cbRequestBody:      abi.ExportOnRequestBody,
	cbRequestTrailers:  abi.ExportOnRequestTrailers,
	cbResponseHeaders:  abi.ExportOnResponseHeaders,
	cbResponseBody:     abi.ExportOnResponseBody,
	cbResponseTrailers: abi.ExportOnResponseTrailers,
	cbHTTPCallResponse: abi.ExportOnHTTPCallResponse,
	cbYield:            abi.ExportYield,
}

// cbHooks maps callback slots to their abi.Hook bit (0: always called).
var cbHooks = func() (h [cbCount]uint32) {
	for i, name := range callbackNames {
		h[i] = abi.HookFor(name)
	}
	return h
}()

const rootContextID = 1

// instance is one instantiated module with its root context. Calls into it
// are serialized by mu; many streams interleave on it.
type instance struct {
	p      *Plugin
	mod    api.Module
	memory api.Memory
	ctx    context.Context // carries the instance for host functions

	fnAlloc   api.Function
	fns       [cbCount]api.Function
	interrupt api.MutableGlobal
	ticks     api.Global // loop iterations and function entries, for progress

	mu         sync.Mutex // serializes guest calls and guards the fields below
	dead       bool
	retired    bool
	closedMod  bool
	nextID     uint32
	streams    streamTable
	calls      uint64
	baseMem    uint32
	phase      phase   // phase of the running top-level callback
	effective  uint32  // context id host calls apply to
	cur        *Stream // stream of the effective context, nil for root
	deferred   []func()
	tickPeriod time.Duration
	tickTimer  *time.Timer
	nextToken  uint32
	httpCalls  map[uint32]uint32 // token → dispatching context id
	callResp   *HTTPCallResponse // during on_http_call_response
	callErr    string
	allocStack [1]uint64
	// The plugin's delete ring (abi.ExportDeleteRing): its address (0:
	// none), slots, and the host's count of ids pushed.
	ring, ringSize, ringHead uint32
	scratch                  [5]uint64
	logTail                  []string // last plugin log lines, for error messages
	panicMsg                 string   // a Go guest's "panic: ..." line

	live     bool          // in p.live, accepting new streams; p.mu
	bound    atomic.Int32  // streams bound (for pool balancing)
	callSeq  atomic.Uint64 // incremented when a call starts and ends: odd while in a call
	timeout  atomic.Int64  // of the running call, ns; read by the watchdog
	timedOut atomic.Bool
	gone     atomic.Bool // module closed

	// WASI sleeps of the running call (see nanosleep).
	sleepSeq uint64
	slept    int64
}

// newInstance instantiates the plugin's module and runs its start-up
// sequence: _initialize (or _start), proxy_on_context_create for the root
// context, proxy_on_vm_start and proxy_on_configure.
func (p *Plugin) newInstance() (_ *instance, err error) {
	in := &instance{
		p:         p,
		nextID:    rootContextID + 1,
		httpCalls: map[uint32]uint32{},
		nextToken: 1,
	}
	// Every call carries the instance (see callContext).
	in.ctx = &callContext{in: in}

	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(in.nanosleep).
		WithRandSource(rand.Reader).
		WithStdout(&logWriter{in: in, level: abi.LogInfo}).
		WithStderr(&logWriter{in: in, level: abi.LogError})
	for k, v := range p.cfg.Env {
		cfg = cfg.WithEnv(k, v)
	}
	// The memory allocator is only asked when the memory is created.
	mod, err := p.rt.rt.InstantiateModule(experimental.WithMemoryAllocator(in.ctx, memoryAllocator), p.cm, cfg)
	if err != nil {
		ce := p.callError("instantiate", ErrTrap, err.Error())
		ce.Start = true
		return nil, ce
	}
	in.mod = mod
	in.memory = mod.Memory()
	if in.memory == nil {
		_ = mod.Close(in.ctx) // keep the original error
		return nil, p.callError("instantiate", ErrPluginRejected, "module has no memory")
	}
	g, ok := mod.ExportedGlobal(interrupt.ExportName).(api.MutableGlobal)
	if !ok {
		_ = mod.Close(in.ctx) // keep the original error
		return nil, p.callError("instantiate", ErrTrap, "interrupt global missing")
	}
	in.interrupt = g
	in.ticks = mod.ExportedGlobal(interrupt.TicksExportName)
	p.e.wd.add(in) // removed by closeModule
	if in.fnAlloc = mod.ExportedFunction(abi.ExportMemoryAllocate); in.fnAlloc == nil {
		in.fnAlloc = mod.ExportedFunction(abi.ExportMalloc)
	}
	for i, name := range callbackNames {
		in.fns[i] = mod.ExportedFunction(name)
	}

	in.mu.Lock()
	defer in.mu.Unlock()
	defer func() {
		if err != nil {
			var ce *CallError
			if errors.As(err, &ce) {
				ce.Start = true
			}
			in.closeModule()
		}
	}()
	start := p.cfg.StartTimeout
	in.phase = phStart
	in.effective = rootContextID
	switch {
	case p.m.exports[abi.ExportInitialize]:
		if err := in.callTop(mod.ExportedFunction(abi.ExportInitialize), abi.ExportInitialize, nil, start); err != nil {
			return nil, err
		}
		if fn := mod.ExportedFunction(abi.ExportMain); fn != nil && len(fn.Definition().ParamTypes()) == 2 && len(fn.Definition().ResultTypes()) == 1 {
			if err := in.callTop(fn, abi.ExportMain, []uint64{0, 0}, start); err != nil {
				return nil, err
			}
		}
	case p.m.exports[abi.ExportStart]:
		if err := in.callTop(mod.ExportedFunction(abi.ExportStart), abi.ExportStart, nil, start); err != nil {
			var ee *CallError
			if errors.As(err, &ee) && strings.Contains(ee.Detail, "exit_code(0)") {
				ee.Kind = ErrPluginRejected
				ee.Detail = "_start exited: this is a WASI command module; build plugins as reactors (Go: -buildmode=c-shared; C: -mexec-model=reactor)"
			}
			return nil, err
		}
	}
	if fn := in.fns[cbContextCreate]; fn != nil {
		if err := in.callTop(fn, callbackNames[cbContextCreate], []uint64{rootContextID, 0}, start); err != nil {
			return nil, err
		}
	}
	in.phase = phVMStart
	if fn := in.fns[cbVMStart]; fn != nil {
		st := []uint64{rootContextID, uint64(len(p.cfg.VMConfig))}
		if err := in.callTop(fn, callbackNames[cbVMStart], st, start); err != nil {
			return nil, err
		}
		if uint32(st[0]) == 0 {
			return nil, p.callError(callbackNames[cbVMStart], ErrPluginRejected, "proxy_on_vm_start returned false"+in.logHint())
		}
	}
	in.phase = phConfigure
	if fn := in.fns[cbConfigure]; fn != nil {
		st := []uint64{rootContextID, uint64(len(p.cfg.Config))}
		if err := in.callTop(fn, callbackNames[cbConfigure], st, start); err != nil {
			return nil, err
		}
		if uint32(st[0]) == 0 {
			return nil, p.callError(callbackNames[cbConfigure], ErrPluginRejected, "the plugin refused its configuration (proxy_on_configure returned false)"+in.logHint())
		}
	}
	// Read after on_configure, so the callbacks a plugin declares may
	// depend on its configuration (a plugin that only inspects bodies
	// when configured to).
	if fn := mod.ExportedFunction(abi.ExportHooks); fn != nil {
		st := []uint64{0}
		if err := in.callTop(fn, abi.ExportHooks, st, start); err != nil {
			return nil, err
		}
		p.hooks.Store(uint32(st[0]) & (abi.HookAll | abi.HookLazyContexts))
	}
	if fn := mod.ExportedFunction(abi.ExportDeleteRing); fn != nil {
		st := []uint64{0}
		if err := in.callTop(fn, abi.ExportDeleteRing, st, start); err != nil {
			return nil, err
		}
		if err := in.setRing(uint32(st[0])); err != nil {
			return nil, p.callError(abi.ExportDeleteRing, ErrPluginRejected, err.Error())
		}
	}
	in.phase = phNone
	in.baseMem = in.memory.Size()
	return in, nil
}

// growAfterWait is how long a call may wait for its instance before the
// pool grows. Calls into one instance are serialized, so short waits are
// normal under load and cost less than another instance (whose Go heap
// competes for the CPU caches); a wait this long means a slow call or a
// holder that lost its CPU, and another instance helps then.
const growAfterWait = time.Millisecond

// lock takes in.mu for a stream call, growing the pool when the wait was
// long.
func (in *instance) lock() {
	if in.mu.TryLock() {
		return
	}
	t0 := time.Now()
	in.mu.Lock()
	if time.Since(t0) > growAfterWait {
		go in.p.grow() // not under in.mu: Plugin.Close takes p.mu, then instances' locks
	}
}

// setRing checks and adopts the delete ring at ptr (abi.ExportDeleteRing).
func (in *instance) setRing(ptr uint32) error {
	size, ok := in.memory.ReadUint32Le(ptr + abi.DeleteRingSize)
	switch {
	case !ok || ptr == 0 || ptr%4 != 0:
		return fmt.Errorf("%s returned %#x, not the 4-byte aligned address of a ring in its memory", abi.ExportDeleteRing, ptr)
	case size == 0 || size > abi.DeleteRingMaxSize || size&(size-1) != 0:
		return fmt.Errorf("%s: ring size %d is not a power of two up to %d", abi.ExportDeleteRing, size, abi.DeleteRingMaxSize)
	case !in.validOut(ptr, abi.DeleteRingIDs+4*size):
		return fmt.Errorf("%s: a ring of %d slots at %#x ends past the plugin's memory", abi.ExportDeleteRing, size, ptr)
	}
	head, _ := in.memory.ReadUint32Le(ptr + abi.DeleteRingHead)
	in.ring, in.ringSize, in.ringHead = ptr, size, head
	return nil
}

// pushDelete hands the context id of an ended HTTP stream to the plugin
// through its delete ring instead of a proxy_on_delete call. It reports
// false, and the caller calls proxy_on_delete, when there is no ring or
// it is full. The plugin owns the ring's memory: a plugin that corrupts
// it only loses track of its own contexts, the host's count is its own
// and every write stays inside the ring. in.mu is held.
func (in *instance) pushDelete(id uint32) bool {
	if in.ring == 0 {
		return false
	}
	tail, ok := in.memory.ReadUint32Le(in.ring + abi.DeleteRingTail)
	if !ok || in.ringHead-tail >= in.ringSize {
		return false
	}
	slot := in.ring + abi.DeleteRingIDs + 4*(in.ringHead&(in.ringSize-1))
	if !in.memory.WriteUint32Le(slot, id) {
		return false
	}
	in.ringHead++
	return in.memory.WriteUint32Le(in.ring+abi.DeleteRingHead, in.ringHead)
}

// logHint returns the plugin's last log lines for an error message.
func (in *instance) logHint() string {
	if len(in.logTail) == 0 {
		return ""
	}
	return "; plugin log: " + strings.Join(in.logTail, " | ")
}

// callTop runs one top-level guest call under the deadline. in.mu is held.
// On failure the instance is discarded and a *CallError returned.
func (in *instance) callTop(fn api.Function, name string, stack []uint64, timeout time.Duration) error {
	if in.dead {
		return in.p.callError(name, ErrInstanceLost, "")
	}
	if in.timeout.Load() != int64(timeout) {
		in.timeout.Store(int64(timeout))
	}
	in.callSeq.Add(1) // in the call: the watchdog may look at it from now on
	if wd := &in.p.e.wd; !wd.active.Load() {
		wd.wake()
	}
	err := fn.CallWithStack(in.ctx, stack)
	in.callSeq.Add(1)
	in.calls++
	if err != nil {
		return in.fail(name, err)
	}
	for len(in.deferred) > 0 {
		d := in.deferred[0]
		in.deferred = in.deferred[1:]
		d()
		if in.dead {
			break
		}
	}
	return nil
}

// nanosleep backs WASI sleeps (poll_oneoff clock subscriptions). A guest
// may not sleep past its call deadline.
func (in *instance) nanosleep(ns int64) {
	if seq := in.callSeq.Load(); seq&1 == 1 {
		// The call's sleeps together may not outlast its timeout.
		if seq != in.sleepSeq {
			in.sleepSeq, in.slept = seq, 0
		}
		ns = min(ns, in.timeout.Load()-in.slept)
		in.slept += max(ns, 0)
	}
	if ns > 0 {
		time.Sleep(time.Duration(ns))
	}
}

// fail classifies a failed call, poisons the instance and reports it.
func (in *instance) fail(name string, err error) error {
	kind := ErrTrap
	detail := err.Error()
	if i := strings.Index(detail, "\n"); i > 0 {
		detail = detail[:i] // drop wazero's wasm stack trace
	}
	var exit *sys.ExitError
	switch {
	case in.memoryExhausted():
		// Checked first: a guest that hit its memory limit and then spun
		// until the deadline failed because of the limit.
		kind = ErrMemoryLimit
		if in.timedOut.Load() {
			detail = "deadline exceeded after reaching the limit"
		}
		detail = fmt.Sprintf("memory limit %d MiB reached (%s)", in.p.limitBytes>>20, detail)
	case in.timedOut.Load():
		kind = ErrDeadline
		detail = fmt.Sprintf("guest call ran longer than %v", in.p.timeoutFor(name))
	case errors.As(err, &exit):
		detail = fmt.Sprintf("guest exited with code %d", exit.ExitCode())
	}
	if in.panicMsg != "" {
		detail += "; " + in.panicMsg
	} else if hint := in.logHint(); hint != "" && kind != ErrDeadline {
		detail += hint
	}
	ce := in.p.callError(name, kind, detail)
	in.poison(ce)
	return ce
}

func (in *instance) memoryExhausted() bool {
	if in.memory == nil {
		return false
	}
	size := uint64(in.memory.Size())
	slack := min(in.p.limitBytes/8, 8<<20) // Go grows its heap in large steps
	if size+slack >= in.p.limitBytes {
		return true
	}
	for _, l := range append(in.logTail, in.panicMsg) {
		if strings.Contains(l, "out of memory") || strings.Contains(l, "memory allocation") {
			return true
		}
	}
	return false
}

// poison marks the instance dead, tells the streams bound to it (other than
// the one whose call failed) and hands it back to the pool to be replaced.
// in.mu is held.
func (in *instance) poison(err *CallError) {
	if in.dead {
		return
	}
	in.dead = true
	in.stopTicks()
	var others []*Stream
	in.streams.each(func(s *Stream) {
		if s != in.cur {
			others = append(others, s)
		}
	})
	in.closeModule()
	in.p.discard(in)
	if len(others) > 0 {
		lost := *err
		lost.Kind = ErrInstanceLost
		lost.Detail = "another call on this instance failed: " + err.Error()
		go func() {
			for _, s := range others {
				s.host.Failed(&lost)
			}
		}()
	}
}

func (in *instance) closeModule() {
	if in.closedMod || in.mod == nil {
		return
	}
	in.closedMod = true
	in.gone.Store(true)
	in.p.e.wd.remove(in)
	in.stopTicks()
	_ = in.mod.Close(context.Background()) // nothing useful to report
}

// afterStreamCall gives a standard-Go guest's scheduler a turn now and then
// and retires instances that served their quota or grew too much.
func (in *instance) afterStreamCall() {
	p := in.p
	if fn := in.fns[cbYield]; fn != nil && p.cfg.YieldEvery > 0 && in.calls%uint64(p.cfg.YieldEvery) == 0 {
		if err := in.callTop(fn, abi.ExportYield, nil, p.cfg.CallTimeout); err != nil {
			return
		}
	}
	if in.retired || in.dead {
		return
	}
	if in.calls >= p.cfg.RecycleAfterCalls || uint64(in.memory.Size()) > uint64(in.baseMem)+p.cfg.RecycleAfterGrowth {
		p.retire(in)
	}
}

// enter sets the effective context for a stream callback.
func (in *instance) enter(s *Stream, ph phase) {
	in.phase = ph
	in.effective = s.id
	in.cur = s
}

// enterRoot sets the effective context for a root callback.
func (in *instance) enterRoot(ph phase) {
	in.phase = ph
	in.effective = rootContextID
	in.cur = nil
}

func (in *instance) leave() {
	in.phase = phNone
	in.effective = 0
	in.cur = nil
}

// rootCall runs a root-context callback (tick, queue ready, http call
// response) from a background goroutine.
func (in *instance) rootCall(cb int, ph phase, args ...uint64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.dead || in.closedMod {
		return
	}
	fn := in.fns[cb]
	if fn == nil {
		return
	}
	in.enterRoot(ph)
	copy(in.scratch[:], args)
	_ = in.callTop(fn, callbackNames[cb], in.scratch[:len(args)], in.p.cfg.CallTimeout) // failures are logged by the pool
	in.leave()
}

// logWriter turns a guest's stdout/stderr into log lines.
type logWriter struct {
	in    *instance
	level abi.LogLevel
	buf   []byte
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		w.in.log(w.level, string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 4096 {
		w.in.log(w.level, string(w.buf))
		w.buf = w.buf[:0]
	}
	return len(b), nil
}

// log records a plugin log line and forwards it to the engine's LogFunc.
func (in *instance) log(level abi.LogLevel, msg string) {
	if strings.HasPrefix(msg, "panic: ") || strings.HasPrefix(msg, "fatal error: ") {
		in.panicMsg = msg // a Go guest's runtime reporting why it aborts
	}
	if len(in.logTail) >= 3 {
		copy(in.logTail, in.logTail[1:])
		in.logTail = in.logTail[:2]
	}
	in.logTail = append(in.logTail, msg)
	e := in.p.e
	if e.cfg.Log != nil && level >= e.cfg.LogLevel {
		e.cfg.Log(&in.p.info, level, msg)
	}
}
