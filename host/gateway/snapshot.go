package gateway

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/host/config"
	"github.com/wasmgate/wasmgate/host/pipeline"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// PluginSource resolves a plugin reference from an API document to the
// plugin's binary.
type PluginSource interface {
	Resolve(ctx context.Context, ref config.PluginRef) ([]byte, error)
}

// Snapshot is a compiled, immutable deployment: its routes, stages,
// plugin pools and integrations. Requests hold a reference for their whole
// life; a replaced snapshot closes its plugins when the last request on it
// ends.
type Snapshot struct {
	ID     string
	API    *config.API
	router Router
	stages []*stage
	byHost map[string]*stage
	byName map[string]*stage
	single *stage // no stages declared: serve at the root

	plugins []*wasm.Plugin
	pooled  []*sharedPool // one reference each
	pools   *pluginPools
	// upstreams are the x-wasmgate-upstreams pools; their health checks
	// stop when the snapshot closes.
	upstreams *upstreamSet

	// authorizers by name (authorizer.go) and the customized gateway
	// responses (responses.go).
	authorizers map[string]*authorizer
	responses   *gatewayResponses

	refs      atomic.Int64 // 1 while current, plus one per request
	closeOnce sync.Once
	closed    chan struct{}
}

type stage struct {
	name string
	vars map[string]string
}

// operation is a route's per-request recipe.
type operation struct {
	op      *config.Operation
	chain   *pipeline.Chain
	integ   integration
	timeout int64
	metrics atomic.Pointer[routeCache] // observability: this route's series
	auth    *authorizer                // nil: no custom authorizer
}

// BuildOptions select what a snapshot is built for.
type BuildOptions struct {
	// ID is the deployment id, readable by plugins as wasmgate.deployment.
	ID string
	// Stages replace the document's x-wasmgate-stages when not nil: a
	// deployment served on one stage is built with that stage only, its
	// variables coming from the stage, not the document.
	Stages []config.Stage
	// Plugins resolves the document's plugin references; nil uses the
	// gateway's Options.Plugins.
	Plugins PluginSource
}

// Build compiles an API document into a snapshot serving the document's
// own stages: every plugin is resolved, compiled and pre-warmed here, so
// nothing is compiled on the request path. On error nothing is left
// running.
func (g *Gateway) Build(ctx context.Context, api *config.API, id string) (*Snapshot, error) {
	return g.BuildWith(ctx, api, BuildOptions{ID: id})
}

