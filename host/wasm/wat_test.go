package wasm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/wasmgate/wasmgate/abi"
)

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

// TestLazyContextsSkipCalls: a plugin declaring abi.HookLazyContexts gets
// no proxy_on_context_create and no proxy_on_done for HTTP streams, and
// no proxy_on_delete for a stream it never saw; one without it gets them
// all.
func TestLazyContextsSkipCalls(t *testing.T) {
	guestWith := func(hooks uint32) []byte {
		return mustWat(t, fmt.Sprintf(`(module
	  (memory (export "memory") 1)
	  (global $create (export "n_create") (mut i32) (i32.const 0))
	  (global $headers (export "n_headers") (mut i32) (i32.const 0))
	  (global $done (export "n_done") (mut i32) (i32.const 0))
	  (global $delete (export "n_delete") (mut i32) (i32.const 0))
	  (func (export "proxy_abi_version_0_2_1"))
	  (func (export "proxy_on_memory_allocate") (param i32) (result i32) i32.const 1024)
	  (func (export "wasmgate_hooks") (result i32) i32.const %d)
	  (func (export "proxy_on_context_create") (param i32 i32)
	    (if (local.get 1) (then (global.set $create (i32.add (global.get $create) (i32.const 1))))))
	  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
	    (global.set $headers (i32.add (global.get $headers) (i32.const 1))) i32.const 0)
	  (func (export "proxy_on_done") (param i32) (result i32)
	    (global.set $done (i32.add (global.get $done) (i32.const 1))) i32.const 1)
	  (func (export "proxy_on_delete") (param i32)
	    (global.set $delete (i32.add (global.get $delete) (i32.const 1)))))`, hooks))
	}
	for _, tc := range []struct {
		name                          string
		hooks                         uint32
		create, headers, done, delete uint64
	}{
		{"standard", abi.HookRequestHeaders, 2, 1, 2, 2},
		{"lazy", abi.HookRequestHeaders | abi.HookLazyContexts, 0, 1, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, EngineConfig{})
			p := newPlugin(t, e, guestWith(tc.hooks), PluginConfig{PoolMin: 1, PoolMax: 1})
			// One stream with a callback, one without (a request the
			// pipeline ended before this plugin).
			oneRequest(t, p)
			s, err := p.NewStream(context.Background(), newFakeStream())
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			var in *instance
			for k := range p.all {
				in = k
			}
			got := func(name string) uint64 { return in.mod.ExportedGlobal(name).Get() }
			if got("n_create") != tc.create || got("n_headers") != tc.headers || got("n_done") != tc.done || got("n_delete") != tc.delete {
				t.Fatalf("calls: create %d headers %d done %d delete %d, want %d %d %d %d", got("n_create"), got("n_headers"), got("n_done"), got("n_delete"),
					tc.create, tc.headers, tc.done, tc.delete)
			}
		})
	}
}
