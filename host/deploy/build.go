package deploy

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/wasmgate/wasmgate/host/config"
	"github.com/wasmgate/wasmgate/host/gateway"
)

// api returns the parsed document of deployment d (cached).
func (m *Manager) api(d *Deployment) (*config.API, error) {
	if a, ok := m.apis[d.ID]; ok {
		return a, nil
	}
	var doc []byte
	err := m.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bDocs).Get([]byte(d.DocDigest))
		if b == nil {
			return errorf(ErrNotFound, "the document of %s (%s) is missing from the store", d.ID, d.DocDigest)
		}
		doc = append([]byte(nil), b...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	a, err := config.Parse(d.Source, doc)
	if err != nil {
		return nil, fmt.Errorf("the document of %s no longer parses: %w", d.ID, err)
	}
	m.apis[d.ID] = a
	return a, nil
}

// buildStage builds the snapshots a stage serves: its deployment and its
// canary. res resolves plugin references while a deployment is being made;
// nil uses the deployments' recorded digests.
func (m *Manager) buildStage(ctx context.Context, st *Stage, res *resolver) (*liveStage, error) {
	d := m.deployments[st.Deployment]
	if d == nil {
		return nil, errorf(ErrNotFound, "stage %s points at %s, which does not exist", st.Name, st.Deployment)
	}
	main, err := m.buildSnapshot(ctx, d, st, nil, res)
	if err != nil {
		return nil, err
	}
	ls := &liveStage{main: main}
	if st.Canary != nil {
		cd := m.deployments[st.Canary.Deployment]
		if cd == nil {
			main.Retire()
			return nil, errorf(ErrNotFound, "the canary of stage %s is %s, which does not exist", st.Name, st.Canary.Deployment)
		}
		if ls.canary, err = m.buildSnapshot(ctx, cd, st, st.Canary.Variables, nil); err != nil {
			main.Retire()
			return nil, fmt.Errorf("canary %s: %w", cd.ID, err)
		}
	}
	return ls, nil
}

func (m *Manager) buildSnapshot(ctx context.Context, d *Deployment, st *Stage, extra map[string]string, res *resolver) (*gateway.Snapshot, error) {
	api, err := m.api(d)
	if err != nil {
		return nil, err
	}
	vars := maps.Clone(st.Variables)
	if vars == nil {
		vars = map[string]string{}
	}
	maps.Copy(vars, extra)
	if m.opts.RewriteVariables != nil {
		m.opts.RewriteVariables(vars)
	}
	var src gateway.PluginSource = &deploymentSource{m: m, d: d, pins: st.Pins}
	if res != nil {
		res.pins = st.Pins
		src = res
	}
	s, err := m.gw.BuildWith(ctx, api, gateway.BuildOptions{
		ID:      d.ID,
		Stages:  []config.Stage{{Name: st.Name, Hosts: st.Hosts, Variables: vars}},
		Plugins: src,
	})
	if err != nil {
		// Invalid as a whole, whatever the cause (a plugin missing from
		// the store included): the message says which.
		return nil, errorf(ErrInvalid, "%v", err)
	}
	return s, nil
}

// deploymentSource serves a deployment's recorded plugins, with a stage's
// pins applied.
type deploymentSource struct {
	m    *Manager
	d    *Deployment
	pins map[string]string
}

func (s *deploymentSource) Resolve(_ context.Context, ref config.PluginRef) ([]byte, error) {
	if d, ok := s.pins[ref.Name]; ok && ref.Name != "" {
		return s.m.pluginBytes(d)
	}
	for _, p := range s.d.Plugins {
		if p.Ref == ref.Ref {
			return s.m.pluginBytes(p.Digest)
		}
	}
	return nil, errorf(ErrNotFound, "%s has no recorded digest for plugin %s", s.d.ID, ref.Ref)
}

// resolver resolves a new deployment's references against the store and
// records them. file: references are read from fileRoot and stored.
type resolver struct {
	m        *Manager
	fileRoot string
	author   string
	pins     map[string]string
	local    map[string]string // bare names resolved first (Input plugins)
	found    []ResolvedPlugin
}

func (r *resolver) Resolve(ctx context.Context, ref config.PluginRef) ([]byte, error) {
	digest, err := r.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	known := false
	for _, p := range r.found {
		known = known || p.Ref == ref.Ref
	}
	if !known {
		r.found = append(r.found, ResolvedPlugin{Ref: ref.Ref, Name: ref.Name, Digest: digest})
	}
	if d, ok := r.pins[ref.Name]; ok && ref.Name != "" {
		digest = d
	}
	return r.m.pluginBytes(digest)
}

func (r *resolver) resolve(ctx context.Context, ref config.PluginRef) (string, error) {
	if file, ok := strings.CutPrefix(ref.Ref, "file:"); ok {
		if r.fileRoot == "" {
			return "", errorf(ErrInvalid, "%s: file: references only work in file-driven mode (wasmgate serve --config DIR); push the plugin (wasmgate plugin push) and reference it as name@version", ref.Ref)
		}
		path := filepath.Join(r.fileRoot, filepath.FromSlash(file))
		if rel, err := filepath.Rel(r.fileRoot, path); err != nil || strings.HasPrefix(rel, "..") {
			return "", errorf(ErrInvalid, "%s points outside %s", ref.Ref, r.fileRoot)
		}
		bin, err := os.ReadFile(path)
		if err != nil {
			return "", errorf(ErrInvalid, "%s: %v", ref.Ref, err)
		}
		info, _, err := r.m.pushLocked(ctx, ref.Name, "file-"+digestOf(bin)[7:19], bin, r.author, true)
		if err != nil {
			return "", err
		}
		return info.Digest, nil
	}
	if d, ok := r.local[ref.Name]; ok && ref.Version == "" && ref.Digest == "" {
		return d, nil
	}
	var digest string
	err := r.m.db.View(func(tx *bolt.Tx) error {
		var err error
		digest, err = resolveTx(tx, ref)
		return err
	})
	return digest, err
}
