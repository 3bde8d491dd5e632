package wasm

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasmgate/wasmgate/abi"
)

// Plugin is a compiled module with its configuration and its pool of
// configured instances. Create streams with NewStream.
type Plugin struct {
	e          *Engine
	m          *Module
	cfg        PluginConfig
	info       PluginInfo
	rt         *runtimeEntry
	cm         wazero.CompiledModule
	limitBytes uint64

	mu       sync.Mutex
	live     []*instance            // accepting new streams
	all      map[*instance]struct{} // live and retired, not yet closed
	pending  int                    // instances being created
	spawns   sync.WaitGroup         // the goroutines creating them
	changed  chan struct{}          // closed and replaced when live changes
	closed   bool
	spawnErr error // last failure to create an instance
	failures int   // consecutive failures to create an instance
	rr       uint32
	// recent holds, per P (a sync.Pool's private slot is per P), the
	// instance the last stream bound there went to: see pick.
	recent sync.Pool

	created, discarded, retiredN, recycled atomic.Int64
	// hooks is the plugin's declared HTTP hooks (abi.ExportHooks);
	// abi.HookAll when it declares none.
	hooks atomic.Uint32
}

// Handles reports whether the plugin handles an HTTP callback: it exports
// it and, if it declares its hooks (abi.ExportHooks), declares it. The
// gateway skips phases, and body buffering, that no plugin handles.
func (p *Plugin) Handles(callback string) bool {
	if !p.m.exports[callback] {
		return false
	}
	bit := abi.HookFor(callback)
	return bit == 0 || p.hooks.Load()&bit != 0
}

// PoolStats describes a plugin's instance pool.
type PoolStats struct {
	Live      int // instances accepting streams
	Retiring  int // retired instances still serving their streams
	Pending   int // instances being created
	Created   int // instances created since the plugin started
	Discarded int // instances discarded after a failure
	Retired   int // instances retired after their call or memory quota
}

// Info returns the plugin's identity.
func (p *Plugin) Info() *PluginInfo { return &p.info }

// Module returns the plugin's compiled module.
func (p *Plugin) Module() *Module { return p.m }

// Stats returns a snapshot of the instance pool.
func (p *Plugin) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{
		Live:      len(p.live),
		Retiring:  len(p.all) - len(p.live),
		Pending:   p.pending,
		Created:   int(p.created.Load()),
		Discarded: int(p.discarded.Load()),
		Retired:   int(p.retiredN.Load()),
	}
}

func (c *PluginConfig) setDefaults() {
	procs := runtime.GOMAXPROCS(0)
	if c.PoolMin <= 0 {
		c.PoolMin = procs
	}
	if c.PoolMax <= 0 {
		c.PoolMax = 4 * procs
	}
	if c.PoolMax < c.PoolMin {
		c.PoolMax = c.PoolMin
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 100 * time.Millisecond
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 5 * time.Second
	}
	if c.MemoryLimit == 0 {
		c.MemoryLimit = defaultMemoryLimit
	}
	if c.RecycleAfterCalls == 0 {
		c.RecycleAfterCalls = 1_000_000
	}
	if c.RecycleAfterGrowth == 0 {
		c.RecycleAfterGrowth = 32 << 20
	}
	if c.YieldEvery == 0 {
		c.YieldEvery = 64
	}
	if c.Name == "" {
		c.Name = "plugin"
	}
}

