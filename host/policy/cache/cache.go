// Package cache is the host response cache that caching policy plugins use
// through the wasmgate import namespace: a size-bounded in-memory cache (L1,
// ristretto underneath) with request coalescing, and an optional shared
// second level (L2, Redis) for a cluster of gateway nodes.
//
// # Entries
//
// An Entry is a stored response (status, headers to replay, body) plus when
// it was stored and for how long it is fresh. Entries handed out by the cache
// are shared between all callers and must be treated as read-only; Set and
// Fill.Done keep a shallow copy of the Entry they are given, so the caller must
// not modify its Body or Headers afterwards either.
//
// Freshness is judged with Options.Clock (injectable for tests): an entry is
// fresh while Clock() < Stored+TTL. An expired entry is a miss; its memory is
// reclaimed by ristretto's TTL cleanup or when the key is filled again.
//
// # Size bound
//
// Options.MaxBytes bounds the L1 cost of all entries (a stage's cache size).
// The cost of an entry is len(key) + len(Body) + the header bytes + a fixed
// per-entry and per-header overhead (see Cost). An entry whose cost exceeds
// MaxBytes is never stored. ristretto's admission policy (TinyLFU) may refuse
// a new entry when the cache is full and the entry looks less valuable than
// the ones it would evict; that is a normal miss later.
//
// ristretto applies writes asynchronously; Set and Fill.Done wait for the
// write to be applied, so a Get right after them sees the outcome.
//
// # Coalescing
//
// Lookup is Get with request coalescing ("single flight"): for a missing key
// exactly one caller, the leader, receives a *Fill and fetches the response
// upstream; concurrent Lookups for the same key wait for it. See Lookup, Fill
// and Fill.Abandon for the exact protocol.
//
// # L2
//
// With Options.L2 set, Lookup consults L2 on an L1 miss before handing out a
// Fill (only the first caller for a key does so; concurrent callers wait for
// that one L2 read), and an L2 hit fills L1. Set and Fill.Done write through to
// L2, Delete deletes from L2 too. L2 is best effort: every L2 error (Redis
// down, timeout, corrupt value) is counted in Stats.L2Errors, reported to
// Options.OnL2Error, and otherwise treated as an L2 miss, so Lookup never
// fails because of L2; the cache degrades to L1-only. After an error L2 is
// skipped for Options.L2Backoff, then tried again, so a dead Redis costs one
// timeout per backoff interval rather than one per request, and the cache
// recovers by itself when Redis returns. Delete only reaches the local L1 and
// L2: other nodes' L1 copies live until their TTL.
package cache

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// Entry is a cached response.
type Entry struct {
	Status  int
	Headers [][2]string // response headers to replay (hop-by-hop ones excluded by the caller)
	Body    []byte
	Stored  time.Time     // when it was stored; Age = now - Stored
	TTL     time.Duration // freshness lifetime counted from Stored
}

// Expires is the instant the entry stops being fresh (Stored + TTL).
func (e *Entry) Expires() time.Time { return e.Stored.Add(e.TTL) }

// Age is how old the entry is at now (for the Age response header); never
// negative.
func (e *Entry) Age(now time.Time) time.Duration {
	if a := now.Sub(e.Stored); a > 0 {
		return a
	}
	return 0
}

// fresh reports whether the entry is still fresh at now.
func (e *Entry) fresh(now time.Time) bool { return now.Before(e.Expires()) }

// Per-entry and per-header overheads added to the byte cost of an entry: the
// Entry and item structs, ristretto's store item and policy bookkeeping, and
// the string and slice headers of each header pair.
const (
	EntryOverhead  = 192
	HeaderOverhead = 32
)

// Cost is the number of bytes an entry is charged against Options.MaxBytes:
// key + body + header names and values + overheads.
func Cost(key string, e *Entry) int64 {
	n := int64(EntryOverhead + len(key) + len(e.Body))
	for _, h := range e.Headers {
		n += int64(HeaderOverhead + len(h[0]) + len(h[1]))
	}
	return n
}

// Defaults for Options.
const (
	DefaultFillTimeout = 30 * time.Second
	DefaultL2Timeout   = 250 * time.Millisecond
	DefaultL2Backoff   = time.Second
	// averageEntryBytes sizes ristretto's frequency counters when
	// Options.NumCounters is zero: expected entries = MaxBytes / this.
	averageEntryBytes = 2048
)

// Options configures a Cache.
type Options struct {
	// MaxBytes is the L1 capacity in bytes (per stage: the stage's cache
	// size in MB << 20). Required, > 0.
	MaxBytes int64
	// Clock is the time source for Stored and freshness; default time.Now.
	// ristretto still reclaims an entry once its remaining lifetime (as
	// computed with Clock when it was stored) has passed in wall-clock time.
	Clock func() time.Time
	// L2 is an optional second level shared by a cluster (NewRedisL2); nil
	// means none.
	L2 L2
	// FillTimeout bounds how long a leader may hold a Fill before it is
	// abandoned automatically (waiters then get a new leader); default 30s.
	FillTimeout time.Duration
	// L2Timeout bounds each L2 call; default 250ms.
	L2Timeout time.Duration
	// L2Backoff is how long L2 is skipped after an L2 error; default 1s.
	L2Backoff time.Duration
	// OnL2Error, when set, is called (synchronously) for each L2 error with
	// the operation ("get", "set", "delete") and the error. It should be
	// cheap; rate-limit logging there.
	OnL2Error func(op string, err error)
	// NumCounters overrides ristretto's number of frequency counters; by
	// default 10x the expected number of entries (MaxBytes / 2 KiB, at least
	// 100 entries).
	NumCounters int64
}

