package wasm

import (
	"context"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/abi"
)

// Timers. Each instance has its own root context, so each instance ticks.
// Spec: https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#timers

func init() {
	register(hostFuncs, abi.FuncSetTickPeriod, hostSetTickPeriod)
}

// hostSetTickPeriod is proxy_set_tick_period_milliseconds(period) → status.
// proxy_on_tick is then called on the instance's root context every period
// (0 stops it). It applies to the root context whichever context calls it.
func hostSetTickPeriod(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	in.setTick(time.Duration(uint32(stack[0])) * time.Millisecond)
	status(stack, abi.StatusOK)
}

// setTick (re)arms the tick timer. in.mu is held.
func (in *instance) setTick(d time.Duration) {
	in.stopTicks()
	in.tickPeriod = d
	if d > 0 && in.fns[cbTick] != nil {
		in.tickTimer = time.AfterFunc(d, in.onTick)
	}
}

func (in *instance) stopTicks() {
	in.tickPeriod = 0
	if in.tickTimer != nil {
		in.tickTimer.Stop()
		in.tickTimer = nil
	}
}

func (in *instance) onTick() {
	in.rootCall(cbTick, phRoot, rootContextID)
	in.mu.Lock()
	if !in.dead && !in.closedMod && in.tickPeriod > 0 && in.tickTimer != nil {
		in.tickTimer.Reset(in.tickPeriod)
	}
	in.mu.Unlock()
}
