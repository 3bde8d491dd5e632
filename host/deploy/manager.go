package deploy

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/wasmgate/wasmgate/host/config"
	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// Options configure a Manager.
type Options struct {
	// Dir is the data directory holding the store file.
	Dir string
	// Engine compiles plugins; Gateway serves the stages.
	Engine  *wasm.Engine
	Gateway *gateway.Gateway
	// Log receives start-up problems and notable events; nil discards.
	Log func(format string, args ...any)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxStages bounds the number of stages (default 64).
	MaxStages int
	// RewriteVariables, when set, may change the stage variables a
	// snapshot is built with (a copy; nothing is stored). The embedded
	// demo uses it to point the petstore's backend variable at its own
	// backend.
	RewriteVariables func(vars map[string]string)
}

// Manager owns the store and keeps the gateway serving it. Its methods
// are safe for concurrent use; changes are serialized.
type Manager struct {
	opts   Options
	engine *wasm.Engine
	gw     *gateway.Gateway
	db     *bolt.DB

	mu          sync.Mutex
	stages      map[string]*Stage
	deployments map[string]*Deployment
	lastSeq     int
	apis        map[string]*config.API // parsed documents, by deployment id
	live        map[string]*liveStage
	loadErr     map[string]string
}

type liveStage struct {
	main, canary *gateway.Snapshot
}

// stageNameRE matches stage names: "$default" is the stage served at the
// root (gateway.DefaultStage).
var stageNameRE = regexp.MustCompile(`^([A-Za-z0-9_-]{1,64}|\$default)$`)

// Open opens (or creates) the store in opts.Dir and serves every stored
// stage. A stage that fails to load is logged and left unserved (its
// status says why); the others serve.
func Open(ctx context.Context, opts Options) (*Manager, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxStages <= 0 {
		opts.MaxStages = 64
	}
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	db, err := openDB(opts.Dir)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		opts: opts, engine: opts.Engine, gw: opts.Gateway, db: db,
		stages: map[string]*Stage{}, deployments: map[string]*Deployment{},
		apis: map[string]*config.API{}, live: map[string]*liveStage{}, loadErr: map[string]string{},
	}
	err = db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bDeployments).ForEach(func(k, v []byte) error {
			d := new(Deployment)
			if _, err := getJSON(tx.Bucket(bDeployments), k, d); err != nil {
				return fmt.Errorf("deployment %x: %w", k, err)
			}
			m.deployments[d.ID] = d
			m.lastSeq = max(m.lastSeq, d.Seq)
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bStages).ForEach(func(k, v []byte) error {
			st := new(Stage)
			if _, err := getJSON(tx.Bucket(bStages), k, st); err != nil {
				return fmt.Errorf("stage %s: %w", k, err)
			}
			m.stages[st.Name] = st
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("reading the store: %w", err)
	}
	for _, name := range m.stageNames() {
		ls, err := m.buildStage(ctx, m.stages[name], nil)
		if err != nil {
			m.loadErr[name] = err.Error()
			opts.Log("stage %s is not served: %v", name, err)
			continue
		}
		m.live[name] = ls
	}
	t, err := table(m.live, m.stages)
	if err != nil {
		m.closeLive(m.live)
		db.Close()
		return nil, err
	}
	m.gw.SwapTable(t)
	return m, nil
}

// Close stops serving (the gateway gets an empty table), waits for the
// stages' in-flight requests and closes the store.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gw.SwapTable(nil)
	for _, s := range snapshots(m.live) {
		s.Retire()
		<-s.Done()
	}
	m.live = map[string]*liveStage{}
	return m.db.Close()
}

func (m *Manager) now() time.Time { return m.opts.Now().UTC() }

func (m *Manager) stageNames() []string {
	return slices.Sorted(maps.Keys(m.stages))
}

// table builds the gateway table for live stages with the given stage
// settings.
func table(live map[string]*liveStage, stages map[string]*Stage) (*gateway.Table, error) {
	var ts []*gateway.TableStage
	for _, name := range slices.Sorted(maps.Keys(live)) {
		ls, st := live[name], stages[name]
		e := &gateway.TableStage{Name: name, Hosts: st.Hosts, Main: ls.main, Observe: st.observeSettings()}
		if st.Cache != nil {
			e.Cache = &gateway.CacheSetting{Enabled: st.Cache.Enabled, SizeMB: st.Cache.SizeMB}
		}
		if st.Throttle != nil {
			e.Throttle = &gateway.ThrottleSetting{Rate: st.Throttle.RateLimit, Burst: st.Throttle.Burst}
		}
		e.RequireClientCert = st.RequireClientCert
		if ls.canary != nil && st.Canary != nil {
			e.Canary, e.CanaryPercent, e.Sticky = ls.canary, st.Canary.Percent, st.Canary.Sticky
		}
		ts = append(ts, e)
	}
	t, err := gateway.NewTable(ts)
	if err != nil {
		return nil, errorf(ErrConflict, "%v", err)
	}
	return t, nil
}

func snapshots(live map[string]*liveStage) []*gateway.Snapshot {
	var out []*gateway.Snapshot
	for _, ls := range live {
		out = append(out, ls.main)
		if ls.canary != nil {
			out = append(out, ls.canary)
		}
	}
	return out
}

func (m *Manager) closeLive(live map[string]*liveStage) {
	for _, s := range snapshots(live) {
		s.Retire()
	}
}
