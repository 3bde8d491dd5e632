package cache

import (
	"context"
	"errors"
	"time"
)

var errDissolved = errors.New("cache: internal error: flight dissolved under its leader")

// flight is one fetch in progress for a key. At any moment at most one
// goroutine is "in charge" of an unresolved flight: its creator (while it
// reads L2), the holder of the current Fill, or the waiter a pending handoff
// token is meant for.
type flight struct {
	key     string
	done    chan struct{} // closed when resolved
	handoff chan struct{} // capacity 1: the leadership token after an abandon

	// guarded by Cache.mu
	resolved bool   // done is closed
	entry    *Entry // the response when resolved by a fill or an L2 hit; nil when dissolved
	waiters  int    // goroutines blocked in Lookup on this flight, minus a pending token's recipient

	// touched only by the goroutine in charge
	l2Checked bool
}

// Fill is the leader's handle on a fetch in progress: complete it with Done
// (cacheable response) or Abandon (upstream failed, or not cacheable). Exactly
// one of them should be called, once; further calls are no-ops.
//
// A Fill cannot leak: it is abandoned automatically when the ctx passed to
// the Lookup that returned it ends, or when it is held longer than
// Options.FillTimeout. Completing it afterwards is allowed: Done still stores
// the entry and still wakes the waiters if no other leader resolved the
// flight in the meantime; Abandon is then a no-op.
type Fill struct {
	c        *Cache
	f        *flight
	finished bool // Done or Abandon was called; guarded by Cache.mu

	// guarded by Cache.mu
	leading bool // this Fill is the flight's current leadership
	timer   *time.Timer
	stopCtx func() bool
}

// Key is the cache key being filled.
func (fl *Fill) Key() string { return fl.f.key }

