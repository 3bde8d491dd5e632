package wasm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// TestDeleteRing: a plugin exporting abi.ExportDeleteRing gets the ids of
// its ended HTTP streams in the ring, and proxy_on_delete only when the
// ring is full; a ring that does not fit its memory is refused at start.
func TestDeleteRing(t *testing.T) {
	// A ring of 2 slots at 64 that the guest never drains (its tail stays
	// 0): the first two ends go to the ring, the third is a call.
	guestWith := func(ptr, size uint32) []byte {
		return mustWat(t, fmt.Sprintf(`(module
	  (memory (export "memory") 1)
	  (global $delete (export "n_delete") (mut i32) (i32.const 0))
	  (global $deleted (export "last_delete") (mut i32) (i32.const 0))
	  (func (export "proxy_abi_version_0_2_1"))
	  (func (export "proxy_on_memory_allocate") (param i32) (result i32) i32.const 1024)
	  (func (export "wasmgate_hooks") (result i32) i32.const %d)
	  (func (export "wasmgate_delete_ring") (result i32)
	    (i32.store (i32.const %d) (i32.const %d)) i32.const %d)
	  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) i32.const 0)
	  (func (export "proxy_on_delete") (param i32)
	    (global.set $deleted (local.get 0))
	    (global.set $delete (i32.add (global.get $delete) (i32.const 1)))))`,
			abi.HookRequestHeaders|abi.HookLazyContexts, ptr+abi.DeleteRingSize, size, ptr))
	}
	e := newEngine(t, EngineConfig{})
	p := newPlugin(t, e, guestWith(64, 2), PluginConfig{PoolMin: 1, PoolMax: 1})
	var ids []uint32
	for i := 0; i < 3; i++ {
		s, err := p.NewStream(context.Background(), newFakeStream())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID())
		if _, err := s.OnRequestHeaders(3, true); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	var in *instance
	for k := range p.all {
		in = k
	}
	u32 := func(off uint32) uint32 { v, _ := in.memory.ReadUint32Le(64 + off); return v }
	if head := u32(abi.DeleteRingHead); head != 2 || u32(abi.DeleteRingIDs) != ids[0] || u32(abi.DeleteRingIDs+4) != ids[1] {
		t.Fatalf("ring: head %d, ids %d %d; want 2, %d %d", head, u32(abi.DeleteRingIDs), u32(abi.DeleteRingIDs+4), ids[0], ids[1])
	}
	if n, last := in.mod.ExportedGlobal("n_delete").Get(), in.mod.ExportedGlobal("last_delete").Get(); n != 1 || uint32(last) != ids[2] {
		t.Fatalf("proxy_on_delete: %d calls, last %d; want 1 for the full ring's %d", n, last, ids[2])
	}
	// The guest takes one: the next end goes to the ring again.
	in.memory.WriteUint32Le(64+abi.DeleteRingTail, 1)
	oneRequest(t, p)
	if head := u32(abi.DeleteRingHead); head != 3 || in.mod.ExportedGlobal("n_delete").Get() != 1 {
		t.Fatalf("after the guest took one: head %d, %d calls", head, in.mod.ExportedGlobal("n_delete").Get())
	}

	for _, tc := range []struct {
		name      string
		ptr, size uint32
		want      string
	}{
		{"not a power of two", 64, 3, "not a power of two"},
		{"too big", 64, abi.DeleteRingMaxSize * 2, "not a power of two"},
		{"past memory", 65536 - 16, 8, "ends past"},
		{"unaligned", 65, 2, "aligned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newPluginE(e, guestWith(tc.ptr, tc.size), PluginConfig{PoolMin: 1, PoolMax: 1})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
