package cache

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is an injectable clock that only moves when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func newCache(t testing.TB, opts Options) *Cache {
	t.Helper()
	if opts.MaxBytes == 0 {
		opts.MaxBytes = 64 << 20
	}
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func entry(body string) *Entry {
	return &Entry{
		Status:  200,
		Headers: [][2]string{{"Content-Type", "text/plain"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}},
		Body:    []byte(body),
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, max := range []int64{0, -1} {
		if _, err := New(Options{MaxBytes: max}); err == nil {
			t.Errorf("New(MaxBytes=%d) succeeded", max)
		}
	}
}

func TestGetSetTTL(t *testing.T) {
	type step struct {
		advance time.Duration
		wantHit bool
		wantAge time.Duration
	}
	tests := []struct {
		name  string
		ttl   time.Duration
		steps []step
	}{
		{"fresh then expired", 10 * time.Second, []step{
			{0, true, 0}, {9 * time.Second, true, 9 * time.Second}, {999 * time.Millisecond, true, 9999 * time.Millisecond}, {time.Millisecond, false, 0},
		}},
		{"one second", time.Second, []step{{500 * time.Millisecond, true, 500 * time.Millisecond}, {time.Hour, false, 0}}},
		{"long", time.Hour, []step{{59 * time.Minute, true, 59 * time.Minute}, {2 * time.Minute, false, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			c := newCache(t, Options{Clock: clk.Now})
			in := entry("hello")
			if !c.Set("k", in, tt.ttl) {
				t.Fatal("Set returned false")
			}
			if in.TTL != 0 || !in.Stored.IsZero() {
				t.Fatal("Set modified the caller's entry")
			}
			for i, s := range tt.steps {
				clk.Advance(s.advance)
				e, ok := c.Get("k")
				if ok != s.wantHit {
					t.Fatalf("step %d: hit=%v, want %v", i, ok, s.wantHit)
				}
				if !ok {
					continue
				}
				if string(e.Body) != "hello" || e.Status != 200 || len(e.Headers) != 3 || e.TTL != tt.ttl {
					t.Fatalf("step %d: got %+v", i, e)
				}
				if age := e.Age(clk.Now()); age != s.wantAge {
					t.Fatalf("step %d: age %v, want %v", i, age, s.wantAge)
				}
			}
			// Lookup also treats an expired entry as a miss.
			e, fill, err := c.Lookup(context.Background(), "k")
			if err != nil || e != nil || fill == nil {
				t.Fatalf("Lookup after expiry = %v, %v, %v; want a fill", e, fill, err)
			}
			fill.Abandon()
		})
	}
}

func TestSetRejects(t *testing.T) {
	clk := newFakeClock()
	tests := []struct {
		name string
		e    *Entry
		ttl  time.Duration
	}{
		{"nil entry", nil, time.Minute},
		{"zero ttl", entry("x"), 0},
		{"negative ttl", entry("x"), -time.Second},
		{"already expired", &Entry{Status: 200, Stored: clk.Now().Add(-2 * time.Minute)}, time.Minute},
		{"oversize", &Entry{Status: 200, Body: make([]byte, 4096)}, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, Options{MaxBytes: 4096, Clock: clk.Now})
			if c.Set("k", tt.e, tt.ttl) {
				t.Fatal("Set returned true")
			}
			if _, ok := c.Get("k"); ok {
				t.Fatal("rejected entry is visible")
			}
			if s := c.Stats(); s.Entries != 0 || s.Bytes != 0 {
				t.Fatalf("stats after rejected Set: %+v", s)
			}
		})
	}
}

func TestStoredIsKept(t *testing.T) {
	clk := newFakeClock()
	c := newCache(t, Options{Clock: clk.Now})
	in := entry("x")
	in.Stored = clk.Now().Add(-30 * time.Second) // e.g. from an upstream Age
	c.Set("k", in, time.Minute)
	e, ok := c.Get("k")
	if !ok || e.Age(clk.Now()) != 30*time.Second {
		t.Fatalf("got %v %v", e, ok)
	}
	clk.Advance(31 * time.Second)
	if _, ok := c.Get("k"); ok {
		t.Fatal("entry should expire 60s after its Stored time")
	}
}

func TestDelete(t *testing.T) {
	c := newCache(t, Options{})
	c.Set("a", entry("a"), time.Minute)
	c.Set("b", entry("b"), time.Minute)
	c.Delete("a")
	c.Delete("missing") // no-op
	if _, ok := c.Get("a"); ok {
		t.Fatal("deleted key still present")
	}
	if e, ok := c.Get("b"); !ok || string(e.Body) != "b" {
		t.Fatal("other key lost")
	}
	if s := c.Stats(); s.Entries != 1 || s.Bytes != Cost("b", entry("b")) {
		t.Fatalf("stats after delete: %+v (want 1 entry, %d bytes)", s, Cost("b", entry("b")))
	}
	// Set again after Delete works.
	c.Set("a", entry("a2"), time.Minute)
	if e, ok := c.Get("a"); !ok || string(e.Body) != "a2" {
		t.Fatal("re-set after delete not visible")
	}
}

func TestOverwrite(t *testing.T) {
	c := newCache(t, Options{})
	c.Set("k", entry("one"), time.Minute)
	c.Set("k", entry("two"), time.Minute)
	if e, ok := c.Get("k"); !ok || string(e.Body) != "two" {
		t.Fatalf("got %v %v", e, ok)
	}
	if s := c.Stats(); s.Entries != 1 || s.Bytes != Cost("k", entry("two")) {
		t.Fatalf("stats %+v", s)
	}
}

func TestCost(t *testing.T) {
	e := &Entry{Headers: [][2]string{{"ab", "cde"}}, Body: []byte("0123456789")}
	want := int64(EntryOverhead + 3 + 10 + HeaderOverhead + 5)
	if got := Cost("key", e); got != want {
		t.Fatalf("Cost = %d, want %d", got, want)
	}
}

func TestSizeBound(t *testing.T) {
	const maxBytes = 64 << 10
	c := newCache(t, Options{MaxBytes: maxBytes})
	body := bytes.Repeat([]byte("x"), 1000)
	stored := 0
	for i := range 2000 {
		if c.Set(fmt.Sprintf("key-%04d", i), &Entry{Status: 200, Body: body}, time.Hour) {
			stored++
		}
	}
	c.rc.Wait()
	s := c.Stats()
	if s.Bytes > maxBytes {
		t.Fatalf("Bytes %d > MaxBytes %d", s.Bytes, maxBytes)
	}
	per := Cost("key-0000", &Entry{Body: body})
	if s.Entries <= 0 || s.Entries > maxBytes/per {
		t.Fatalf("Entries = %d, want 1..%d", s.Entries, maxBytes/per)
	}
	if s.Bytes != s.Entries*per {
		t.Fatalf("Bytes %d != Entries %d * cost %d", s.Bytes, s.Entries, per)
	}
	if s.Evictions == 0 {
		t.Fatalf("no evictions after inserting %d entries of %d bytes into %d: %+v", stored, per, maxBytes, s)
	}
	present := 0
	for i := range 2000 {
		if _, ok := c.Get(fmt.Sprintf("key-%04d", i)); ok {
			present++
		}
	}
	if int64(present) != s.Entries {
		t.Fatalf("%d keys readable, Stats.Entries = %d", present, s.Entries)
	}
}

func TestLookupHitAndFill(t *testing.T) {
	c := newCache(t, Options{})
	ctx := context.Background()
	c.Set("hit", entry("cached"), time.Minute)
	e, fill, err := c.Lookup(ctx, "hit")
	if err != nil || fill != nil || e == nil || string(e.Body) != "cached" {
		t.Fatalf("Lookup(hit) = %v, %v, %v", e, fill, err)
	}
	e, fill, err = c.Lookup(ctx, "miss")
	if err != nil || e != nil || fill == nil || fill.Key() != "miss" {
		t.Fatalf("Lookup(miss) = %v, %v, %v", e, fill, err)
	}
	fill.Done(entry("filled"), time.Minute)
	fill.Done(entry("again"), time.Minute) // no-op
	fill.Abandon()                         // no-op
	// Get right after Done in the same goroutine is reliable.
	if e, ok := c.Get("miss"); !ok || string(e.Body) != "filled" {
		t.Fatalf("Get after Done = %v, %v", e, ok)
	}
	if e, fill, err := c.Lookup(ctx, "miss"); err != nil || fill != nil || string(e.Body) != "filled" {
		t.Fatalf("Lookup after Done = %v, %v, %v", e, fill, err)
	}
	s := c.Stats()
	want := Stats{Hits: 3, Misses: 1, Fills: 1}
	if s.Hits != want.Hits || s.Misses != want.Misses || s.Fills != want.Fills || s.Coalesced != 0 || s.Abandoned != 0 {
		t.Fatalf("stats %+v, want %+v", s, want)
	}
	if n := flightCount(c); n != 0 {
		t.Fatalf("%d flights left", n)
	}
}

func TestLookupAfterClose(t *testing.T) {
	c, err := New(Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	c.Set("k", entry("x"), time.Minute)
	c.Close()
	c.Close() // idempotent
	if _, _, err := c.Lookup(context.Background(), "k"); err != ErrClosed {
		t.Fatalf("Lookup after Close: %v", err)
	}
	if _, ok := c.Get("k"); ok {
		t.Fatal("Get after Close hit")
	}
	if c.Set("k", entry("x"), time.Minute) {
		t.Fatal("Set after Close stored")
	}
	c.Delete("k")
	_ = c.Stats()
}

func TestEncodeDecode(t *testing.T) {
	stored := time.Date(2025, 3, 4, 5, 6, 7, 890, time.UTC)
	tests := []struct {
		name string
		e    *Entry
	}{
		{"empty", &Entry{}},
		{"full", &Entry{Status: 203, Headers: [][2]string{{"A", "1"}, {"Set-Cookie", "x=1"}, {"Set-Cookie", "y=2"}, {"Empty", ""}}, Body: []byte("body\x00bytes"), Stored: stored, TTL: 1500 * time.Millisecond}},
		{"big body", &Entry{Status: 200, Body: bytes.Repeat([]byte{0xff}, 1<<16), Stored: stored, TTL: time.Hour}},
		{"unicode header", &Entry{Status: 404, Headers: [][2]string{{"X-Name", strings.Repeat("é", 300)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := EncodeEntry(nil, tt.e)
			got, err := DecodeEntry(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.e.Status || !got.Stored.Equal(tt.e.Stored) || got.TTL != tt.e.TTL ||
				!bytes.Equal(got.Body, tt.e.Body) || fmt.Sprint(got.Headers) != fmt.Sprint(tt.e.Headers) {
				t.Fatalf("round trip: got %+v, want %+v", got, tt.e)
			}
			// Every truncation is an error, never a panic.
			for i := 0; i < len(b)-len(tt.e.Body); i++ {
				if _, err := DecodeEntry(b[:i]); err == nil {
					t.Fatalf("truncated to %d bytes: no error", i)
				}
			}
		})
	}
	for _, bad := range [][]byte{{2}, {1, 0x80}, {1, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}} {
		if _, err := DecodeEntry(bad); err == nil {
			t.Errorf("DecodeEntry(%x): no error", bad)
		}
	}
}

// flightCount is the number of flights in progress.
func flightCount(c *Cache) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.flights)
}
