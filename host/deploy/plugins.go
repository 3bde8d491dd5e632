package deploy

import (
	"context"
	"regexp"
	"sort"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/wasmgate/wasmgate/host/config"
	"github.com/wasmgate/wasmgate/host/wasm"
)

var (
	pluginNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	versionRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`)
	digestRE     = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// PushPlugin stores a plugin binary as name@version. The module is
// compiled and validated first (a broken module is refused with the
// reason). Tags never move: pushing other bytes under an existing
// name@version is a conflict; pushing the same bytes again is a no-op
// (created is false).
func (m *Manager) PushPlugin(ctx context.Context, name, version string, bin []byte, author string) (info PluginInfo, created bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pushLocked(ctx, name, version, bin, author, true)
}

// PushBuiltin stores a plugin the gateway ships (serve's embedded
// plugins) without compiling it: it is only compiled, like any plugin,
// when a deployment uses it. Compiling all of them up front took over
// ten seconds of CPU at a first start and their memory until released.
func (m *Manager) PushBuiltin(ctx context.Context, name, version string, bin []byte, author string) (info PluginInfo, created bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pushLocked(ctx, name, version, bin, author, false)
}

// pushLocked stores a plugin; compile validates it first (PushPlugin).
func (m *Manager) pushLocked(ctx context.Context, name, version string, bin []byte, author string, compile bool) (info PluginInfo, created bool, err error) {
	if !pluginNameRE.MatchString(name) {
		return info, false, errorf(ErrInvalid, "plugin name %q: use lower-case letters, digits, '.', '_' and '-' (at most 64)", name)
	}
	if !versionRE.MatchString(version) {
		return info, false, errorf(ErrInvalid, "plugin version %q: use letters, digits, '.', '_', '+' and '-' (e.g. 1.2.0)", version)
	}
	tag := name + "@" + version
	digest := digestOf(bin)
	// A moved tag is refused before compiling (which takes seconds for a
	// large module the first time), and the same bytes pushed again under
	// the same tag (serve's embedded plugins on every start) are not
	// compiled at all: they were validated when first pushed.
	stored := false
	if err := m.db.View(func(tx *bolt.Tx) error {
		old := tx.Bucket(bTags).Get([]byte(tag))
		switch {
		case old == nil:
			return nil
		case string(old) != digest:
			return errorf(ErrConflict, "%s is already %s; versions never change: push it as a new version", tag, old)
		}
		var err error
		stored, err = getJSON(tx.Bucket(bPlugins), []byte(digest), &info)
		return err
	}); err != nil || stored {
		return info, false, err
	}
	var abiVersion string
	var imports []string
	if compile {
		mod, err := m.engine.Compile(ctx, bin)
		if err != nil {
			return info, false, errorf(ErrInvalid, "%s@%s: %v", name, version, err)
		}
		abiVersion, imports = mod.ABIVersion(), mod.Imports()
	} else if abiVersion, imports, err = wasm.Inspect(bin); err != nil {
		return info, false, errorf(ErrInvalid, "%s@%s: %v", name, version, err)
	}
	err = m.db.Update(func(tx *bolt.Tx) error {
		tags, plugins := tx.Bucket(bTags), tx.Bucket(bPlugins)
		if old := tags.Get([]byte(tag)); old != nil {
			if string(old) != digest {
				return errorf(ErrConflict, "%s is already %s; versions never change: push it as a new version", tag, old)
			}
			_, err := getJSON(plugins, []byte(digest), &info)
			return err
		}
		created = true
		ok, err := getJSON(plugins, []byte(digest), &info)
		if err != nil {
			return err
		}
		if !ok {
			info = PluginInfo{Digest: digest, Name: name, Version: version, Size: len(bin), ABI: abiVersion, Imports: imports, Uploaded: m.now()}
			if err := tx.Bucket(bBlobs).Put([]byte(digest), bin); err != nil {
				return err
			}
		}
		info.Tags = append(info.Tags, tag)
		if err := putJSON(plugins, []byte(digest), info); err != nil {
			return err
		}
		if err := tags.Put([]byte(tag), []byte(digest)); err != nil {
			return err
		}
		_, err = appendEvents(tx, m.now(), []Event{{Action: "push-plugin", Plugin: tag, Digest: digest, Author: author}})
		return err
	})
	return info, created, err
}

// Plugins lists the stored plugins, by name then upload time.
func (m *Manager) Plugins() ([]PluginInfo, error) {
	var out []PluginInfo
	err := m.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bPlugins).ForEach(func(k, v []byte) error {
			var p PluginInfo
			if _, err := getJSON(tx.Bucket(bPlugins), k, &p); err != nil {
				return err
			}
			out = append(out, p)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Uploaded.Before(out[j].Uploaded)
	})
	return out, err
}

// Plugin returns the stored plugin with digest d.
func (m *Manager) Plugin(d string) (PluginInfo, error) {
	var p PluginInfo
	err := m.db.View(func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bPlugins), []byte(d), &p)
		if err == nil && !ok {
			err = errorf(ErrNotFound, "no plugin %s", d)
		}
		return err
	})
	return p, err
}

// pluginBytes returns a stored binary.
func (m *Manager) pluginBytes(d string) ([]byte, error) {
	var out []byte
	err := m.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bBlobs).Get([]byte(d))
		if b == nil {
			return errorf(ErrNotFound, "plugin %s is not in the store (push it again)", d)
		}
		out = append([]byte(nil), b...)
		return nil
	})
	return out, err
}

// resolveTx resolves a plugin reference to a stored digest: name@version
// by its tag, a bare name to its latest version (the highest semantic
// version, else the most recently pushed), a digest to itself if stored.
func resolveTx(tx *bolt.Tx, ref config.PluginRef) (string, error) {
	if ref.Digest != "" {
		if tx.Bucket(bPlugins).Get([]byte(ref.Digest)) == nil {
			return "", errorf(ErrNotFound, "plugin %s is not in the store: push it first (wasmgate plugin push)", ref.Ref)
		}
		return ref.Digest, nil
	}
	if ref.Version != "" {
		d := tx.Bucket(bTags).Get([]byte(ref.Name + "@" + ref.Version))
		if d == nil {
			return "", errorf(ErrNotFound, "plugin %s@%s is not in the store: push it first (wasmgate plugin push)", ref.Name, ref.Version)
		}
		return string(d), nil
	}
	var best, bestVersion string
	var bestInfo PluginInfo
	c := tx.Bucket(bTags).Cursor()
	prefix := []byte(ref.Name + "@")
	for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
		version := string(k[len(prefix):])
		var info PluginInfo
		if _, err := getJSON(tx.Bucket(bPlugins), v, &info); err != nil {
			return "", err
		}
		if best == "" || newerVersion(version, info, bestVersion, bestInfo) {
			best, bestVersion, bestInfo = string(v), version, info
		}
	}
	if best == "" {
		return "", errorf(ErrNotFound, "no plugin named %q in the store: push it first (wasmgate plugin push)", ref.Name)
	}
	return best, nil
}

// newerVersion orders versions for "latest": semantic versions beat
// others and compare as such; otherwise the later upload wins.
func newerVersion(a string, ai PluginInfo, b string, bi PluginInfo) bool {
	av, aok := parseSemver(a)
	bv, bok := parseSemver(b)
	switch {
	case aok && bok:
		if c := compareSemver(av, bv); c != 0 {
			return c > 0
		}
	case aok != bok:
		return aok
	}
	return ai.Uploaded.After(bi.Uploaded)
}

type semver struct {
	n   [3]int
	pre string
}

func parseSemver(s string) (semver, bool) {
	var v semver
	s = strings.TrimPrefix(s, "v")
	s, _, _ = strings.Cut(s, "+")
	s, v.pre, _ = strings.Cut(s, "-")
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, false
		}
		v.n[i] = n
	}
	return v, true
}

func compareSemver(a, b semver) int {
	for i := range a.n {
		if a.n[i] != b.n[i] {
			if a.n[i] > b.n[i] {
				return 1
			}
			return -1
		}
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1 // a release beats its pre-releases
	case b.pre == "":
		return -1
	case a.pre > b.pre:
		return 1
	}
	return -1
}

// digestOf is wasm.Digest, named here for readers of this package.
func digestOf(b []byte) string { return wasm.Digest(b) }
