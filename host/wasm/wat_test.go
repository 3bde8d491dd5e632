package wasm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var fmtSscan = fmt.Sscan

// mustWat assembles a small inline module with wat2wasm (wabt); the test is
// skipped where wabt is not installed.
func mustWat(t testing.TB, src string) []byte {
	t.Helper()
	bin, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm (apt: wabt) not installed")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "m.wat")
	out := filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(bin, in, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
