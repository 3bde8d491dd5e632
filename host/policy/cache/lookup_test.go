package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waiters is the number of goroutines blocked in Lookup on key's flight.
func waiters(c *Cache, key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.flights[key]; f != nil {
		return f.waiters
	}
	return -1
}

// waitWaiters waits until exactly n callers wait on key's flight. It may be
// called from any goroutine (it reports with t.Error).
func waitWaiters(t *testing.T, c *Cache, key string, n int) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if waiters(c, key) == n {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	t.Errorf("waiters on %q = %d, want %d", key, waiters(c, key), n)
	return false
}

type result struct {
	e    *Entry
	fill *Fill
	err  error
}

// lookupAsync starts n Lookups of key and returns a channel with their results.
func lookupAsync(c *Cache, ctx context.Context, key string, n int) <-chan result {
	out := make(chan result, n)
	for range n {
		go func() {
			e, fill, err := c.Lookup(ctx, key)
			out <- result{e, fill, err}
		}()
	}
	return out
}

func TestLookupCoalescing(t *testing.T) {
	const n = 100
	c := newCache(t, Options{})
	var leaders, upstreamCalls atomic.Int32
	got := make([]*Entry, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			e, fill, err := c.Lookup(context.Background(), "GET /pets")
			if err != nil {
				t.Error(err)
				return
			}
			if fill != nil {
				leaders.Add(1)
				// Make sure every other caller is waiting before answering.
				waitWaiters(t, c, "GET /pets", n-1)
				upstreamCalls.Add(1)
				time.Sleep(20 * time.Millisecond)
				fill.Done(entry("pets"), time.Minute)
				return
			}
			got[i] = e
		})
	}
	close(start)
	wg.Wait()
	if leaders.Load() != 1 || upstreamCalls.Load() != 1 {
		t.Fatalf("leaders = %d, upstream calls = %d; want 1, 1", leaders.Load(), upstreamCalls.Load())
	}
	var shared *Entry
	answered := 0
	for _, e := range got {
		if e == nil {
			continue
		}
		answered++
		if shared == nil {
			shared = e
		}
		if e != shared || string(e.Body) != "pets" {
			t.Fatalf("waiters got different entries: %p %p", e, shared)
		}
	}
	if answered != n-1 {
		t.Fatalf("%d waiters answered, want %d", answered, n-1)
	}
	s := c.Stats()
	if s.Coalesced != n-1 || s.Fills != 1 || s.Misses != n || s.Hits != 0 || s.Abandoned != 0 {
		t.Fatalf("stats %+v", s)
	}
	if flightCount(c) != 0 {
		t.Fatal("flight left behind")
	}
	if e, ok := c.Get("GET /pets"); !ok || e != shared {
		t.Fatal("filled entry not in L1")
	}
}