// NewPlugin configures a plugin and pre-warms its pool: PoolMin instances
// are instantiated and their on_vm_start and on_configure have returned
// true before it returns. A plugin that rejects its configuration fails
// here, with the plugin's own log lines in the error, never on a request.
func (e *Engine) NewPlugin(ctx context.Context, m *Module, cfg PluginConfig) (*Plugin, error) {
	cfg.setDefaults()
	pages := pagesFor(cfg.MemoryLimit)
	m = e.use(m)
	rt, cm, err := e.compiled(ctx, m, pages)
	if err != nil {
		e.unuse(m)
		return nil, err
	}
	p := &Plugin{
		e:          e,
		m:          m,
		cfg:        cfg,
		info:       PluginInfo{Name: cfg.Name, Digest: m.digest, RootID: cfg.RootID, VMID: cfg.VMID},
		rt:         rt,
		cm:         cm,
		limitBytes: uint64(pages) * pageSize,
		all:        map[*instance]struct{}{},
		changed:    make(chan struct{}),
	}
	p.hooks.Store(abi.HookAll)
	for i := 0; i < cfg.PoolMin; i++ {
		in, err := p.newInstance()
		if err != nil {
			_ = p.Close(ctx) // keep the original error
			return nil, err
		}
		p.created.Add(1)
		p.addLiveLocked(in)
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		_ = p.Close(ctx) // keep the original error
		return nil, ErrClosed
	}
	e.plugins[p] = struct{}{}
	e.mu.Unlock()
	return p, nil
}

func (p *Plugin) callError(callback string, kind error, detail string) *CallError {
	return &CallError{Plugin: p.cfg.Name, Digest: p.m.digest, Callback: callback, Kind: kind, Detail: detail}
}

func (p *Plugin) timeoutFor(callback string) time.Duration {
	switch callback {
	case abi.ExportInitialize, abi.ExportStart, abi.ExportMain, abi.ExportOnVMStart, abi.ExportOnConfigure, "instantiate":
		return p.cfg.StartTimeout
	}
	return p.cfg.CallTimeout
}

// acquire binds a new stream to an instance (see pick). It never
// instantiates on the caller's goroutine: when the pool is empty (all
// instances were discarded) it waits for the background refill.
func (p *Plugin) acquire(ctx context.Context) (*instance, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, p.callError("acquire", ErrClosed, "")
		}
		if len(p.live) > 0 {
			// The pool does not grow here: see instance.lock.
			in := p.pick()
			in.bound.Add(1)
			p.recent.Put(in)
			p.mu.Unlock()
			return in, nil
		}
		if p.failures >= 3 && p.spawnErr != nil {
			err := p.spawnErr
			p.mu.Unlock()
			return nil, err
		}
		if p.pending == 0 {
			p.spawnLocked()
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// packScan is how many instances pick looks at, from the first, for one
// that is not in a call.
const packScan = 8

// pick chooses the instance a new stream binds to; p.mu is held and
// p.live is not empty. It keeps the set of instances in use small: the
// one this P (processor) bound its last stream to, if it is not in a call;
// else the first not in a call; only when all those are busy the less
// loaded (in bound streams) of two taken in turn, the "power of two
// choices". A request through a plugin touches its instance's stack, heap
// and runtime data; a few instances that every core keeps using stay in
// the caches and TLBs, while spreading streams over a grown pool (the
// earlier rule: the less loaded of two, always) made every request
// touch a cold instance. With 4 plugins and 32 instances on 2 cores, this
// took about 8 µs of CPU off a request under load (RATIONALE.md).
func (p *Plugin) pick() *instance {
	if in, _ := p.recent.Get().(*instance); in != nil && in.live && in.callSeq.Load()&1 == 0 {
		return in
	}
	n := len(p.live)
	for _, in := range p.live[:min(n, packScan)] {
		if in.callSeq.Load()&1 == 0 {
			return in
		}
	}
	var best *instance
	bestScore := int(^uint(0) >> 1)
	start := int(p.rr % uint32(n))
	p.rr++
	for i, step := 0, max(n/2, 1); i < min(n, 2); i++ {
		in := p.live[(start+i*step)%n]
		score := 2 * int(in.bound.Load())
		if in.callSeq.Load()&1 == 1 {
			score++
		}
		if score < bestScore {
			best, bestScore = in, score
		}
	}
	return best
}

// grow adds an instance in the background, up to PoolMax, after a call
// waited too long for its instance (see instance.lock).
func (p *Plugin) grow() {
	p.mu.Lock()
	if !p.closed && p.pending == 0 && len(p.live) < p.cfg.PoolMax {
		p.spawnLocked()
	}
	p.mu.Unlock()
}

// spawnLocked creates one instance in the background. p.mu is held.
func (p *Plugin) spawnLocked() {
	p.pending++
	p.spawns.Add(1)
	backoff := time.Duration(p.failures) * 50 * time.Millisecond
	go func() {
		defer p.spawns.Done()
		time.Sleep(backoff)
		in, err := p.newInstance()
		p.mu.Lock()
		defer p.mu.Unlock()
		p.pending--
		if err != nil {
			p.failures++
			p.spawnErr = err
			p.e.logHost(&p.info, fmt.Sprintf("cannot start a new instance: %v", err))
			p.notifyLocked()
			return
		}
		if p.closed {
			in.mu.Lock()
			in.closeModule()
			in.mu.Unlock()
			return
		}
		p.failures = 0
		p.spawnErr = nil
		p.created.Add(1)
		p.addLiveLocked(in)
		p.notifyLocked()
	}()
}

func (p *Plugin) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Plugin) addLiveLocked(in *instance) {
	in.live = true
	p.live = append(p.live, in)
	p.all[in] = struct{}{}
}

