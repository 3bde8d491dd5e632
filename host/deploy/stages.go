package deploy

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/wasmgate/wasmgate/host/config"
	"github.com/wasmgate/wasmgate/host/observe"
)

// StageSpec is what PutStage sets: the deployment (required for a new
// stage) and every setting, replaced as a whole.
type StageSpec struct {
	Deployment string            `json:"deployment,omitempty"`
	Hosts      []string          `json:"hosts,omitempty"`
	Variables  map[string]string `json:"variables,omitempty"`
	Throttle   *Throttle         `json:"throttle,omitempty"`
	Cache      *Cache            `json:"cache,omitempty"`
	AccessLog  *AccessLog        `json:"accessLog,omitempty"`
	ExecLog    *ExecLog          `json:"execLog,omitempty"`
	Capture    *Capture          `json:"capture,omitempty"`
	// RequireClientCert: see Stage.
	RequireClientCert bool `json:"requireClientCert,omitempty"`
}

var (
	varNameRE  = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
	hostNameRE = regexp.MustCompile(`^[a-z0-9*]([a-z0-9.-]{0,252})$`)
)

func (s *StageSpec) validate() error {
	for k, v := range s.Variables {
		if !varNameRE.MatchString(k) {
			return fmt.Errorf("stage variable name %q: use letters, digits and '_' (at most 64)", k)
		}
		if len(v) > 2048 || strings.ContainsAny(v, "\x00\r\n") {
			return fmt.Errorf("stage variable %s: at most 2048 characters, no CR, LF or NUL", k)
		}
	}
	for _, h := range s.Hosts {
		if !hostNameRE.MatchString(strings.ToLower(h)) {
			return fmt.Errorf("host %q is not a host name (no port, no scheme)", h)
		}
	}
	s.Hosts = uniqueHosts(s.Hosts)
	if t := s.Throttle; t != nil && (t.RateLimit <= 0 || t.Burst < 0) {
		return fmt.Errorf("throttle: rateLimit must be positive and burst at least 0 (e.g. AWS's account default: rateLimit 10000, burst 5000)")
	}
	if c := s.Cache; c != nil && (c.SizeMB < 0 || c.TTLSeconds < 0 || c.TTLSeconds > 3600) {
		return fmt.Errorf("cache: sizeMB at least 0, ttlSeconds between 0 and 3600")
	}
	if a := s.AccessLog; a != nil {
		if a.Format != "" && a.Format != observe.FormatOff {
			if _, err := observe.ParseFormat(a.Format); err != nil {
				return fmt.Errorf("accessLog: format %q: %v (want json, clf, off or a template with $context variables)", a.Format, err)
			}
		}
		if err := observe.CheckDestination(a.Destination); err != nil {
			return fmt.Errorf("accessLog: %v", err)
		}
	}
	if e := s.ExecLog; e != nil {
		if _, err := observe.ParseExecLevel(e.Level); err != nil {
			return fmt.Errorf("execLog: %v", err)
		}
		if err := observe.CheckDestination(e.Destination); err != nil {
			return fmt.Errorf("execLog: %v", err)
		}
	}
	if c := s.Capture; c != nil {
		st := Stage{Capture: c}
		if err := observe.Check(*st.observeSettings()); err != nil {
			return fmt.Errorf("capture: %v", err)
		}
	}
	return nil
}

