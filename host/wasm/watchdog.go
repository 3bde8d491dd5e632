package wasm

import (
	"sync"
	"sync/atomic"
	"time"
)

// The watchdog enforces call deadlines for all of an engine's instances
// from one goroutine that looks at them every watchPeriod while any of
// them is in a call, and sleeps otherwise.
//
// A call itself reads no clock and arms no timer: it bumps its instance's
// call sequence number (odd while in the call) and stores its timeout.
// The watchdog takes the time a call was first seen in progress as its
// start, so a call is judged overdue between its timeout and its timeout
// plus two periods after it really started. The earlier design, a timer
// per instance armed from each call, read the clock on every call (about
// 60 ns on a kvm-clock machine, more when the cache was cold) and took a
// mutex; with 4 plugins of 5 calls each per request, that was a visible
// share of a plugin's cost under load.

// watchPeriod is how often in-progress calls are looked at.
const watchPeriod = 5 * time.Millisecond

// watchIdleStop is how many periods without any call in progress the
// goroutine waits before it stops (a later call restarts it).
const watchIdleStop = 200

type watchdog struct {
	active atomic.Bool // the goroutine runs (or is about to)

	mu    sync.Mutex
	insts map[*instance]*watchState
}

// watchState is what the watchdog remembers of an instance's call.
type watchState struct {
	seq   uint64 // the call sequence number seen in progress, 0: none
	since int64  // when that call was first seen (monotonic ns)
	ticks uint32 // the instance's progress counter then
}

var monoBase = time.Now()

// monotime is monotonic nanoseconds since process start.
func monotime() int64 { return int64(time.Since(monoBase)) }

func (w *watchdog) add(in *instance) {
	w.mu.Lock()
	if w.insts == nil {
		w.insts = map[*instance]*watchState{}
	}
	w.insts[in] = &watchState{}
	w.mu.Unlock()
}

func (w *watchdog) remove(in *instance) {
	w.mu.Lock()
	delete(w.insts, in)
	w.mu.Unlock()
}

// wake starts the goroutine if it is not running. A call makes itself
// visible (odd sequence number) before it checks active, and the goroutine
// clears active before its last look, so no call goes unwatched.
func (w *watchdog) wake() {
	if w.active.CompareAndSwap(false, true) {
		go w.run()
	}
}

func (w *watchdog) run() {
	t := time.NewTicker(watchPeriod)
	defer t.Stop()
	idle := 0
	for range t.C {
		if w.scan() {
			idle = 0
			continue
		}
		if idle++; idle < watchIdleStop {
			continue
		}
		w.active.Store(false)
		if !w.scan() || !w.active.CompareAndSwap(false, true) {
			return // nothing to watch, or a woken goroutine took over
		}
		idle = 0
	}
}

// scan looks at every instance once and reports whether any was in a call.
func (w *watchdog) scan() (busy bool) {
	now := monotime()
	w.mu.Lock()
	defer w.mu.Unlock()
	for in, st := range w.insts {
		seq := in.callSeq.Load()
		if seq&1 == 0 {
			st.seq = 0
			continue
		}
		busy = true
		if seq != st.seq {
			st.seq, st.since = seq, now
			if in.ticks != nil {
				st.ticks = uint32(in.ticks.Get())
			}
			continue
		}
		in.checkDeadline(st, now)
	}
	return busy
}

// minProgress is how many loop iterations and function entries a call
// must have made by its deadline to count as running rather than waiting
// for a CPU: a spinning guest makes millions per millisecond, a real
// plugin call a few thousand in total.
const minProgress = 1 << 20

// checkDeadline interrupts the call st has been watching when it overran.
//
// The deadline is wall-clock time, but on an overloaded machine a call can
// sit preempted, holding no CPU, past it. So a call that has made little
// progress gets more time, up to a hard limit of ten times its timeout
// (at least a second); one that is spinning is interrupted at once.
func (in *instance) checkDeadline(st *watchState, now int64) {
	timeout := in.timeout.Load()
	ran := now - st.since
	if ran < timeout {
		return
	}
	if in.ticks != nil && ran < max(10*timeout, int64(time.Second)) {
		if uint32(in.ticks.Get())-st.ticks < minProgress {
			return
		}
	}
	if in.callSeq.Load() != st.seq {
		return // it just ended
	}
	// A call that ended in the instant since would leave the flag to its
	// successor, which then traps at once. Calls that overrun their
	// deadline end on their own only rarely, and the instance is replaced
	// either way.
	in.timedOut.Store(true)
	in.interrupt.Set(1) // the guest traps at its next loop header or call
}
