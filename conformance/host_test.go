package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"testing"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/conformance"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// TestConformance runs the suite against wasmgate's own host.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("conformance suite skipped in -short mode")
	}
	conformance.Run(t, hostTarget{})
}

// hostTarget adapts host/wasm to conformance.Target. Each plugin gets its
// own Engine, so its log lines, shared data and metrics are its own.
type hostTarget struct{}

func (hostTarget) NewPlugin(t testing.TB, code []byte, o conformance.PluginOptions) (_ conformance.Plugin, err error) {
	defer recoverHost(&err)
	ctx := context.Background()
	e, err := wasm.NewEngine(ctx, wasm.EngineConfig{
		LogLevel: abi.LogTrace,
		Log: func(_ *wasm.PluginInfo, level abi.LogLevel, msg string) {
			if o.Log != nil {
				o.Log(level, msg)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	m, err := e.Compile(ctx, code)
	if err != nil {
		_ = e.Close(ctx) // keep the original error
		return nil, fmt.Errorf("%w: compile: %w", conformance.ErrRejected, err)
	}
	p, err := e.NewPlugin(ctx, m, wasm.PluginConfig{
		Name:         o.Name,
		RootID:       o.RootID,
		VMID:         o.VMID,
		VMConfig:     o.VMConfig,
		Config:       o.Config,
		PoolMin:      o.PoolMin,
		PoolMax:      o.PoolMax,
		CallTimeout:  o.CallTimeout,
		StartTimeout: o.StartTimeout,
		MemoryLimit:  o.MemoryLimit,
	})
	if err != nil {
		_ = e.Close(ctx) // keep the original error
		return nil, translate(err)
	}
	return &hostPlugin{e: e, p: p}, nil
}

type hostPlugin struct {
	e *wasm.Engine
	p *wasm.Plugin
}

func (p *hostPlugin) NewStream(x *conformance.Exchange) (_ conformance.Stream, err error) {
	defer recoverHost(&err)
	s, err := p.p.NewStream(context.Background(), streamHost{x})
	if err != nil {
		return nil, translate(err)
	}
	return hostStream{s}, nil
}

func (p *hostPlugin) Stats() conformance.PoolStats {
	st := p.p.Stats()
	return conformance.PoolStats{Live: st.Live, Created: st.Created, Discarded: st.Discarded, Retired: st.Retired}
}

func (p *hostPlugin) Metrics() []conformance.Metric {
	var out []conformance.Metric
	for _, m := range p.e.Metrics() {
		out = append(out, conformance.Metric{Name: m.Name, Type: m.Type, Value: uint64(m.Value)})
	}
	if out == nil {
		out = []conformance.Metric{}
	}
	return out
}

func (p *hostPlugin) Close() (err error) {
	defer recoverHost(&err)
	ctx := context.Background()
	err = p.p.Close(ctx)
	if err2 := p.e.Close(ctx); err == nil {
		err = err2
	}
	return err
}

type hostStream struct{ s *wasm.Stream }

func (s hostStream) OnRequestHeaders(n int, eos bool) (a abi.Action, err error) {
	defer recoverHost(&err)
	a, err = s.s.OnRequestHeaders(n, eos)
	return a, translate(err)
}

func (s hostStream) OnRequestBody(n int, eos bool) (a abi.Action, err error) {
	defer recoverHost(&err)
	a, err = s.s.OnRequestBody(n, eos)
	return a, translate(err)
}

func (s hostStream) OnRequestTrailers(n int) (a abi.Action, err error) {
	defer recoverHost(&err)
	a, err = s.s.OnRequestTrailers(n)
	return a, translate(err)
}

func (s hostStream) OnResponseHeaders(n int, eos bool) (a abi.Action, err error) {
	defer recoverHost(&err)
	a, err = s.s.OnResponseHeaders(n, eos)
	return a, translate(err)
}

func (s hostStream) OnResponseBody(n int, eos bool) (a abi.Action, err error) {
	defer recoverHost(&err)
	a, err = s.s.OnResponseBody(n, eos)
	return a, translate(err)
}

func (s hostStream) OnResponseTrailers(n int) (a abi.Action, err error) {
	defer recoverHost(&err)
	a, err = s.s.OnResponseTrailers(n)
	return a, translate(err)
}

func (s hostStream) Close() (err error) {
	defer recoverHost(&err)
	return translate(s.s.Close())
}

// streamHost serves the host's per-stream calls from the exchange. The
// conformance Fields and Buffer types have the host's method set and
// layout.
type streamHost struct{ x *conformance.Exchange }

func (h streamHost) Headers(t abi.MapType) wasm.HeaderMap {
	if f := h.x.Headers(t); f != nil {
		return f
	}
	return nil
}

func (h streamHost) Body(t abi.BufferType) *wasm.Buffer {
	if b := h.x.Body(t); b != nil {
		return (*wasm.Buffer)(b)
	}
	return nil
}

func (h streamHost) Property(path string) ([]byte, bool) { return h.x.Property(path) }

func (h streamHost) SetProperty(path string, value []byte) abi.Status {
	return h.x.SetProperty(path, value)
}

func (h streamHost) SendLocalResponse(r *wasm.LocalResponse) abi.Status {
	return h.x.SendLocalResponse(conformance.LocalResponse{
		StatusCode:    r.StatusCode,
		StatusDetails: r.StatusDetails,
		Body:          append([]byte(nil), r.Body...),
		Headers:       append([][2]string(nil), r.Headers...),
		GRPCStatus:    r.GRPCStatus,
	})
}

func (h streamHost) ContinueStream(t abi.StreamType) abi.Status { return h.x.ContinueStream(t) }
func (h streamHost) CloseStream(t abi.StreamType) abi.Status    { return h.x.CloseStream(t) }
func (h streamHost) Failed(err error)                           { h.x.Failed(translate(err)) }

// recoverHost turns a host panic into an error matching
// conformance.ErrHostPanic, so the suite reports it and goes on.
func recoverHost(err *error) {
	if v := recover(); v != nil {
		*err = fmt.Errorf("%w: %v\n%s", conformance.ErrHostPanic, v, debug.Stack())
	}
}

// translate maps host errors to the suite's kinds, keeping the original.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var kind error
	for _, k := range []struct{ host, conf error }{
		{wasm.ErrTrap, conformance.ErrTrap},
		{wasm.ErrDeadline, conformance.ErrDeadline},
		{wasm.ErrMemoryLimit, conformance.ErrMemoryLimit},
		{wasm.ErrInstanceLost, conformance.ErrInstanceLost},
	} {
		if errors.Is(err, k.host) {
			kind = k.conf
			break
		}
	}
	var ce *wasm.CallError
	var out error = err
	if kind != nil {
		cb := ""
		if errors.As(err, &ce) {
			cb = ce.Callback
		}
		out = &conformance.CallError{Callback: cb, Kind: kind, Err: err}
	}
	if errors.Is(err, wasm.ErrPluginRejected) {
		out = fmt.Errorf("%w: %w", conformance.ErrRejected, out)
	}
	return out
}
