// Package wasmbuild compiles a standard-Go plugin package to a Proxy-Wasm
// reactor module (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared), caching the
// result by the content of the package's files and the Go version, so tests
// that drive real plugins rebuild them only when they change.
package wasmbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

var mu sync.Mutex

// Build compiles the Go package in dir and returns the .wasm bytes. The
// package is built inside the module that contains dir, so it may import
// the SDK from the same module.
func Build(dir string) ([]byte, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	key, err := hashDir(abs)
	if err != nil {
		return nil, fmt.Errorf("wasmbuild: %s: %w", dir, err)
	}
	cacheDir := filepath.Join(os.TempDir(), "wasmgate-wasmbuild")
	out := filepath.Join(cacheDir, key+".wasm")

	mu.Lock()
	defer mu.Unlock()
	if b, err := os.ReadFile(out); err == nil {
		return b, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(cacheDir, "build-*.wasm")
	if err != nil {
		return nil, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command(goTool(), "build", "-buildmode=c-shared", "-trimpath", "-o", tmp.Name(), ".")
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if outb, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("wasmbuild: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared %s: %v\n%s", dir, err, outb)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}

// hashDir hashes the package's files (one directory), every Go file of
// the ABI and SDK it may import from this module, and the Go version.
func hashDir(dir string) (string, error) {
	h := sha256.New()
	h.Write([]byte(runtime.Version()))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".go") || e.Name() == "go.mod" || e.Name() == "go.sum") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	if root := moduleRoot(dir); root != "" {
		for _, lib := range []string{"abi", filepath.Join("sdk", "go")} {
			_ = filepath.WalkDir(filepath.Join(root, lib), func(p string, e fs.DirEntry, err error) error {
				if err == nil && !e.IsDir() && strings.HasSuffix(p, ".go") {
					files = append(files, p)
				}
				return nil
			})
		}
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		h.Write([]byte(f))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

func moduleRoot(dir string) string {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}