// BuildWith is Build with options. Plugin pools are shared between
// snapshots: a plugin with the same digest and configuration as one a
// live snapshot uses is not instantiated again, so redeploying or rolling
// back to known plugins costs no instantiation.
func (g *Gateway) BuildWith(ctx context.Context, api *config.API, opts BuildOptions) (snap *Snapshot, err error) {
	s := &Snapshot{ID: opts.ID, API: api, byHost: map[string]*stage{}, byName: map[string]*stage{}, closed: make(chan struct{}), pools: &g.pools}
	s.refs.Store(1)
	defer func() {
		if err != nil {
			s.closePlugins()
		}
	}()
	src := opts.Plugins
	if src == nil {
		src = g.opts.Plugins
	}
	stages := api.Stages
	if opts.Stages != nil {
		stages = opts.Stages
	}
	for _, st := range stages {
		sg := &stage{name: st.Name, vars: st.Variables}
		s.stages = append(s.stages, sg)
		s.byName[st.Name] = sg
		for _, h := range st.Hosts {
			s.byHost[strings.ToLower(h)] = sg
		}
	}
	if len(s.stages) == 0 {
		s.single = &stage{name: "$default", vars: map[string]string{}}
	}
	if s.upstreams, err = g.buildUpstreams(api); err != nil {
		return nil, err
	}
	cache := map[string]*wasm.Plugin{} // digest+config → plugin, shared by operations
	if err := g.buildAuthorizers(ctx, s, src, cache); err != nil {
		return nil, err
	}
	if s.responses, err = compileResponses(api); err != nil {
		return nil, err
	}
	for _, op := range api.Operations {
		o := &operation{op: op, auth: s.authorizers[op.Authorizer]}
		var steps []pipeline.Step
		refs := append([]config.PluginRef(nil), op.Pipeline...)
		tail, integ, err := g.integrationFor(op)
		if err != nil {
			return nil, err
		}
		refs = append(refs, tail...)
		o.integ = integ
		for i, ref := range refs {
			// Pipeline plugins get the host's per-call deadline; the
			// plugins that implement the integration (function, mock,
			// transform) handle whole bodies and get the integration's
			// timeout, like the upstream call they replace.
			timeout := g.opts.PluginCallTimeout
			if i >= len(op.Pipeline) {
				timeout = integ.timeout()
			}
			p, err := g.plugin(ctx, s, src, cache, ref, timeout)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", op.Method, op.Path, err)
			}
			mode := pipeline.FailClosed
			if ref.OnError == "fail_open" {
				mode = pipeline.FailOpen
			}
			steps = append(steps, pipeline.Step{Plugin: p, OnError: mode})
		}
		if len(steps) > 0 {
			o.chain = pipeline.NewChain(steps...)
		}
		path := joinPath(api.BasePath, op.Path)
		if err := s.router.Add(&Route{Method: op.Method, Template: path, Data: o}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func joinPath(base, p string) string {
	base = strings.TrimSuffix(base, "/")
	if base == "" {
		return p
	}
	if p == "/" {
		return base
	}
	return base + p
}

func (g *Gateway) plugin(ctx context.Context, s *Snapshot, src PluginSource, cache map[string]*wasm.Plugin, ref config.PluginRef, timeout time.Duration) (*wasm.Plugin, error) {
	if src == nil {
		return nil, fmt.Errorf("plugin %s: no plugin source configured", ref.Ref)
	}
	bin, err := src.Resolve(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", ref.Ref, err)
	}
	m, err := g.opts.Engine.Compile(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", ref.Ref, err)
	}
	key := m.Digest() + "\x00" + timeout.String() + "\x00" + string(ref.Config)
	if p, ok := cache[key]; ok {
		return p, nil
	}
	sp, err := g.pools.acquire(ctx, key, func() (*wasm.Plugin, error) {
		name := ref.Name
		if ref.Version != "" {
			name += "@" + ref.Version
		}
		if name == "" {
			name = ref.Ref
		}
		return g.opts.Engine.NewPlugin(ctx, m, wasm.PluginConfig{
			Name:        name,
			RootID:      ref.Name,
			VMID:        "",
			Config:      []byte(ref.Config),
			PoolMin:     g.opts.PoolMin,
			PoolMax:     g.opts.PoolMax,
			CallTimeout: timeout,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("plugin %s (%s): %w", ref.Ref, ref.Loc, err)
	}
	cache[key] = sp.p
	s.plugins = append(s.plugins, sp.p)
	s.pooled = append(s.pooled, sp)
	return sp.p, nil
}

// acquire takes a request reference; false when the snapshot is closing.
func (s *Snapshot) acquire() bool {
	if s.refs.Add(1) <= 1 {
		s.release()
		return false
	}
	return true
}

func (s *Snapshot) release() {
	if s.refs.Add(-1) == 0 {
		s.closeOnce.Do(func() {
			go func() {
				s.closePlugins()
				close(s.closed)
			}()
		})
	}
}

// Retire drops the snapshot's "current" reference: it closes once its
// in-flight requests end. Done reports when that happened.
func (s *Snapshot) Retire() { s.release() }

// Done is closed when a retired snapshot has released its plugins.
func (s *Snapshot) Done() <-chan struct{} { return s.closed }

func (s *Snapshot) closePlugins() {
	s.upstreams.close()
	for _, sp := range s.pooled {
		s.pools.release(sp)
	}
	s.pooled = nil
}

// selectStage picks the stage by Host header, then by the first path
// segment (which it strips).
func (s *Snapshot) selectStage(host, path string) (*stage, string) {
	if s.single != nil {
		return s.single, path
	}
	return selectByHostOrPrefix(s.byHost, s.byName, host, path)
}

// Plugins returns the snapshot's plugin pools (for metrics and tests).
func (s *Snapshot) Plugins() []*wasm.Plugin { return append([]*wasm.Plugin(nil), s.plugins...) }

// pluginPools shares plugin instance pools between snapshots, by module
// digest and configuration, with a reference count each.
type pluginPools struct {
	mu    sync.Mutex
	pools map[string]*sharedPool
}

type sharedPool struct {
	key  string
	p    *wasm.Plugin
	refs int   // under pluginPools.mu
	err  error // set before done is closed
	done chan struct{}
}

// acquire returns the pool for key, creating it with create when none is
// live, and takes a reference on it, released with release.
func (pp *pluginPools) acquire(ctx context.Context, key string, create func() (*wasm.Plugin, error)) (*sharedPool, error) {
	pp.mu.Lock()
	if pp.pools == nil {
		pp.pools = map[string]*sharedPool{}
	}
	if sp, ok := pp.pools[key]; ok {
		sp.refs++
		pp.mu.Unlock()
		select {
		case <-sp.done:
		case <-ctx.Done():
			pp.release(sp)
			return nil, ctx.Err()
		}
		if sp.err != nil {
			pp.release(sp)
			return nil, sp.err
		}
		return sp, nil
	}
	sp := &sharedPool{key: key, refs: 1, done: make(chan struct{})}
	pp.pools[key] = sp
	pp.mu.Unlock()

	// Created outside the lock: instantiation takes milliseconds and other
	// builds must not wait for it.
	sp.p, sp.err = create()
	if sp.err != nil {
		pp.mu.Lock()
		if pp.pools[key] == sp {
			delete(pp.pools, key) // the next build tries again
		}
		pp.mu.Unlock()
	}
	close(sp.done)
	if sp.err != nil {
		pp.release(sp)
		return nil, sp.err
	}
	return sp, nil
}

// release drops a reference; the last one closes the pool.
func (pp *pluginPools) release(sp *sharedPool) {
	pp.mu.Lock()
	sp.refs--
	last := sp.refs == 0
	if last && pp.pools[sp.key] == sp {
		delete(pp.pools, sp.key)
	}
	pp.mu.Unlock()
	if last && sp.p != nil {
		_ = sp.p.Close(context.Background()) // the plugin closes its own instances; nothing to report
	}
}

// live returns the number of live shared pools.
func (pp *pluginPools) live() int {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return len(pp.pools)
}

// LivePlugins returns the open plugin instance pools, shared between
// snapshots (for metrics).
func (g *Gateway) LivePlugins() []*wasm.Plugin {
	pp := &g.pools
	pp.mu.Lock()
	defer pp.mu.Unlock()
	out := make([]*wasm.Plugin, 0, len(pp.pools))
	for _, sp := range pp.pools {
		select {
		case <-sp.done:
			if sp.p != nil {
				out = append(out, sp.p)
			}
		default: // still being created
		}
	}
	return out
}
