package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/internal/redistest"
)

func TestRedisL2RoundTrip(t *testing.T) {
	srv := redistest.Start(t)
	rc := srv.Client(t)
	l2 := NewRedisL2(rc, "wg:test:")
	ctx := context.Background()
	if e, ok, err := l2.Get(ctx, "k"); e != nil || ok || err != nil {
		t.Fatalf("Get(missing) = %v %v %v", e, ok, err)
	}
	in := &Entry{Status: 201, Headers: [][2]string{{"A", "b"}}, Body: []byte("xyz"), Stored: time.Unix(1700000000, 5), TTL: time.Minute}
	if err := l2.Set(ctx, "k", in, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	pttl, err := rc.PTTL(ctx, "wg:test:k").Result()
	if err != nil || pttl <= time.Second || pttl > 1500*time.Millisecond {
		t.Fatalf("PTTL = %v, %v; want (1s, 1.5s] (SET ... PX)", pttl, err)
	}
	got, ok, err := l2.Get(ctx, "k")
	if err != nil || !ok || got.Status != 201 || string(got.Body) != "xyz" || !got.Stored.Equal(in.Stored) || got.TTL != time.Minute || got.Headers[0] != in.Headers[0] {
		t.Fatalf("Get = %+v %v %v", got, ok, err)
	}
	if err := l2.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := l2.Get(ctx, "k"); ok {
		t.Fatal("Get after Delete hit")
	}
	// A value that is not an entry is an error (Lookup treats it as a miss).
	rc.Set(ctx, "wg:test:junk", "junk", time.Minute)
	if _, _, err := l2.Get(ctx, "junk"); err == nil {
		t.Fatal("junk value decoded")
	}
}

func TestRedisL2SharedBetweenCaches(t *testing.T) {
	srv := redistest.Start(t)
	l2 := NewRedisL2(srv.Client(t), "wg:")
	clk := newFakeClock()
	node1 := newCache(t, Options{L2: l2, Clock: clk.Now})
	node2 := newCache(t, Options{L2: l2, Clock: clk.Now})
	ctx := context.Background()

	e, fill, err := node1.Lookup(ctx, "GET /pets")
	if err != nil || e != nil || fill == nil {
		t.Fatalf("node1 Lookup = %v %v %v", e, fill, err)
	}
	fill.Done(entry("pets"), time.Minute)
	clk.Advance(5 * time.Second)

	// node2: L1 miss, L2 hit, which fills node2's L1.
	e, fill, err = node2.Lookup(ctx, "GET /pets")
	if err != nil || fill != nil || e == nil || string(e.Body) != "pets" || len(e.Headers) != 3 {
		t.Fatalf("node2 Lookup = %+v %v %v", e, fill, err)
	}
	if age := e.Age(clk.Now()); age != 5*time.Second {
		t.Fatalf("age on node2 = %v, want 5s (Stored travels with the entry)", age)
	}
	if e2, ok := node2.Get("GET /pets"); !ok || e2 != e {
		t.Fatal("L2 hit did not fill node2's L1")
	}
	s := node2.Stats()
	if s.L2Hits != 1 || s.Hits != 2 || s.Misses != 0 || s.Fills != 0 || s.L2Errors != 0 {
		t.Fatalf("node2 stats %+v", s)
	}

	// The L2 copy expires with the entry: past its TTL it is a miss on a
	// third node too.
	clk.Advance(time.Minute)
	node3 := newCache(t, Options{L2: l2, Clock: clk.Now})
	if _, fill, _ := node3.Lookup(ctx, "GET /pets"); fill == nil {
		t.Fatal("stale L2 entry was served")
	} else {
		fill.Abandon()
	}

	// Delete invalidates L2 as well.
	node1.Set("k2", entry("v2"), time.Hour)
	node1.Delete("k2")
	node4 := newCache(t, Options{L2: l2, Clock: clk.Now})
	if _, fill, _ := node4.Lookup(ctx, "k2"); fill == nil {
		t.Fatal("deleted key still in L2")
	} else {
		fill.Abandon()
	}
}

func TestRedisL2DownDegradesToL1(t *testing.T) {
	srv := redistest.Start(t)
	var l2errs atomic.Int32
	var lastOp atomic.Value
	c := newCache(t, Options{
		L2:        NewRedisL2(srv.Client(t), "wg:"),
		L2Timeout: 300 * time.Millisecond,
		L2Backoff: time.Second,
		OnL2Error: func(op string, err error) { l2errs.Add(1); lastOp.Store(op) },
	})
	ctx := context.Background()
	srv.Stop()

	// Lookup does not fail: the L2 error is a miss and the caller leads.
	began := time.Now()
	e, fill, err := c.Lookup(ctx, "k")
	if err != nil || e != nil || fill == nil {
		t.Fatalf("Lookup with Redis down = %v %v %v", e, fill, err)
	}
	if el := time.Since(began); el > 2*time.Second {
		t.Fatalf("Lookup took %v with Redis down", el)
	}
	fill.Done(entry("v"), time.Minute) // L2 Set skipped (backing off) or failed: no panic, no error
	if e, ok := c.Get("k"); !ok || string(e.Body) != "v" {
		t.Fatal("L1 not filled while L2 is down")
	}
	if e, fill, err := c.Lookup(ctx, "k"); err != nil || fill != nil || e == nil {
		t.Fatal("L1 hit failed while L2 is down")
	}
	// While backing off, L2 is not tried again.
	_, fill, _ = c.Lookup(ctx, "other")
	fill.Abandon()
	if s := c.Stats(); s.L2Errors != 1 || l2errs.Load() != 1 || lastOp.Load() != "get" {
		t.Fatalf("stats %+v, hook calls %d", s, l2errs.Load())
	}

	// Redis comes back: after the backoff L2 is used again.
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	_, fill, err = c.Lookup(ctx, "k3")
	if err != nil || fill == nil {
		t.Fatalf("Lookup after recovery = %v %v", fill, err)
	}
	fill.Done(entry("v3"), time.Minute)
	other := newCache(t, Options{L2: NewRedisL2(srv.Client(t), "wg:")})
	if e, _, err := other.Lookup(ctx, "k3"); err != nil || e == nil || string(e.Body) != "v3" {
		t.Fatalf("after recovery the fill did not reach L2: %v %v", e, err)
	}
}

// fakeL2 is an in-memory L2 with a delay and error injection.
type fakeL2 struct {
	mu    sync.Mutex
	m     map[string]*Entry
	delay time.Duration
	err   error
	gets  atomic.Int32
	sets  atomic.Int32
}

func (f *fakeL2) Get(ctx context.Context, key string) (*Entry, bool, error) {
	f.gets.Add(1)
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, false, f.err
	}
	e, ok := f.m[key]
	return e, ok, nil
}

