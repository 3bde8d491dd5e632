package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Input is a deployable unit from outside the admin API: an API document
// and the plugin binaries that come with it (the embedded example, a
// document given to serve, a config directory).
type Input struct {
	// Source names the document ("api.yaml", "examples/petstore/petstore.yaml").
	Source string
	Doc    []byte
	// Plugins are stored before the document is deployed; a bare-name
	// reference ("cors") resolves to the one of that name here before any
	// other version in the store.
	Plugins []PluginFile
	// FileRoot resolves file: references ("" refuses them).
	FileRoot string
}

// PluginFile is a plugin binary of an Input.
type PluginFile struct {
	Name, Version string // Version "" stores it as "file-<digest prefix>"
	Bin           []byte
}

// Fingerprint identifies the input's content: the document and every
// plugin's name, version and digest.
func (in *Input) Fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00", in.Source, len(in.Doc))
	h.Write(in.Doc)
	var ps []string
	for _, p := range in.Plugins {
		ps = append(ps, p.Name+"@"+p.Version+"="+digestOf(p.Bin))
	}
	sort.Strings(ps)
	for _, p := range ps {
		fmt.Fprintf(h, "\x00%s", p)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// ApplyInput stores in's plugins and deploys its document to the stages
// it declares (DeployOptions.DeclaredStages), unless the newest deployment
// made from in.Source already has its fingerprint: restarting with the
// same input changes nothing, and a rollback made since is kept. It
// returns the new deployment, or nil when nothing changed.
func (m *Manager) ApplyInput(ctx context.Context, in Input, description, author string) (*Deployment, error) {
	fp := in.Fingerprint()
	if last := m.lastFrom(in.Source); last != nil && last.Fingerprint == fp {
		return nil, nil
	}
	m.mu.Lock()
	local := map[string]string{}
	for _, p := range in.Plugins {
		version := p.Version
		if version == "" {
			version = "file-" + digestOf(p.Bin)[7:19]
		}
		info, _, err := m.pushLocked(ctx, p.Name, version, p.Bin, author, true)
		if err != nil {
			m.mu.Unlock()
			return nil, fmt.Errorf("plugin %s@%s: %w", p.Name, version, err)
		}
		local[p.Name] = info.Digest
	}
	m.mu.Unlock()
	return m.deploy(ctx, in.Doc, DeployOptions{
		Source: in.Source, DeclaredStages: true, FileRoot: in.FileRoot,
		Description: description, Author: author, Fingerprint: fp,
	}, local)
}

// lastFrom returns the newest deployment made from source, or nil.
func (m *Manager) lastFrom(source string) *Deployment {
	m.mu.Lock()
	defer m.mu.Unlock()
	var last *Deployment
	for _, d := range m.deployments {
		if d.Source == source && (last == nil || d.Seq > last.Seq) {
			last = d
		}
	}
	return last
}

// DocumentNames are the file names ReadDir looks for, in order.
var DocumentNames = []string{"api.yaml", "api.yml", "api.json", "openapi.yaml", "openapi.yml", "openapi.json", "swagger.yaml", "swagger.yml", "swagger.json"}

// ReadDir reads a config directory for file-driven mode: the API document
// (the first of DocumentNames) and plugins/*.wasm, named NAME@VERSION.wasm
// or NAME.wasm. file: references in the document are relative to dir.
func ReadDir(dir string) (Input, error) {
	in := Input{FileRoot: dir}
	for _, n := range DocumentNames {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return in, err
		}
		in.Source, in.Doc = n, b
		break
	}
	if in.Doc == nil {
		return in, fmt.Errorf("%s holds no API document: add one named %s", dir, strings.Join(DocumentNames, ", "))
	}
	files, err := filepath.Glob(filepath.Join(dir, "plugins", "*.wasm"))
	if err != nil {
		return in, err
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return in, err
		}
		base := strings.TrimSuffix(filepath.Base(f), ".wasm")
		name, version, _ := strings.Cut(base, "@")
		in.Plugins = append(in.Plugins, PluginFile{Name: name, Version: version, Bin: b})
	}
	return in, nil
}

// WatchDir deploys the config directory dir whenever its content changes
// (polled every interval; polling also sees the symlink swaps of
// Kubernetes ConfigMaps), until ctx ends. A change that fails to read or
// deploy is logged once and the served stages stay as they are.
func (m *Manager) WatchDir(ctx context.Context, dir string, interval time.Duration) {
	failed := ""
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		in, err := ReadDir(dir)
		if err != nil {
			if msg := err.Error(); msg != failed {
				m.opts.Log("watch %s: %v", dir, err)
				failed = msg
			}
			continue
		}
		fp := in.Fingerprint()
		if fp == failed {
			continue
		}
		d, err := m.ApplyInput(ctx, in, "changed in "+dir, "file-watch")
		switch {
		case err != nil:
			m.opts.Log("watch %s: not deployed (the served stages are unchanged): %v", dir, err)
			failed = fp
		case d != nil:
			m.opts.Log("watch %s: deployed %s to %s", dir, d.ID, strings.Join(m.stagesServing(d.ID), ", "))
			failed = ""
		}
	}
}

func (m *Manager) stagesServing(id string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, n := range m.stageNames() {
		if m.stages[n].Deployment == id {
			out = append(out, n)
		}
	}
	return out
}