func (p *Plugin) removeLiveLocked(in *instance) bool {
	for i, x := range p.live {
		if x == in {
			in.live = false
			p.live = append(p.live[:i], p.live[i+1:]...)
			return true
		}
	}
	return false
}

// discard drops a poisoned instance and refills the pool. in.mu is held
// by the caller (lock order: instance, then plugin).
func (p *Plugin) discard(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removeLiveLocked(in)
	delete(p.all, in)
	p.discarded.Add(1)
	if !p.closed && len(p.live)+p.pending < p.cfg.PoolMin {
		p.spawnLocked()
	}
	p.notifyLocked()
}

// retire stops giving an instance new streams; it closes when its last
// stream ends. in.mu is held.
func (p *Plugin) retire(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if in.retired {
		return
	}
	in.retired = true
	p.retiredN.Add(1)
	p.removeLiveLocked(in)
	if !p.closed && len(p.live)+p.pending < p.cfg.PoolMin {
		p.spawnLocked()
	}
	if in.bound.Load() == 0 {
		delete(p.all, in)
		in.closeModule()
	}
}

// unbound is called when a stream leaves an instance. in.mu is held.
func (p *Plugin) unbound(in *instance) {
	if in.bound.Add(-1) != 0 || !in.retired {
		return
	}
	p.mu.Lock()
	delete(p.all, in)
	p.mu.Unlock()
	in.closeModule()
}

// Close stops the plugin: no new streams; idle instances close at once,
// busy ones when their last stream ends or when ctx is done, whichever
// comes first.
func (p *Plugin) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var all []*instance
	for in := range p.all {
		all = append(all, in)
	}
	for _, in := range p.live {
		in.live = false
	}
	p.live = nil
	p.notifyLocked()
	p.mu.Unlock()

	// An instance being created in the background finishes first (and,
	// seeing the plugin closed, closes itself): the engine may be closed
	// right after this returns, and instantiation must not race with it.
	spawned := make(chan struct{})
	go func() { p.spawns.Wait(); close(spawned) }()
	select {
	case <-spawned:
	case <-ctx.Done():
	}

	p.e.mu.Lock()
	delete(p.e.plugins, p)
	p.e.mu.Unlock()
	p.e.unuse(p.m) // instances still running keep their machine code

	for _, in := range all {
		in.mu.Lock()
		in.retired = true
		if in.bound.Load() == 0 {
			in.closeModule()
			p.mu.Lock()
			delete(p.all, in)
			p.mu.Unlock()
		}
		in.mu.Unlock()
	}
	for {
		p.mu.Lock()
		n := len(p.all)
		p.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			p.mu.Lock()
			rest := make([]*instance, 0, len(p.all))
			for in := range p.all {
				rest = append(rest, in)
			}
			p.all = map[*instance]struct{}{}
			p.mu.Unlock()
			for _, in := range rest {
				in.mu.Lock()
				in.dead = true
				in.closeModule()
				in.mu.Unlock()
			}
			return nil
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// logHost logs a host-side message about a plugin.
func (e *Engine) logHost(p *PluginInfo, msg string) {
	if e.cfg.Log != nil {
		e.cfg.Log(p, abi.LogError, "wasmgate: "+msg)
	}
}
