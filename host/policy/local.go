package policy

import (
	"context"
	"hash/maphash"
	"strings"
	"sync"
	"time"
)

const (
	numShards = 64 // a power of two
	// minSweep is the map size under which a shard never sweeps.
	minSweep = 128
	// sweepEvery is the age of the last sweep after which an insert sweeps
	// regardless of growth, so that the memory of a past spike of keys is
	// returned.
	sweepEvery = int64(10 * time.Second)
)

// Local implements Limiter and Quotas in process memory. It is safe for
// concurrent use; see the package documentation for sharding and eviction.
type Local struct {
	clock  Clock
	epoch  time.Time // bucket times are nanoseconds since epoch (monotonic with SystemClock)
	seed   maphash.Seed
	shards [numShards]shard
}

type shard struct {
	mu sync.Mutex

	buckets  map[string]*bucket // values are pointers so that updates never rewrite the key
	bucketGC sweepState
	quotas   map[quotaKey]*quotaEntry
	quotaGC  sweepState
	_        [64]byte // keep neighbouring shards' mutexes on different cache lines
}

// sweepState decides when a shard's map is swept.
type sweepState struct {
	at   int   // sweep when the map reaches this size
	last int64 // time of the last sweep (ns, the map's own time base)
	peak int   // largest size since the map was allocated
}

// due reports whether an insert into a map of size n at time now should
// sweep first.
func (g *sweepState) due(n int, now int64) bool {
	return n >= g.at || (n > minSweep && now-g.last >= sweepEvery)
}

// swept records a sweep that took the map from before to after entries and
// reports whether the map should be reallocated (Go maps never shrink).
func (g *sweepState) swept(before, after int, now int64) (realloc bool) {
	g.peak = max(g.peak, before)
	g.last = now
	g.at = max(2*after, minSweep)
	if g.peak >= 4*minSweep && after < g.peak/4 {
		g.peak = after
		return true
	}
	return false
}

type bucket struct {
	tat int64 // theoretical arrival time, ns since Local.epoch
}

type quotaKey struct {
	period Period
	key    string
}

type quotaEntry struct {
	start, end int64 // the counted period, Unix ns
	used       int64
}

var (
	_ Limiter = (*Local)(nil)
	_ Quotas  = (*Local)(nil)
)

// NewLocal returns an empty in-memory Limiter and Quotas. A nil clock means
// SystemClock.
func NewLocal(clock Clock) *Local {
	if clock == nil {
		clock = SystemClock{}
	}
	l := &Local{clock: clock, epoch: clock.Now(), seed: maphash.MakeSeed()}
	for i := range l.shards {
		s := &l.shards[i]
		s.buckets = make(map[string]*bucket)
		s.quotas = make(map[quotaKey]*quotaEntry)
		s.bucketGC = sweepState{at: minSweep, last: 0}
		s.quotaGC = sweepState{at: minSweep, last: l.epoch.UnixNano()}
	}
	return l
}

func (l *Local) shard(key string) *shard {
	return &l.shards[maphash.String(l.seed, key)&(numShards-1)]
}

// Take implements Limiter. It never returns an error other than for invalid
// arguments, and ignores ctx.
func (l *Local) Take(_ context.Context, key string, rate float64, burst, cost int) (Decision, error) {
	interval, tolerance, err := gcraParams(rate, burst, cost)
	if err != nil {
		return Decision{}, err
	}
	now := int64(l.clock.Now().Sub(l.epoch))

	s := l.shard(key)
	s.mu.Lock()
	b := s.buckets[key]
	var d int64
	if b != nil {
		d = max(b.tat-now, 0)
	}
	allowed, d, retry := gcra(d, interval, tolerance, burst, cost)
	if allowed && cost > 0 {
		if b != nil {
			b.tat = now + d
		} else {
			s.insertBucket(key, now+d, now)
		}
	}
	s.mu.Unlock()

	return Decision{
		Allowed:    allowed,
		Limit:      burst,
		Remaining:  remaining(d, interval, tolerance),
		RetryAfter: time.Duration(retry),
		ResetAfter: time.Duration(d),
	}, nil
}

// insertBucket adds a bucket, sweeping full buckets first when the map has
// doubled since the last sweep or that sweep is old. The key is cloned: the
// caller's string may alias memory it reuses (a guest's linear memory).
func (s *shard) insertBucket(key string, tat, now int64) {
	if s.bucketGC.due(len(s.buckets), now) {
		s.sweepBuckets(now)
	}
	s.buckets[strings.Clone(key)] = &bucket{tat: tat}
}

func (s *shard) sweepBuckets(now int64) {
	before := len(s.buckets)
	for k, b := range s.buckets {
		if b.tat <= now { // full: the same as absent
			delete(s.buckets, k)
		}
	}
	if s.bucketGC.swept(before, len(s.buckets), now) {
		m := make(map[string]*bucket, 2*len(s.buckets))
		for k, b := range s.buckets {
			m[k] = b
		}
		s.buckets = m
	}
}

// Use implements Quotas. It never returns an error other than for invalid
// arguments, and ignores ctx.
func (l *Local) Use(_ context.Context, key string, period Period, limit, n int64) (QuotaDecision, error) {
	if err := validateQuota(period, limit, n); err != nil {
		return QuotaDecision{}, err
	}
	now := l.clock.Now()
	start, end := periodBounds(period, now)
	startNs, endNs := start.UnixNano(), end.UnixNano()

	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.quotas[quotaKey{period, key}]
	var used int64
	if e != nil && e.start == startNs {
		used = e.used
	}
	if used+n > limit {
		return quotaDecision(false, limit, used, end), nil
	}
	used += n
	if n > 0 {
		switch {
		case e == nil:
			if s.quotaGC.due(len(s.quotas), now.UnixNano()) {
				s.sweepQuotas(now.UnixNano())
			}
			s.quotas[quotaKey{period, strings.Clone(key)}] = &quotaEntry{start: startNs, end: endNs, used: used}
		default:
			e.start, e.end, e.used = startNs, endNs, used
		}
	}
	return quotaDecision(true, limit, used, end), nil
}

func (s *shard) sweepQuotas(now int64) {
	before := len(s.quotas)
	for k, e := range s.quotas {
		if e.end <= now { // its period is over: never read again
			delete(s.quotas, k)
		}
	}
	if s.quotaGC.swept(before, len(s.quotas), now) {
		m := make(map[quotaKey]*quotaEntry, 2*len(s.quotas))
		for k, e := range s.quotas {
			m[k] = e
		}
		s.quotas = m
	}
}