// ErrClosed is returned by Lookup after Close.
var ErrClosed = errors.New("cache: closed")

// item is what ristretto stores: the key (to rule out hash collisions) and
// the entry with its precomputed expiry.
type item struct {
	key     string
	entry   *Entry
	expires time.Time
}

// Cache is a size-bounded response cache with request coalescing. It is safe
// for concurrent use.
type Cache struct {
	rc          *ristretto.Cache[string, *item]
	maxBytes    atomic.Int64
	clock       func() time.Time
	ownClock    bool // Options.Clock was set: check freshness with it on Get
	l2          L2
	fillTimeout time.Duration
	l2Timeout   time.Duration
	l2Backoff   time.Duration
	onL2Error   func(op string, err error)

	l2DownUntil atomic.Int64 // unix nanos (wall clock) until which L2 is skipped

	mu      sync.Mutex
	flights map[string]*flight

	closed    atomic.Bool
	closeOnce sync.Once

	hits, misses                           stripedCounter
	coalesced, fills, abandoned, evictions atomic.Uint64
	l2Hits, l2Errors                       atomic.Uint64
}

// New creates a Cache. Call Close when done with it.
func New(opts Options) (*Cache, error) {
	if opts.MaxBytes <= 0 {
		return nil, errors.New("cache: MaxBytes must be > 0")
	}
	c := &Cache{
		clock:       opts.Clock,
		l2:          opts.L2,
		fillTimeout: opts.FillTimeout,
		l2Timeout:   opts.L2Timeout,
		l2Backoff:   opts.L2Backoff,
		onL2Error:   opts.OnL2Error,
		flights:     make(map[string]*flight),
	}
	c.maxBytes.Store(opts.MaxBytes)
	if c.clock == nil {
		c.clock = time.Now
	} else {
		c.ownClock = true
	}
	if c.fillTimeout <= 0 {
		c.fillTimeout = DefaultFillTimeout
	}
	if c.l2Timeout <= 0 {
		c.l2Timeout = DefaultL2Timeout
	}
	if c.l2Backoff <= 0 {
		c.l2Backoff = DefaultL2Backoff
	}
	counters := opts.NumCounters
	if counters <= 0 {
		expected := max(opts.MaxBytes/averageEntryBytes, 100)
		counters = min(10*expected, 1<<26)
	}
	rc, err := ristretto.NewCache(&ristretto.Config[string, *item]{
		NumCounters:        counters,
		MaxCost:            opts.MaxBytes,
		BufferItems:        64,
		Metrics:            true, // Entries = keys added - keys removed
		IgnoreInternalCost: true, // Cost already includes an overhead
		OnEvict:            func(*ristretto.Item[*item]) { c.evictions.Add(1) },
	})
	if err != nil {
		return nil, err
	}
	c.rc = rc
	return c, nil
}

// Close releases the cache's goroutines and memory. It must not run
// concurrently with other methods (a ristretto restriction); calls made after
// it returns are safe: Get misses, Lookup returns ErrClosed, Set stores
// nothing, and Fills still held by leaders may be completed (they wake their
// waiters but store nothing in L1).
func (c *Cache) Close() {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.rc.Close()
	})
}

// Get returns the fresh L1 entry for key. It never consults L2 nor waits for
// a fill in progress; use Lookup for that.
func (c *Cache) Get(key string) (*Entry, bool) {
	if e := c.get(key); e != nil {
		c.hits.add(1)
		return e, true
	}
	c.misses.add(1)
	return nil, false
}

// Resize changes the L1 capacity (MaxBytes); entries over the new size are
// evicted as new ones are stored. maxBytes <= 0 is ignored.
func (c *Cache) Resize(maxBytes int64) {
	if maxBytes <= 0 || c.closed.Load() {
		return
	}
	c.maxBytes.Store(maxBytes)
	c.rc.UpdateMaxCost(maxBytes)
}

// MaxBytes is the L1 capacity.
func (c *Cache) MaxBytes() int64 { return c.maxBytes.Load() }

// Now is the cache's clock (Options.Clock): for the Age of an entry.
func (c *Cache) Now() time.Time { return c.clock() }

// Peek is Get for a caller that follows a miss with Lookup: it counts a
// hit, but not a miss (Lookup counts that).
func (c *Cache) Peek(key string) (*Entry, bool) {
	if e := c.get(key); e != nil {
		c.hits.add(1)
		return e, true
	}
	return nil, false
}