func (f *fakeL2) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
	f.sets.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if f.m == nil {
		f.m = map[string]*Entry{}
	}
	f.m[key] = e
	return nil
}

func (f *fakeL2) Delete(ctx context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, key)
	return f.err
}

// Concurrent L1 misses make one L2 read, and an L2 hit answers all of them.
func TestL2ReadIsCoalesced(t *testing.T) {
	l2 := &fakeL2{delay: 50 * time.Millisecond}
	clk := newFakeClock()
	l2.Set(context.Background(), "k", &Entry{Status: 200, Body: []byte("from l2"), Stored: clk.Now(), TTL: time.Minute}, time.Minute)
	c := newCache(t, Options{L2: l2, Clock: clk.Now})
	results := lookupAsync(c, context.Background(), "k", 20)
	for range 20 {
		r := <-results
		if r.err != nil || r.fill != nil || r.e == nil || string(r.e.Body) != "from l2" {
			t.Fatalf("got %+v", r)
		}
	}
	if n := l2.gets.Load(); n != 1 {
		t.Fatalf("%d L2 reads, want 1", n)
	}
	if s := c.Stats(); s.L2Hits != 1 || s.Fills != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestL2MissThenFillWritesThrough(t *testing.T) {
	l2 := &fakeL2{}
	c := newCache(t, Options{L2: l2})
	_, fill, _ := c.Lookup(context.Background(), "k")
	fill.Done(entry("v"), time.Minute)
	if l2.sets.Load() != 1 {
		t.Fatal("Done did not write L2")
	}
	if e, ok, _ := l2.Get(context.Background(), "k"); !ok || string(e.Body) != "v" || e.TTL != time.Minute {
		t.Fatalf("L2 has %+v", e)
	}
	// A handed-off leader does not re-read L2 (the flight already did).
	_, fill, _ = c.Lookup(context.Background(), "k2")
	results := lookupAsync(c, context.Background(), "k2", 1)
	waitWaiters(t, c, "k2", 1)
	fill.Abandon()
	r := <-results
	if r.fill == nil {
		t.Fatalf("got %+v", r)
	}
	r.fill.Abandon()
	if n := l2.gets.Load(); n != 3 { // "k" by Lookup, "k" by this test, "k2" once
		t.Fatalf("%d L2 reads, want 3", n)
	}
}

func TestL2ErrorsAreMisses(t *testing.T) {
	for _, tc := range []struct {
		name string
		l2   *fakeL2
	}{
		{"error", &fakeL2{err: errors.New("boom")}},
		{"timeout", &fakeL2{delay: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			c := newCache(t, Options{L2: tc.l2, L2Timeout: 20 * time.Millisecond, OnL2Error: func(string, error) { calls.Add(1) }})
			e, fill, err := c.Lookup(context.Background(), "k")
			if err != nil || e != nil || fill == nil {
				t.Fatalf("Lookup = %v %v %v", e, fill, err)
			}
			fill.Done(entry("v"), time.Minute)
			if _, ok := c.Get("k"); !ok {
				t.Fatal("L1 not filled")
			}
			if s := c.Stats(); s.L2Errors != 1 || calls.Load() != 1 {
				t.Fatalf("stats %+v, hook %d", s, calls.Load())
			}
		})
	}
}

// A caller whose own ctx ends during the L2 read is not an L2 error; the
// next caller reads L2 again.
func TestL2CallerCancelIsNotAnError(t *testing.T) {
	l2 := &fakeL2{delay: 200 * time.Millisecond}
	c := newCache(t, Options{L2: l2})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := c.Lookup(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if s := c.Stats(); s.L2Errors != 0 {
		t.Fatalf("stats %+v", s)
	}
	if flightCount(c) != 0 {
		t.Fatal("flight left behind")
	}
	l2.delay = 0
	_, fill, _ := c.Lookup(context.Background(), "k")
	if fill == nil || l2.gets.Load() != 2 {
		t.Fatalf("fill %v, gets %d", fill, l2.gets.Load())
	}
	fill.Abandon()
}

func ExampleCache_Lookup() {
	c, _ := New(Options{MaxBytes: 16 << 20})
	defer c.Close()
	fetch := func() *Entry { return &Entry{Status: 200, Body: []byte("hello")} }
	for range 2 {
		e, fill, err := c.Lookup(context.Background(), "GET /hello")
		switch {
		case err != nil:
			fmt.Println("gave up:", err)
		case fill != nil:
			e = fetch() // the leader calls the upstream
			fill.Done(e, 5*time.Minute)
			fmt.Println("X-Cache: Miss", string(e.Body))
		default:
			fmt.Println("X-Cache: Hit", string(e.Body))
		}
	}
	// Output:
	// X-Cache: Miss hello
	// X-Cache: Hit hello
}