func TestAbandonHandsOffToOneWaiter(t *testing.T) {
	const n = 10
	for _, how := range []string{"Abandon", "Done(nil)", "Done(ttl=0)"} {
		t.Run(how, func(t *testing.T) {
			c := newCache(t, Options{})
			ctx := context.Background()
			e, first, err := c.Lookup(ctx, "k")
			if err != nil || e != nil || first == nil {
				t.Fatalf("first Lookup = %v %v %v", e, first, err)
			}
			results := lookupAsync(c, ctx, "k", n)
			waitWaiters(t, c, "k", n)
			switch how {
			case "Abandon":
				first.Abandon()
			case "Done(nil)":
				first.Done(nil, time.Minute)
			default:
				first.Done(entry("private"), 0)
			}
			// Exactly one waiter becomes the leader; the others keep waiting.
			r := <-results
			if r.err != nil || r.fill == nil {
				t.Fatalf("first result after abandon = %+v, want a fill", r)
			}
			if w := waiters(c, "k"); w != n-1 {
				t.Fatalf("after handoff %d waiters, want %d", w, n-1)
			}
			select {
			case r := <-results:
				t.Fatalf("a second waiter returned: %+v", r)
			case <-time.After(50 * time.Millisecond):
			}
			if _, ok := c.Get("k"); ok {
				t.Fatal("abandoned response was stored")
			}
			r.fill.Done(entry("second"), time.Minute)
			for range n - 1 {
				r := <-results
				if r.err != nil || r.fill != nil || r.e == nil || string(r.e.Body) != "second" {
					t.Fatalf("waiter got %+v", r)
				}
			}
			s := c.Stats()
			if s.Fills != 2 || s.Abandoned != 1 || s.Coalesced != n-1 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestAbandonWithoutWaitersDropsFlight(t *testing.T) {
	c := newCache(t, Options{})
	_, fill, _ := c.Lookup(context.Background(), "k")
	fill.Abandon()
	if flightCount(c) != 0 {
		t.Fatal("flight left behind")
	}
	_, fill2, err := c.Lookup(context.Background(), "k")
	if err != nil || fill2 == nil {
		t.Fatal("next Lookup is not a leader")
	}
	fill.Done(entry("stale"), time.Minute) // already abandoned: no-op
	if _, ok := c.Get("k"); ok {
		t.Fatal("Done after Abandon stored")
	}
	fill2.Done(entry("v"), time.Minute)
	if e, ok := c.Get("k"); !ok || string(e.Body) != "v" {
		t.Fatal("second fill not stored")
	}
}

func TestFillTimeoutReleasesWaiters(t *testing.T) {
	const timeout = 100 * time.Millisecond
	c := newCache(t, Options{FillTimeout: timeout})
	ctx := context.Background()
	began := time.Now()
	_, forgotten, _ := c.Lookup(ctx, "k") // the leader never calls Done/Abandon
	if forgotten == nil {
		t.Fatal("no fill")
	}
	results := lookupAsync(c, ctx, "k", 5)
	r := <-results
	if r.fill == nil {
		t.Fatalf("first waiter result %+v, want a fill", r)
	}
	if el := time.Since(began); el < timeout {
		t.Fatalf("handoff after %v, before FillTimeout %v", el, timeout)
	}
	waitWaiters(t, c, "k", 4)
	r.fill.Done(entry("v"), time.Minute)
	for range 4 {
		if r := <-results; r.e == nil || string(r.e.Body) != "v" {
			t.Fatalf("waiter got %+v", r)
		}
	}
	if s := c.Stats(); s.Abandoned != 1 || s.Fills != 2 || s.Coalesced != 4 {
		t.Fatalf("stats %+v", s)
	}
}

func TestFillTimeoutWithoutWaiters(t *testing.T) {
	c := newCache(t, Options{FillTimeout: 20 * time.Millisecond})
	_, fill, _ := c.Lookup(context.Background(), "k")
	deadline := time.Now().Add(5 * time.Second)
	for flightCount(c) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("timed-out flight never dropped")
		}
		time.Sleep(time.Millisecond)
	}
	// A late Done still stores the (valid) response.
	fill.Done(entry("late"), time.Minute)
	if e, ok := c.Get("k"); !ok || string(e.Body) != "late" {
		t.Fatal("late Done not stored")
	}
	if s := c.Stats(); s.Abandoned != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestLateDoneWakesWaiters(t *testing.T) {
	c := newCache(t, Options{FillTimeout: 50 * time.Millisecond})
	ctx := context.Background()
	_, slow, _ := c.Lookup(ctx, "k")
	results := lookupAsync(c, ctx, "k", 3)
	r := <-results // leadership handed over after FillTimeout
	if r.fill == nil {
		t.Fatalf("got %+v, want a fill", r)
	}
	waitWaiters(t, c, "k", 2)
	slow.Done(entry("slow"), time.Minute) // the old leader finishes after all
	for range 2 {
		if r := <-results; r.e == nil || string(r.e.Body) != "slow" {
			t.Fatalf("waiter got %+v", r)
		}
	}
	r.fill.Done(entry("new"), time.Minute) // stores the newer response
	if e, ok := c.Get("k"); !ok || string(e.Body) != "new" {
		t.Fatalf("got %v", e)
	}
}

func TestLeaderCtxCanceledHandsOff(t *testing.T) {
	c := newCache(t, Options{FillTimeout: time.Minute})
	lctx, cancel := context.WithCancel(context.Background())
	_, fill, _ := c.Lookup(lctx, "k")
	results := lookupAsync(c, context.Background(), "k", 3)
	waitWaiters(t, c, "k", 3)
	began := time.Now()
	cancel()
	r := <-results
	if r.fill == nil {
		t.Fatalf("got %+v, want a fill", r)
	}
	if el := time.Since(began); el > 5*time.Second {
		t.Fatalf("handoff took %v", el)
	}
	fill.Abandon() // already released: no-op, does not hand off again
	if w := waiters(c, "k"); w != 2 {
		t.Fatalf("waiters = %d, want 2", w)
	}
	r.fill.Done(entry("v"), time.Minute)
	for range 2 {
		if r := <-results; r.e == nil {
			t.Fatalf("waiter got %+v", r)
		}
	}
	if s := c.Stats(); s.Abandoned != 1 || s.Fills != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestLookupWithDoneCtx(t *testing.T) {
	c := newCache(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := c.Lookup(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	c.Set("k", entry("v"), time.Minute)
	if e, _, err := c.Lookup(ctx, "k"); err != nil || e == nil {
		t.Fatal("a hit is served even with a done ctx")
	}
}

func TestWaiterCtxCanceled(t *testing.T) {
	c := newCache(t, Options{})
	_, fill, _ := c.Lookup(context.Background(), "k")
	patient := lookupAsync(c, context.Background(), "k", 1)
	waitWaiters(t, c, "k", 1)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	began := time.Now()
	e, f, err := c.Lookup(ctx, "k")
	if !errors.Is(err, context.DeadlineExceeded) || e != nil || f != nil {
		t.Fatalf("impatient Lookup = %v %v %v", e, f, err)
	}
	if el := time.Since(began); el > 2*time.Second {
		t.Fatalf("returned after %v", el)
	}
	if w := waiters(c, "k"); w != 1 {
		t.Fatalf("waiters = %d, want 1", w)
	}
	fill.Done(entry("v"), time.Minute)
	if r := <-patient; r.e == nil || string(r.e.Body) != "v" {
		t.Fatalf("patient waiter got %+v", r)
	}
	if s := c.Stats(); s.Abandoned != 0 || s.Fills != 1 || s.Coalesced != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// A waiter whose ctx ends just as leadership is handed to it passes the
// leadership on (or drops the flight), so nobody is left waiting for a leader
// that does not exist.
func TestLeaveWithPendingHandoff(t *testing.T) {
	t.Run("passes on", func(t *testing.T) {
		c := newCache(t, Options{})
		_, fill, _ := c.Lookup(context.Background(), "k")
		results := lookupAsync(c, context.Background(), "k", 1)
		waitWaiters(t, c, "k", 1)
		c.mu.Lock()
		f := c.flights["k"]
		f.waiters++ // a phantom waiter, about to leave
		c.mu.Unlock()
		// Take the token away from the real waiter: hold the lock while
		// abandoning so that the phantom leaves before anyone receives it.
		c.mu.Lock()
		fill.leading = false
		fill.timer.Stop()
		fill.stopCtx()
		c.handoffLocked(f) // token pending, waiters 2 -> 1
		c.mu.Unlock()
		c.leave(f) // the phantom finds the token (or not) and keeps things consistent
		r := <-results
		if r.fill == nil {
			t.Fatalf("real waiter got %+v, want a fill", r)
		}
		r.fill.Done(entry("v"), time.Minute)
		if flightCount(c) != 0 {
			t.Fatal("flight left behind")
		}
	})
	t.Run("dissolves", func(t *testing.T) {
		c := newCache(t, Options{})
		_, fill, _ := c.Lookup(context.Background(), "k")
		c.mu.Lock()
		f := c.flights["k"]
		f.waiters = 1 // a phantom waiter
		c.mu.Unlock()
		fill.Abandon() // token pending for the phantom
		c.leave(f)     // the phantom leaves with the token: nobody waits
		if flightCount(c) != 0 {
			t.Fatal("flight not dissolved")
		}
		select {
		case <-f.done:
		default:
			t.Fatal("dissolved flight not closed")
		}
		_, fill2, err := c.Lookup(context.Background(), "k")
		if err != nil || fill2 == nil {
			t.Fatal("no new leader after dissolve")
		}
		fill2.Abandon()
	})
}

// Stress: many keys, random abandons, cancellations and fills; every Lookup
// returns, nothing is left behind and the race detector stays quiet.
func TestLookupStress(t *testing.T) {
	c := newCache(t, Options{FillTimeout: 200 * time.Millisecond})
	keys := []string{"a", "b", "c", "d"}
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := range 200 {
				key := keys[(g+i)%len(keys)]
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%5+1)*time.Millisecond)
				e, fill, err := c.Lookup(ctx, key)
				switch {
				case err != nil:
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("Lookup: %v", err)
					}
				case fill != nil:
					switch i % 4 {
					case 0:
						fill.Abandon()
					case 1:
						fill.Done(entry(key), time.Millisecond)
					case 2:
						// forget it: ctx end releases it
					default:
						fill.Done(entry(key), 0)
					}
				case e == nil || string(e.Body) != key:
					t.Errorf("Lookup(%s) = %+v", key, e)
				}
				cancel()
				if i%50 == 0 {
					c.Delete(key)
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for flightCount(c) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d flights left behind", flightCount(c))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