// Lookup is Get with request coalescing. It returns exactly one of:
//
//   - (e, nil, nil): a fresh entry, from L1, from L2 (which then fills L1), or
//     the result of another caller's fill of the same key;
//   - (nil, fill, nil): a miss, and this caller is the leader: it must fetch
//     the response and call fill.Done or fill.Abandon;
//   - (nil, nil, err): ctx ended while waiting (err is ctx.Err()), or the
//     cache is closed (ErrClosed).
//
// On an L1 miss, the first caller for the key creates the flight; with L2
// configured (and not backing off after an error) it reads L2 first, and an
// L2 hit answers it and every caller waiting meanwhile. Otherwise it gets the
// Fill. Concurrent callers for the same key wait until the flight is
// resolved or their ctx ends; a waiter whose ctx ends returns promptly and
// does not affect the leader or the other waiters.
//
// When the leader abandons its Fill (Abandon, Done with nothing to store,
// its ctx ended, or FillTimeout), leadership is handed to exactly one
// waiter — in practice the longest-waiting one — whose Lookup then returns
// (nil, newFill, nil); the other waiters are not woken and keep waiting for
// the new leader. So N waiters cause at most one upstream fetch at a time,
// never a thundering herd; the price is that for a key whose responses keep
// being abandoned the waiters are served one after another. If nobody is
// waiting, the flight is dropped and the next Lookup starts a new one. Each
// leader gets a fresh FillTimeout; a waiter's total wait is bounded by its
// own ctx only.
func (c *Cache) Lookup(ctx context.Context, key string) (*Entry, *Fill, error) {
	if e := c.get(key); e != nil {
		c.hits.add(1)
		return e, nil, nil
	}
	if c.closed.Load() {
		return nil, nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	counted := false
	for {
		c.mu.Lock()
		f := c.flights[key]
		if f == nil {
			f = &flight{key: key, done: make(chan struct{}), handoff: make(chan struct{}, 1)}
			c.flights[key] = f
			c.mu.Unlock()
			e, fill, err, l2hit := c.lead(ctx, f)
			if !l2hit && !counted {
				c.misses.add(1)
			}
			return e, fill, err
		}
		if f.resolved {
			// Resolved by a fill whose L1 write is being applied.
			e := f.entry
			c.mu.Unlock()
			if e != nil {
				if !counted {
					c.misses.add(1)
				}
				c.coalesced.Add(1)
				return e, nil, nil
			}
			continue // dissolved flights leave the map first; defensive
		}
		f.waiters++
		c.mu.Unlock()
		if !counted {
			counted = true
			c.misses.add(1)
		}
		select {
		case <-f.done:
			if e := f.entry; e != nil {
				c.coalesced.Add(1)
				return e, nil, nil
			}
			// Dissolved (cannot happen while we are counted); start over.
		case <-f.handoff:
			e, fill, err, _ := c.lead(ctx, f)
			return e, fill, err
		case <-ctx.Done():
			c.leave(f)
			return nil, nil, ctx.Err()
		}
	}
}

// lead runs for the goroutine in charge of f: it reads L2 once per flight,
// then issues a Fill, or hands the flight on when ctx has ended.
func (c *Cache) lead(ctx context.Context, f *flight) (e *Entry, fill *Fill, err error, l2hit bool) {
	if c.l2 != nil && !f.l2Checked && c.l2Usable() {
		e := c.getL2(ctx, f.key)
		if ctx.Err() == nil {
			f.l2Checked = true
		}
		if e != nil {
			c.hits.add(1)
			c.l2Hits.Add(1)
			c.resolve(f, e, false)
			return e, nil, nil, true
		}
	}
	c.mu.Lock()
	if f.resolved {
		// A previous leader completed after all (late Done).
		e := f.entry
		c.mu.Unlock()
		if e != nil {
			c.coalesced.Add(1)
			return e, nil, nil, false
		}
		// Unreachable: only the goroutine in charge dissolves a flight.
		return nil, nil, errDissolved, false
	}
	if err := ctx.Err(); err != nil {
		c.handoffLocked(f)
		c.mu.Unlock()
		return nil, nil, err, false
	}
	fl := &Fill{c: c, f: f, leading: true}
	fl.timer = time.AfterFunc(c.fillTimeout, fl.release)
	fl.stopCtx = context.AfterFunc(ctx, fl.release)
	c.mu.Unlock()
	c.fills.Add(1)
	return nil, fl, nil, false
}

// Done completes the fill with the upstream response e, fresh for ttl. When
// e != nil and ttl > 0 it stores a shallow copy (TTL = ttl, Stored = e.Stored
// or now) in L1 (unless its cost exceeds MaxBytes) and L2, and wakes every
// waiter with that copy; when the call returns, a Lookup or Get of the key
// in this goroutine sees the entry (unless L1 refused it). With e == nil or
// ttl <= 0 nothing is stored or shared — an uncacheable response must not
// be served to other clients — and Done behaves exactly like Abandon.
func (fl *Fill) Done(e *Entry, ttl time.Duration) {
	c := fl.c
	c.mu.Lock()
	if fl.finished {
		c.mu.Unlock()
		return
	}
	fl.finished = true
	c.mu.Unlock()
	s := c.prepare(e, ttl)
	if s == nil {
		fl.release()
		return
	}
	c.mu.Lock()
	fl.stopLocked()
	c.mu.Unlock()
	c.resolve(fl.f, s, true)
}

// Abandon gives up the fill: the leader's upstream failed or the response is
// not cacheable. Nothing is stored. If callers are waiting, exactly one of
// them becomes the new leader (its Lookup returns (nil, fill, nil)) and the
// others keep waiting; see Lookup.
func (fl *Fill) Abandon() {
	c := fl.c
	c.mu.Lock()
	if fl.finished {
		c.mu.Unlock()
		return
	}
	fl.finished = true
	c.mu.Unlock()
	fl.release()
}

// release gives up leadership without a result (Abandon, FillTimeout, ctx
// end); a no-op when this Fill no longer leads.
func (fl *Fill) release() {
	c := fl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !fl.leading {
		return
	}
	fl.stopLocked()
	c.abandoned.Add(1)
	if !fl.f.resolved {
		c.handoffLocked(fl.f)
	}
}

// stopLocked ends this Fill's leadership and its automatic abandonment.
func (fl *Fill) stopLocked() {
	fl.leading = false
	fl.timer.Stop()
	fl.stopCtx()
}

// resolve stores s (already prepared) and resolves f with it: the waiters get
// s at once, the flight stays visible (answering newcomers with s) until the
// L1 write is applied, then it is removed, then L2 is written (toL2).
func (c *Cache) resolve(f *flight, s *Entry, toL2 bool) {
	stored := c.setL1(f.key, s, false)
	c.mu.Lock()
	if !f.resolved {
		f.resolved = true
		f.entry = s
		close(f.done)
	}
	c.mu.Unlock()
	if stored {
		c.rc.Wait()
	}
	c.mu.Lock()
	if c.flights[f.key] == f {
		delete(c.flights, f.key)
	}
	c.mu.Unlock()
	if toL2 {
		c.setL2(f.key, s)
	}
}

// handoffLocked passes leadership of an unresolved flight to one waiter, or
// dissolves the flight when nobody waits. The caller must be in charge of f.
func (c *Cache) handoffLocked(f *flight) {
	if f.waiters > 0 {
		f.waiters--
		select {
		case f.handoff <- struct{}{}:
		default: // a token is already pending (cannot happen: one in charge)
		}
		return
	}
	if c.flights[f.key] == f {
		delete(c.flights, f.key)
	}
	f.resolved = true
	close(f.done)
}

// leave unregisters a waiter whose ctx ended. If the leadership token was
// meant for it meanwhile, it passes it on.
func (c *Cache) leave(f *flight) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-f.handoff:
		if !f.resolved {
			c.handoffLocked(f)
		}
	default:
		f.waiters--
	}
}

// l2Usable reports whether L2 is configured and not backing off.
func (c *Cache) l2Usable() bool {
	return c.l2 != nil && time.Now().UnixNano() >= c.l2DownUntil.Load()
}

// l2Failed accounts for an L2 error (unless it is only the caller's ctx
// ending) and starts the backoff; it reports whether err != nil.
func (c *Cache) l2Failed(op string, err error, caller context.Context) bool {
	if err == nil {
		return false
	}
	if caller != nil && caller.Err() != nil {
		return true
	}
	c.l2Errors.Add(1)
	c.l2DownUntil.Store(time.Now().Add(c.l2Backoff).UnixNano())
	if c.onL2Error != nil {
		c.onL2Error(op, err)
	}
	return true
}

// getL2 reads a fresh entry from L2, or nil (miss, stale, error).
func (c *Cache) getL2(ctx context.Context, key string) *Entry {
	l2ctx, cancel := context.WithTimeout(ctx, c.l2Timeout)
	e, ok, err := c.l2.Get(l2ctx, key)
	cancel()
	if c.l2Failed("get", err, ctx) || !ok || e == nil || !e.fresh(c.clock()) {
		return nil
	}
	return e
}

// setL2 writes a prepared entry to L2 for its remaining lifetime.
func (c *Cache) setL2(key string, s *Entry) {
	if !c.l2Usable() {
		return
	}
	ttl := s.Expires().Sub(c.clock())
	if ttl <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.l2Timeout)
	err := c.l2.Set(ctx, key, s, ttl)
	cancel()
	c.l2Failed("set", err, nil)
}