// PutStage creates a stage or replaces its settings; a new stage needs a
// deployment. A changed deployment counts as a deploy in the history.
func (m *Manager) PutStage(ctx context.Context, name string, spec StageSpec, author string) (*Stage, error) {
	if !stageNameRE.MatchString(name) {
		return nil, errorf(ErrInvalid, "stage name %q: use letters, digits, '-' and '_' (at most 64)", name)
	}
	spec.Hosts = slices.Clone(spec.Hosts)
	if err := spec.validate(); err != nil {
		return nil, errorf(ErrInvalid, "stage %s: %v", name, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.copyStage(name)
	isNew := m.stages[name] == nil
	if spec.Deployment == "" {
		if isNew {
			return nil, errorf(ErrInvalid, "stage %s does not exist: give the deployment it serves", name)
		}
		spec.Deployment = st.Deployment
	}
	if m.deployments[spec.Deployment] == nil {
		return nil, errorf(ErrNotFound, "no deployment %s", spec.Deployment)
	}
	from := st.Deployment
	m.point(st, spec.Deployment)
	st.Hosts, st.Variables = spec.Hosts, maps.Clone(spec.Variables)
	if st.Variables == nil {
		st.Variables = map[string]string{}
	}
	st.Throttle, st.Cache, st.AccessLog = spec.Throttle, spec.Cache, spec.AccessLog
	st.ExecLog, st.Capture = spec.ExecLog, spec.Capture
	st.RequireClientCert = spec.RequireClientCert
	action := "update-stage"
	if isNew {
		action = "create-stage"
	}
	return m.stageChange(ctx, st, true, true, Event{Action: action, From: from, Author: author})
}

// DeleteStage stops serving a stage and forgets it.
func (m *Manager) DeleteStage(ctx context.Context, name, author string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, err := m.stage(name)
	if err != nil {
		return err
	}
	c := newChange()
	c.del = []string{name}
	c.events = []Event{{Action: "delete-stage", Stage: name, From: st.Deployment, Author: author}}
	return m.apply(c)
}

// Stages returns every stage with its serving status, by name.
func (m *Manager) Stages() []StageStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []StageStatus
	for _, n := range m.stageNames() {
		out = append(out, m.status(n))
	}
	return out
}

// Stage returns one stage's status.
func (m *Manager) Stage(name string) (StageStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.stage(name); err != nil {
		return StageStatus{}, err
	}
	return m.status(name), nil
}

func (m *Manager) status(n string) StageStatus {
	return StageStatus{Stage: *m.stages[n].clone(), Serving: m.live[n] != nil, Error: m.loadErr[n]}
}

// clone returns a deep copy: callers get values they may change.
func (st *Stage) clone() *Stage {
	c := *st
	c.Hosts = slices.Clone(st.Hosts)
	c.Variables = maps.Clone(st.Variables)
	c.Pins = maps.Clone(st.Pins)
	c.Served = slices.Clone(st.Served)
	if st.Canary != nil {
		cc := *st.Canary
		cc.Variables = maps.Clone(st.Canary.Variables)
		c.Canary = &cc
	}
	if st.Throttle != nil {
		t := *st.Throttle
		c.Throttle = &t
	}
	if st.Cache != nil {
		t := *st.Cache
		c.Cache = &t
	}
	if st.AccessLog != nil {
		t := *st.AccessLog
		c.AccessLog = &t
	}
	if st.ExecLog != nil {
		t := *st.ExecLog
		c.ExecLog = &t
	}
	if st.Capture != nil {
		t := *st.Capture
		t.RedactHeaders, t.RedactFields = slices.Clone(t.RedactHeaders), slices.Clone(t.RedactFields)
		c.Capture = &t
	}
	return &c
}

// Deployments returns every deployment, newest first.
func (m *Manager) Deployments() []Deployment {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Deployment, 0, len(m.deployments))
	for _, d := range m.deployments {
		c := *d
		c.Plugins = slices.Clone(d.Plugins)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq > out[j].Seq })
	return out
}

// Deployment returns one deployment.
func (m *Manager) Deployment(id string) (Deployment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.deployments[id]
	if d == nil {
		return Deployment{}, errorf(ErrNotFound, "no deployment %s", id)
	}
	return *d, nil
}

// History returns change events, newest first: all of them, or those of
// one stage; limit <= 0 means all.
func (m *Manager) History(stage string, limit int) ([]Event, error) {
	var out []Event
	err := m.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bHistory).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var e Event
			if _, err := getJSON(tx.Bucket(bHistory), k, &e); err != nil {
				return err
			}
			_ = v
			if stage != "" && e.Stage != stage {
				continue
			}
			out = append(out, e)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		return nil
	})
	return out, err
}

// Export writes a deployment back as an OpenAPI document (format
// config.FormatOAS3 or config.FormatSwagger2, "" keeps the original's)
// with its plugin references pinned to the digests it resolved: deploying
// the export gives the same plugins. With a stage, the stage's pins apply,
// its deployment is the default, and x-wasmgate-stages holds that stage
// (hosts and variables) only.
func (m *Manager) Export(id, stage, format string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var st *Stage
	if stage != "" {
		var err error
		if st, err = m.stage(stage); err != nil {
			return nil, err
		}
		if id == "" {
			id = st.Deployment
		}
	}
	d := m.deployments[id]
	if d == nil {
		return nil, errorf(ErrNotFound, "no deployment %q", id)
	}
	api, err := m.api(d)
	if err != nil {
		return nil, err
	}
	out := *api
	pin := func(r config.PluginRef) config.PluginRef {
		digest := ""
		for _, p := range d.Plugins {
			if p.Ref == r.Ref {
				digest = p.Digest
			}
		}
		if st != nil && r.Name != "" && st.Pins[r.Name] != "" {
			digest = st.Pins[r.Name]
		}
		if digest == "" {
			return r
		}
		r.Digest, r.Version = digest, ""
		r.Ref = digest
		if r.Name != "" {
			r.Ref = r.Name + "@" + digest
		}
		return r
	}
	out.Operations = make([]*config.Operation, len(api.Operations))
	for i, op := range api.Operations {
		o := *op
		o.Pipeline = make([]config.PluginRef, len(op.Pipeline))
		for j, r := range op.Pipeline {
			o.Pipeline[j] = pin(r)
		}
		if op.Integration.Function != nil {
			f := pin(*op.Integration.Function)
			o.Integration.Function = &f
		}
		out.Operations[i] = &o
	}
	out.Authorizers = make([]*config.Authorizer, len(api.Authorizers))
	for i, a := range api.Authorizers {
		c := *a
		c.Plugin = pin(a.Plugin)
		out.Authorizers[i] = &c
	}
	if st != nil {
		out.Stages = []config.Stage{{Name: st.Name, Hosts: st.Hosts, Variables: st.Variables}}
	}
	b, err := config.Export(&out, format)
	if err != nil {
		return nil, errorf(ErrInvalid, "%v", err)
	}
	return b, nil
}