func (c *Cache) get(key string) *Entry {
	if c.closed.Load() {
		return nil
	}
	// ristretto does not return items past their TTL (wall clock, set to
	// the same instant as it.expires); with an injected clock we check it
	// ourselves. Not reading the clock twice matters: a hit costs little
	// more than a clock read.
	it, ok := c.rc.Get(key)
	if !ok || it == nil || it.key != key || (c.ownClock && !c.clock().Before(it.expires)) {
		return nil
	}
	return it.entry
}

// Set stores a shallow copy of e under key for ttl (the copy's TTL is ttl and
// its Stored is e.Stored, or now when zero) in L1 and, when configured, L2.
// It reports whether L1 accepted the entry: false when ttl <= 0, the entry is
// already expired, its cost exceeds MaxBytes, the cache is closed, or
// ristretto dropped or refused it. When Set returns, the write has been
// applied, so a Get in the same goroutine sees it.
func (c *Cache) Set(key string, e *Entry, ttl time.Duration) bool {
	s := c.prepare(e, ttl)
	if s == nil {
		return false
	}
	ok := c.setL1(key, s, true)
	c.setL2(key, s)
	return ok
}

// prepare makes the copy that is stored, or nil when e is not storable.
func (c *Cache) prepare(e *Entry, ttl time.Duration) *Entry {
	if e == nil || ttl <= 0 {
		return nil
	}
	s := *e
	s.TTL = ttl
	if s.Stored.IsZero() {
		s.Stored = c.clock()
	}
	return &s
}

// setL1 stores an already prepared entry (with its own Stored and TTL) in L1;
// with wait it also waits until ristretto applied the write.
func (c *Cache) setL1(key string, e *Entry, wait bool) bool {
	if c.closed.Load() {
		return false
	}
	cost := Cost(key, e)
	if cost > c.maxBytes.Load() {
		return false
	}
	expires := e.Expires()
	remaining := expires.Sub(c.clock())
	if remaining <= 0 {
		return false
	}
	// ristretto's TTL (wall clock) reclaims the memory of expired entries
	// and, with the default clock, is the freshness check of get.
	ok := c.rc.SetWithTTL(key, &item{key: key, entry: e, expires: expires}, cost, remaining)
	if ok && wait {
		c.rc.Wait()
	}
	return ok
}

// Delete removes key from L1 and, when configured, L2 (invalidation).
func (c *Cache) Delete(key string) {
	if !c.closed.Load() {
		c.rc.Del(key)
		c.rc.Wait()
	}
	if c.l2Usable() {
		ctx, cancel := context.WithTimeout(context.Background(), c.l2Timeout)
		err := c.l2.Delete(ctx, key)
		cancel()
		c.l2Failed("delete", err, nil)
	}
}

// Stats is a snapshot of the cache counters.
type Stats struct {
	// Hits counts Get and Lookup calls answered from the cache (L1, or L2
	// read by that Lookup itself).
	Hits uint64
	// Misses counts Get calls that found no fresh entry and Lookup calls
	// that became a leader or a waiter.
	Misses uint64
	// Coalesced counts Lookup calls answered with another caller's result
	// (a leader's Fill.Done or an L2 read) instead of going upstream.
	Coalesced uint64
	// Fills counts Fill handles issued, i.e. upstream fetches started.
	Fills uint64
	// Abandoned counts Fills that ended without a cacheable Done: Abandon,
	// Done with nothing to store, leader ctx ended, FillTimeout.
	Abandoned uint64
	// Evictions counts entries removed by the size bound or by TTL cleanup
	// (not by Delete).
	Evictions uint64
	// L2Hits counts Lookups answered from L2 (included in Hits).
	L2Hits uint64
	// L2Errors counts failed L2 operations (each degraded to L1-only).
	L2Errors uint64
	// Bytes is the L1 cost in use (<= MaxBytes once writes are applied).
	Bytes int64
	// Entries is the number of entries in L1, expired ones included until
	// they are reclaimed.
	Entries int64
}

// Stats returns the current counters.
func (c *Cache) Stats() Stats {
	s := Stats{
		Hits:      c.hits.load(),
		Misses:    c.misses.load(),
		Coalesced: c.coalesced.Load(),
		Fills:     c.fills.Load(),
		Abandoned: c.abandoned.Load(),
		Evictions: c.evictions.Load(),
		L2Hits:    c.l2Hits.Load(),
		L2Errors:  c.l2Errors.Load(),
	}
	if !c.closed.Load() {
		s.Bytes = c.rc.MaxCost() - c.rc.RemainingCost()
		if m := c.rc.Metrics; m != nil {
			s.Entries = int64(m.KeysAdded() - m.KeysEvicted())
		}
	}
	return s
}

// stripedCounter is a counter for the hit path that does not make all cores
// fight over one cache line.
type stripedCounter struct {
	stripes [16]struct {
		n atomic.Uint64
		_ [56]byte
	}
}

func (s *stripedCounter) add(n uint64) {
	s.stripes[rand.Uint32()&15].n.Add(n)
}

func (s *stripedCounter) load() uint64 {
	var t uint64
	for i := range s.stripes {
		t += s.stripes[i].n.Load()
	}
	return t
}
