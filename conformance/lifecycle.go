package conformance

import (
	"errors"
	"testing"
	"time"
)

func runLifecycle(t *testing.T, target Target) {
	t.Run("start_sequence", func(t *testing.T) {
		t.Parallel()
		h := harness{t, target}
		vmcfg, cfg := []byte("vm-configuration"), []byte("plugin-configuration")
		_, sink := h.mustPlugin(ProbeWasm, PluginOptions{Name: "probe", VMConfig: vmcfg, Config: cfg, PoolMin: 1, PoolMax: 1})
		tr := sink.traces()
		want := []Phase{PhaseInitialize, PhaseRootCreate, PhaseVMStart, PhaseConfigure}
		if len(tr) != len(want) {
			t.Fatalf("host discrepancy: start callbacks %v, want %v%s", phases(tr), want, sink.dump())
		}
		for i, p := range want {
			if tr[i].Phase != p {
				t.Fatalf("host discrepancy: start callbacks %v, want %v", phases(tr), want)
			}
		}
		root := tr[1].Ctx
		if root == 0 || tr[1].A != 0 {
			t.Errorf("host discrepancy: root context %d created with parent %d, want a non-zero id and parent 0", root, tr[1].A)
		}
		if tr[2].Ctx != root || tr[3].Ctx != root {
			t.Errorf("host discrepancy: on_vm_start/on_configure ran on contexts %d/%d, want root %d", tr[2].Ctx, tr[3].Ctx, root)
		}
		if int(tr[2].A) != len(vmcfg) || int(tr[3].A) != len(cfg) {
			t.Errorf("host discrepancy: configuration sizes %d/%d, want %d/%d", tr[2].A, tr[3].A, len(vmcfg), len(cfg))
		}
		if len(sink.find("cf cfgerr")) > 0 {
			t.Errorf("host discrepancy: the guest could not read its configuration:%s", sink.dump())
		}
	})
	t.Run("pool_is_prewarmed", func(t *testing.T) {
		t.Parallel()
		h := harness{t, target}
		p, sink := h.mustPlugin(ProbeWasm, PluginOptions{Name: "probe", PoolMin: 3, PoolMax: 3})
		n := 0
		for _, tr := range sink.traces() {
			if tr.Phase == PhaseConfigure {
				n++
			}
		}
		if n != 3 {
			t.Errorf("host discrepancy: %d instances configured when NewPlugin returned, want PoolMin=3", n)
		}
		if st := p.Stats(); st.Live != 3 || st.Created < 3 {
			t.Errorf("host discrepancy: stats %+v, want Live 3", st)
		}
	})
	rejected := []struct {
		name string
		wasm []byte
		opts PluginOptions
		kind error // the failure kind, besides ErrRejected
	}{
		{"on_configure_false", ProbeWasm, PluginOptions{Config: mustEncode(Script{Ret: map[Phase]uint32{PhaseConfigure: 0}})}, nil},
		{"on_vm_start_false", ProbeWasm, PluginOptions{VMConfig: mustEncode(Script{Ret: map[Phase]uint32{PhaseVMStart: 0}})}, nil},
		{"no_abi_version_export", NoABIMarkerWasm, PluginOptions{}, nil},
		{"not_wasm", []byte("\x00asm but not really"), PluginOptions{}, nil},
		{"trap_in__initialize", TrapInitializeWasm, PluginOptions{}, ErrTrap},
		{"trap_in_root_context_create", TrapRootCreateWasm, PluginOptions{}, ErrTrap},
	}
	for _, c := range rejected {
		t.Run("rejects/"+c.name, func(t *testing.T) {
			t.Parallel()
			isolated(t, 90*time.Second, func(t *testing.T) {
				h := harness{t, target}
				c.opts.PoolMin, c.opts.PoolMax = 1, 1
				_, sink, err := h.plugin(c.wasm, c.opts)
				if err == nil {
					t.Fatalf("host discrepancy: NewPlugin succeeded%s", sink.dump())
				}
				wantRejected(t, err, c.kind)
				t.Logf("rejected: %v", err)
				// Give background instance creation a moment to fail too.
				time.Sleep(100 * time.Millisecond)
			})
		})
	}
}

func mustEncode(s Script) []byte {
	b, err := s.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

func phases(tr []Trace) []Phase {
	out := make([]Phase, len(tr))
	for i, x := range tr {
		out[i] = x.Phase
	}
	return out
}

// wantRejected checks a NewPlugin error: it must match ErrRejected (the
// contract for every failed start) and, when the start failed because a
// guest call failed, that call's kind.
func wantRejected(t *testing.T, err error, kind error) {
	t.Helper()
	noPanic(t, err)
	if !errors.Is(err, ErrRejected) {
		t.Errorf("host discrepancy: NewPlugin error %q (%s) does not match ErrRejected", err, kindOf(err))
	}
	if kind != nil && !errors.Is(err, kind) {
		t.Errorf("host discrepancy: NewPlugin error %q does not match %v", err, kind)
	}
}
