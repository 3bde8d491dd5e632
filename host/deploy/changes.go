package deploy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/wasmgate/wasmgate/host/config"
	"github.com/wasmgate/wasmgate/host/gateway"
)

// change is one atomic update: stage values, the snapshots that serve
// them, an optional new deployment, and history events.
type change struct {
	set    map[string]*Stage
	built  map[string]*liveStage
	del    []string
	deploy *Deployment
	doc    []byte
	events []Event
}

func newChange() *change {
	return &change{set: map[string]*Stage{}, built: map[string]*liveStage{}}
}

// discard retires the snapshots a failed change built.
func (m *Manager) discard(c *change) {
	keep := map[*gateway.Snapshot]bool{}
	for _, s := range snapshots(m.live) {
		keep[s] = true
	}
	for _, s := range snapshots(c.built) {
		if !keep[s] {
			s.Retire()
		}
	}
}

// apply persists c in one transaction, then swaps the gateway's table and
// retires the snapshots no longer served. On error nothing changed.
func (m *Manager) apply(c *change) error {
	stages, live := maps.Clone(m.stages), maps.Clone(m.live)
	for n, st := range c.set {
		stages[n], live[n] = st, c.built[n]
	}
	for _, n := range c.del {
		delete(stages, n)
		delete(live, n)
	}
	if len(stages) > m.opts.MaxStages {
		m.discard(c)
		return errorf(ErrInvalid, "at most %d stages (a data directory's limit, Options.MaxStages)", m.opts.MaxStages)
	}
	// Stages that failed to load at start-up and are not part of this
	// change stay unserved.
	for n := range live {
		if live[n] == nil {
			delete(live, n)
		}
	}
	t, err := table(live, stages)
	if err != nil {
		m.discard(c)
		return err
	}
	now := m.now()
	err = m.db.Update(func(tx *bolt.Tx) error {
		if d := c.deploy; d != nil {
			if err := tx.Bucket(bDocs).Put([]byte(d.DocDigest), c.doc); err != nil {
				return err
			}
			if err := putJSON(tx.Bucket(bDeployments), seqKey(d.Seq), d); err != nil {
				return err
			}
		}
		for n, st := range c.set {
			if err := putJSON(tx.Bucket(bStages), []byte(n), st); err != nil {
				return err
			}
		}
		for _, n := range c.del {
			if err := tx.Bucket(bStages).Delete([]byte(n)); err != nil {
				return err
			}
		}
		_, err := appendEvents(tx, now, c.events)
		return err
	})
	if err != nil {
		m.discard(c)
		return fmt.Errorf("saving the change: %w", err)
	}
	served := map[*gateway.Snapshot]bool{}
	for _, s := range snapshots(live) {
		served[s] = true
	}
	old := snapshots(m.live)
	m.stages, m.live = stages, live
	if d := c.deploy; d != nil {
		m.deployments[d.ID] = d
		m.lastSeq = max(m.lastSeq, d.Seq)
	}
	for n := range c.set {
		delete(m.loadErr, n)
	}
	for _, n := range c.del {
		delete(m.loadErr, n)
	}
	m.gw.SwapTable(t)
	for _, s := range old {
		if !served[s] {
			s.Retire()
		}
	}
	return nil
}

// DeployOptions configure Deploy.
type DeployOptions struct {
	// Source names the document in messages and exports ("api.yaml").
	Source string
	// Stages are pointed at the new deployment; missing ones are created
	// (with the hosts and variables the document declares for them, if
	// any).
	Stages []string
	// DeclaredStages also points every stage the document declares
	// (x-wasmgate-stages) at it, and sets those stages' hosts and
	// variables from the document: the file-driven mode, where the
	// document is the source of truth. A document that declares no stage
	// is served at the root, as stage "$default".
	DeclaredStages bool
	// Description and Author are recorded.
	Description, Author string
	// FileRoot resolves file: plugin references (which are then stored);
	// "" refuses them.
	FileRoot string
	// Fingerprint is recorded (file-driven mode).
	Fingerprint string
}

// Deploy makes a deployment of an API document: the document is parsed
// and validated, its plugin references resolved to stored digests, and
// every plugin compiled and configured, before anything is saved. The
// stages named (if any) then serve it. With no stage the deployment is
// only recorded (and validated), ready for a stage to point at.
func (m *Manager) Deploy(ctx context.Context, doc []byte, o DeployOptions) (*Deployment, error) {
	return m.deploy(ctx, doc, o, nil)
}

