package gateway

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/wasmgate/wasmgate/host/config"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// DirSource resolves plugin references from directories of .wasm files
// (NAME@VERSION.wasm or NAME.wasm) and an optional embedded file system,
// and "file:" references relative to the API document's directory. The
// versioned plugin store of deployments replaces it for `wasmgate deploy`.
type DirSource struct {
	DocDir string   // base of "file:" references
	Dirs   []string // searched in order
	FS     fs.FS    // searched last (the binary's built-in plugins)
}

// Resolve implements PluginSource.
func (d *DirSource) Resolve(_ context.Context, ref config.PluginRef) ([]byte, error) {
	if p, ok := strings.CutPrefix(ref.Ref, "file:"); ok {
		if !filepath.IsAbs(p) {
			p = filepath.Join(d.DocDir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read plugin file: %w", err)
		}
		return b, d.checkDigest(ref, b)
	}
	var names []string
	if ref.Name != "" {
		if ref.Version != "" {
			names = append(names, ref.Name+"@"+ref.Version+".wasm")
		} else {
			names = append(names, ref.Name+".wasm")
		}
	}
	for _, dir := range d.Dirs {
		for _, n := range names {
			if b, err := os.ReadFile(filepath.Join(dir, n)); err == nil {
				return b, d.checkDigest(ref, b)
			}
		}
		if ref.Name != "" && ref.Version == "" {
			if b, ok := latest(dir, ref.Name); ok {
				return b, d.checkDigest(ref, b)
			}
		}
		if ref.Digest != "" {
			if b, ok := byDigest(dir, ref.Digest); ok {
				return b, nil
			}
		}
	}
	if d.FS != nil {
		for _, n := range names {
			if b, err := fs.ReadFile(d.FS, n); err == nil {
				return b, d.checkDigest(ref, b)
			}
		}
	}
	var places []string
	places = append(places, d.Dirs...)
	if d.FS != nil {
		places = append(places, "the built-in plugins")
	}
	where := strings.Join(places, ", ")
	if where == "" {
		where = "no plugin directory (use --plugins DIR)"
	}
	return nil, fmt.Errorf("plugin %q not found in %s (build first-party plugins with `make plugins`, or push it with `wasmgate plugin push`)", ref.Ref, where)
}

func (d *DirSource) checkDigest(ref config.PluginRef, b []byte) error {
	if ref.Digest != "" && wasm.Digest(b) != ref.Digest {
		return errors.New("plugin " + ref.Ref + ": digest does not match the file found (" + wasm.Digest(b) + ")")
	}
	return nil
}

// latest picks NAME@VERSION.wasm with the highest version (lexical on
// dotted numbers) in dir.
func latest(dir, name string) ([]byte, bool) {
	matches, _ := filepath.Glob(filepath.Join(dir, name+"@*.wasm"))
	if len(matches) == 0 {
		return nil, false
	}
	sort.Slice(matches, func(i, j int) bool { return versionLess(matches[i], matches[j]) })
	b, err := os.ReadFile(matches[len(matches)-1])
	return b, err == nil
}

func versionLess(a, b string) bool {
	pa := strings.FieldsFunc(a, func(r rune) bool { return r == '.' || r == '@' })
	pb := strings.FieldsFunc(b, func(r rune) bool { return r == '.' || r == '@' })
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] == pb[i] {
			continue
		}
		if len(pa[i]) != len(pb[i]) {
			return len(pa[i]) < len(pb[i])
		}
		return pa[i] < pb[i]
	}
	return len(pa) < len(pb)
}

func byDigest(dir, digest string) ([]byte, bool) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.wasm"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && wasm.Digest(b) == digest {
			return b, true
		}
	}
	return nil, false
}
