// Package wasmbuild compiles a standard-Go plugin package to a Proxy-Wasm
// reactor module,
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared
//
// caching the result in os.TempDir()/wasmgate-sdktest, keyed by the Go
// version and the contents of every non-standard package the plugin
// depends on (the SDK included), so tests that drive real plugins rebuild
// them only when something changed. sdktest.Build and the host's own tests
// use it.
package wasmbuild

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

var buildLocks sync.Map // cache key → *sync.Mutex

// CacheDir is where built modules are cached.
func CacheDir() string { return filepath.Join(os.TempDir(), "wasmgate-sdktest") }

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

func wasmEnv() []string {
	return append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
}

// Build compiles the plugin package in pkgDir and returns the module bytes,
// from the cache when nothing it depends on changed.
func Build(pkgDir string) ([]byte, error) {
	dir, err := filepath.Abs(pkgDir)
	if err != nil {
		return nil, err
	}
	key, err := Key(dir)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(CacheDir(), key+".wasm")
	mu, _ := buildLocks.LoadOrStore(key, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if b, err := os.ReadFile(out); err == nil && len(b) > 0 {
		return b, nil
	}
	if err := os.MkdirAll(CacheDir(), 0o755); err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	tmp, err := os.CreateTemp(CacheDir(), key+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command(goTool(), "build", "-buildmode=c-shared", "-o", tmp.Name(), ".")
	cmd.Dir = dir
	cmd.Env = wasmEnv()
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building plugin %s (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared): %v\n%s", pkgDir, err, msg)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	return os.ReadFile(out)
}

// listedPackage is the part of `go list -json` output the cache key uses.
type listedPackage struct {
	Dir        string
	ImportPath string
	Standard   bool
	GoFiles    []string
	EmbedFiles []string
	Module     *struct {
		Path    string
		Version string
		GoMod   string
	}
	Error *struct{ Err string }
}

// Key hashes the Go version, the build settings and the sources of
// every non-standard package in the plugin's build graph. Packages from
// the module cache are identified by module version.
func Key(dir string) (string, error) {
	h := sha256.New()
	ver, err := exec.Command(goTool(), "env", "GOVERSION", "GOFLAGS").Output()
	if err != nil {
		return "", fmt.Errorf("go env: %w", err)
	}
	h.Write(ver)
	cmd := exec.Command(goTool(), "list", "-deps", "-json=Dir,ImportPath,Standard,GoFiles,EmbedFiles,Module,Error", ".")
	cmd.Dir = dir
	cmd.Env = wasmEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	listing, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list in %s: %v\n%s", dir, err, stderr.Bytes())
	}
	dec := json.NewDecoder(bytes.NewReader(listing))
	var pkgs []listedPackage
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", fmt.Errorf("go list in %s: %w", dir, err)
		}
		if p.Error != nil {
			return "", fmt.Errorf("go list in %s: %s: %s", dir, p.ImportPath, p.Error.Err)
		}
		if !p.Standard {
			pkgs = append(pkgs, p)
		}
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].ImportPath < pkgs[j].ImportPath })
	for _, p := range pkgs {
		fmt.Fprintf(h, "pkg %s\n", p.ImportPath)
		if p.Module != nil && p.Module.Version != "" {
			fmt.Fprintf(h, "mod %s@%s\n", p.Module.Path, p.Module.Version)
			continue
		}
		if p.Module != nil && p.Module.GoMod != "" {
			if err := hashFile(h, p.Module.GoMod); err != nil {
				return "", err
			}
		}
		for _, f := range append(append([]string(nil), p.GoFiles...), p.EmbedFiles...) {
			fmt.Fprintf(h, "file %s\n", f)
			if err := hashFile(h, filepath.Join(p.Dir, f)); err != nil {
				return "", err
			}
		}
	}
	sum := h.Sum(nil)
	return strings.ToLower(hex.EncodeToString(sum[:16])), nil
}

func hashFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