// deploy is Deploy; local maps plugin names to digests that bare-name
// references resolve to first.
func (m *Manager) deploy(ctx context.Context, doc []byte, o DeployOptions, local map[string]string) (*Deployment, error) {
	if o.Source == "" {
		o.Source = "api.yaml"
	}
	api, err := config.Parse(o.Source, doc)
	if err != nil {
		return nil, errorf(ErrInvalid, "%w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()

	seq := m.lastSeq + 1
	d := &Deployment{
		ID: "d-" + strconv.Itoa(seq), Seq: seq, Description: o.Description, Author: o.Author,
		Created: m.now(), API: api.Name, Source: o.Source, DocDigest: api.Digest,
		Operations: len(api.Operations), Fingerprint: o.Fingerprint,
	}
	declared := map[string]config.Stage{}
	for _, s := range api.Stages {
		declared[s.Name] = s
	}
	var targets []string
	for _, n := range o.Stages {
		if !slices.Contains(targets, n) {
			targets = append(targets, n)
		}
	}
	if o.DeclaredStages {
		for _, s := range api.Stages {
			if !slices.Contains(targets, s.Name) {
				targets = append(targets, s.Name)
			}
		}
		if len(api.Stages) == 0 && len(targets) == 0 {
			targets = []string{gateway.DefaultStage} // served at the root
		}
	}
	for _, n := range targets {
		if !stageNameRE.MatchString(n) {
			return nil, errorf(ErrInvalid, "stage name %q: use letters, digits, '-' and '_' (at most 64)", n)
		}
	}

	// The new deployment is visible to the builds below only.
	m.deployments[d.ID], m.apis[d.ID] = d, api
	c := newChange()
	fail := func(err error) (*Deployment, error) {
		m.discard(c)
		delete(m.deployments, d.ID)
		delete(m.apis, d.ID)
		return nil, err
	}
	res := &resolver{m: m, fileRoot: o.FileRoot, author: o.Author, local: local}
	for _, n := range targets {
		st := m.copyStage(n)
		if ds, ok := declared[n]; ok && (m.stages[n] == nil || o.DeclaredStages) {
			st.Hosts, st.Variables = uniqueHosts(ds.Hosts), maps.Clone(ds.Variables)
		}
		if st.Variables == nil {
			st.Variables = map[string]string{}
		}
		from := st.Deployment
		m.point(st, d.ID)
		ls, err := m.rebuild(ctx, st, true, o.DeclaredStages, res)
		if err != nil {
			return fail(fmt.Errorf("stage %s: %w", n, err))
		}
		c.set[n], c.built[n] = st, ls
		c.events = append(c.events, Event{Action: "deploy", Stage: n, Deployment: d.ID, From: from, Author: o.Author, Detail: o.Description})
	}
	if len(targets) == 0 {
		// Validate: build it once on a throw-away stage.
		st := &Stage{Name: "validate", Deployment: d.ID, Variables: map[string]string{}}
		if len(api.Stages) > 0 {
			st.Variables = maps.Clone(api.Stages[0].Variables)
		}
		s, err := m.buildSnapshot(ctx, d, st, nil, res)
		if err != nil {
			return fail(err)
		}
		s.Retire()
		c.events = append(c.events, Event{Action: "deploy", Deployment: d.ID, Author: o.Author, Detail: o.Description})
	}
	d.Plugins = res.found
	c.deploy, c.doc = d, api.Raw
	if err := m.apply(c); err != nil {
		delete(m.deployments, d.ID)
		delete(m.apis, d.ID)
		return nil, err
	}
	out := *d
	out.Plugins = slices.Clone(d.Plugins)
	return &out, nil
}

// uniqueHosts lower-cases host names and drops repeats.
func uniqueHosts(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		h = strings.ToLower(h)
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// copyStage returns a copy of stage n to modify, or a new stage.
func (m *Manager) copyStage(n string) *Stage {
	old := m.stages[n]
	if old == nil {
		now := m.now()
		return &Stage{Name: n, Variables: map[string]string{}, Created: now, Updated: now}
	}
	st := old.clone()
	st.Updated = m.now()
	return st
}

// point makes st serve deployment id, remembering it for rollback.
func (m *Manager) point(st *Stage, id string) {
	if st.Deployment == id {
		return
	}
	st.Deployment = id
	st.Served = slices.DeleteFunc(st.Served, func(s string) bool { return s == id })
	st.Served = append(st.Served, id)
	if len(st.Served) > 100 {
		st.Served = st.Served[len(st.Served)-100:]
	}
}

// rebuild builds the snapshots of a changed stage; the parts not asked
// for are reused from the live stage when it has them.
func (m *Manager) rebuild(ctx context.Context, st *Stage, main, canary bool, res *resolver) (*liveStage, error) {
	cur := m.live[st.Name]
	if cur == nil {
		main, canary = true, true
	}
	ls := &liveStage{}
	if cur != nil {
		ls.main, ls.canary = cur.main, cur.canary
	}
	var err error
	if main {
		d := m.deployments[st.Deployment]
		if d == nil {
			return nil, errorf(ErrNotFound, "deployment %s does not exist", st.Deployment)
		}
		if ls.main, err = m.buildSnapshot(ctx, d, st, nil, res); err != nil {
			return nil, err
		}
	}
	if st.Canary == nil {
		ls.canary = nil
	} else if canary || ls.canary == nil {
		cd := m.deployments[st.Canary.Deployment]
		if cd == nil {
			err = errorf(ErrNotFound, "canary deployment %s does not exist", st.Canary.Deployment)
		} else {
			ls.canary, err = m.buildSnapshot(ctx, cd, st, st.Canary.Variables, nil)
		}
		if err != nil {
			if main && (cur == nil || ls.main != cur.main) {
				ls.main.Retire()
			}
			return nil, fmt.Errorf("canary: %w", err)
		}
	}
	return ls, nil
}

// stageChange rebuilds one stage and applies it with one event.
func (m *Manager) stageChange(ctx context.Context, st *Stage, main, canary bool, ev Event) (*Stage, error) {
	ls, err := m.rebuild(ctx, st, main, canary, nil)
	if err != nil {
		return nil, err
	}
	c := newChange()
	c.set[st.Name], c.built[st.Name] = st, ls
	ev.Stage = st.Name
	if ev.Deployment == "" {
		ev.Deployment = st.Deployment
	}
	c.events = []Event{ev}
	if err := m.apply(c); err != nil {
		return nil, err
	}
	return st.clone(), nil
}

func (m *Manager) stage(name string) (*Stage, error) {
	if st := m.stages[name]; st != nil {
		return st, nil
	}
	return nil, errorf(ErrNotFound, "no stage %q", name)
}

// Rollback points a stage at deployment to, or, when to is "", at the
// newest deployment it served that is older than its current one.
func (m *Manager) Rollback(ctx context.Context, stage, to, author string) (*Stage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, err := m.stage(stage)
	if err != nil {
		return nil, err
	}
	if to == "" {
		to = m.previous(cur)
		if to == "" {
			return nil, errorf(ErrInvalid, "stage %s has served no deployment older than %s: name one (--to d-N)", stage, cur.Deployment)
		}
	}
	if m.deployments[to] == nil {
		return nil, errorf(ErrNotFound, "no deployment %s", to)
	}
	if to == cur.Deployment && m.live[stage] != nil {
		return nil, errorf(ErrInvalid, "stage %s already serves %s", stage, to)
	}
	st := m.copyStage(stage)
	from := st.Deployment
	m.point(st, to)
	return m.stageChange(ctx, st, true, false, Event{Action: "rollback", From: from, Author: author})
}

func (m *Manager) previous(st *Stage) string {
	curSeq := m.seqOf(st.Deployment)
	best, bestSeq := "", 0
	for _, id := range st.Served {
		if n := m.seqOf(id); m.deployments[id] != nil && n < curSeq && n > bestSeq {
			best, bestSeq = id, n
		}
	}
	return best
}

func (m *Manager) seqOf(id string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "d-"))
	return n
}

// Pin makes a stage use the plugin digest ref resolves to ("sha256:...",
// "name@version" or a bare version of plugin) wherever its deployment
// (and canary) use plugin. A pin is a rollback of one plugin.
func (m *Manager) Pin(ctx context.Context, stage, plugin, ref, author string) (*Stage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, err := m.stage(stage)
	if err != nil {
		return nil, err
	}
	if !m.uses(cur, plugin) {
		return nil, errorf(ErrInvalid, "stage %s (%s) does not use a plugin named %q", stage, cur.Deployment, plugin)
	}
	pr := config.PluginRef{Ref: ref, Name: plugin}
	switch {
	case digestRE.MatchString(ref):
		pr.Digest, pr.Name = ref, ""
	case strings.Contains(ref, "@"):
		pr.Name, pr.Version, _ = strings.Cut(ref, "@")
	default:
		pr.Version = ref
	}
	if pr.Version == "" && pr.Digest == "" {
		return nil, errorf(ErrInvalid, "pin %q: give a digest (sha256:...), name@version or a version", ref)
	}
	var digest string
	if err := m.db.View(func(tx *bolt.Tx) error {
		var err error
		digest, err = resolveTx(tx, pr)
		return err
	}); err != nil {
		return nil, err
	}
	st := m.copyStage(stage)
	from := st.Pins[plugin]
	if st.Pins == nil {
		st.Pins = map[string]string{}
	}
	st.Pins[plugin] = digest
	return m.stageChange(ctx, st, true, true, Event{Action: "pin", Plugin: plugin, Digest: digest, From: from, Author: author})
}

// Unpin removes a stage's pin of plugin.
func (m *Manager) Unpin(ctx context.Context, stage, plugin, author string) (*Stage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, err := m.stage(stage)
	if err != nil {
		return nil, err
	}
	if _, ok := cur.Pins[plugin]; !ok {
		return nil, errorf(ErrNotFound, "stage %s does not pin %q", stage, plugin)
	}
	st := m.copyStage(stage)
	from := st.Pins[plugin]
	delete(st.Pins, plugin)
	return m.stageChange(ctx, st, true, true, Event{Action: "unpin", Plugin: plugin, From: from, Author: author})
}

func (m *Manager) uses(st *Stage, plugin string) bool {
	ids := []string{st.Deployment}
	if st.Canary != nil {
		ids = append(ids, st.Canary.Deployment)
	}
	for _, id := range ids {
		if d := m.deployments[id]; d != nil {
			for _, p := range d.Plugins {
				if p.Name == plugin {
					return true
				}
			}
		}
	}
	return false
}

// SetCanary sends c.Percent of a stage's requests to c.Deployment.
func (m *Manager) SetCanary(ctx context.Context, stage string, c Canary, author string) (*Stage, error) {
	if !(c.Percent > 0 && c.Percent <= 100) { // also NaN
		return nil, errorf(ErrInvalid, "canary percent %v: want more than 0 and at most 100", c.Percent)
	}
	if err := gateway.CheckSticky(c.Sticky); err != nil {
		return nil, errorf(ErrInvalid, "canary: %v", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.stage(stage); err != nil {
		return nil, err
	}
	if m.deployments[c.Deployment] == nil {
		return nil, errorf(ErrNotFound, "no deployment %s", c.Deployment)
	}
	st := m.copyStage(stage)
	c.Variables = maps.Clone(c.Variables)
	st.Canary = &c
	return m.stageChange(ctx, st, false, true, Event{Action: "canary", Deployment: c.Deployment, From: st.Deployment, Author: author,
		Detail: fmt.Sprintf("%v%% sticky=%q", c.Percent, c.Sticky)})
}

// PromoteCanary makes a stage's canary its deployment (its variable
// overrides become stage variables) and ends the canary.
func (m *Manager) PromoteCanary(ctx context.Context, stage, author string) (*Stage, error) {
	return m.endCanary(ctx, stage, author, true)
}

// DropCanary ends a stage's canary; all requests go to its deployment.
func (m *Manager) DropCanary(ctx context.Context, stage, author string) (*Stage, error) {
	return m.endCanary(ctx, stage, author, false)
}

func (m *Manager) endCanary(ctx context.Context, stage, author string, promote bool) (*Stage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, err := m.stage(stage)
	if err != nil {
		return nil, err
	}
	if cur.Canary == nil {
		return nil, errorf(ErrNotFound, "stage %s has no canary", stage)
	}
	st := m.copyStage(stage)
	canary := st.Canary
	st.Canary = nil
	if !promote {
		return m.stageChange(ctx, st, false, false, Event{Action: "drop-canary", From: canary.Deployment, Author: author})
	}
	from := st.Deployment
	maps.Copy(st.Variables, canary.Variables)
	m.point(st, canary.Deployment)
	return m.stageChange(ctx, st, true, false, Event{Action: "promote", From: from, Author: author})
}
