package policy

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable Clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recordingClock is the system clock, remembering the earliest and latest
// time it returned.
type recordingClock struct {
	min, max atomic.Int64 // Unix ns; 0 = unset
	base     time.Time
}

func newRecordingClock() *recordingClock { return &recordingClock{base: time.Now()} }

func (c *recordingClock) Now() time.Time {
	now := time.Now()
	ns := now.UnixNano()
	for {
		cur := c.min.Load()
		if (cur != 0 && cur <= ns) || c.min.CompareAndSwap(cur, ns) {
			break
		}
	}
	for {
		cur := c.max.Load()
		if cur >= ns || c.max.CompareAndSwap(cur, ns) {
			break
		}
	}
	return now
}

func (c *recordingClock) span() time.Duration { return time.Duration(c.max.Load() - c.min.Load()) }

// backend is what both implementations provide.
type backend interface {
	Limiter
	Quotas
}

// newBackendFunc returns a fresh, empty backend using clock.
type newBackendFunc func(t *testing.T, clock Clock) backend

var t0 = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

const ms = time.Millisecond

// takeStep is one step of a bucket scenario: advance the clock, then take.
type takeStep struct {
	advance time.Duration
	key     string // default "k"
	cost    int
	want    Decision // Limit is filled in from the scenario
}

type takeScenario struct {
	name  string
	rate  float64
	burst int
	steps []takeStep
}

func allow(rem int, reset time.Duration) Decision {
	return Decision{Allowed: true, Remaining: rem, ResetAfter: reset}
}

func deny(rem int, retry, reset time.Duration) Decision {
	return Decision{Allowed: false, Remaining: rem, RetryAfter: retry, ResetAfter: reset}
}

var takeScenarios = []takeScenario{
	{
		name: "burst then rate", rate: 10, burst: 5,
		steps: []takeStep{
			{cost: 1, want: allow(4, 100*ms)},
			{cost: 1, want: allow(3, 200*ms)},
			{cost: 1, want: allow(2, 300*ms)},
			{cost: 1, want: allow(1, 400*ms)},
			{cost: 1, want: allow(0, 500*ms)},
			{cost: 1, want: deny(0, 100*ms, 500*ms)},
			{advance: 50 * ms, cost: 1, want: deny(0, 50*ms, 450*ms)},
			{advance: 49 * ms, cost: 1, want: deny(0, 1*ms, 401*ms)},
			{advance: 1 * ms, cost: 1, want: allow(0, 500*ms)},
			{cost: 1, want: deny(0, 100*ms, 500*ms)},
			{advance: 100 * ms, cost: 1, want: allow(0, 500*ms)},
			{advance: 100 * ms, cost: 1, want: allow(0, 500*ms)},
			{advance: 1 * time.Nanosecond, cost: 1, want: deny(0, 100*ms-1, 500*ms-1)},
		},
	},
	{
		name: "partial and full refill", rate: 10, burst: 5,
		steps: []takeStep{
			{cost: 5, want: allow(0, 500*ms)},
			{advance: 250 * ms, cost: 0, want: allow(2, 250*ms)},
			{advance: 49 * ms, cost: 0, want: allow(2, 201*ms)},
			{advance: 1 * ms, cost: 0, want: allow(3, 200*ms)},
			{cost: 3, want: allow(0, 500*ms)},
			{advance: time.Hour, cost: 0, want: allow(5, 0)},
			{cost: 1, want: allow(4, 100*ms)},
		},
	},
	{
		name: "cost greater than one", rate: 10, burst: 5,
		steps: []takeStep{
			{cost: 3, want: allow(2, 300*ms)},
			{cost: 3, want: deny(2, 100*ms, 300*ms)},
			{cost: 2, want: allow(0, 500*ms)},
			{advance: 250 * ms, cost: 3, want: deny(2, 50*ms, 250*ms)},
			{advance: 50 * ms, cost: 3, want: allow(0, 500*ms)},
		},
	},
	{
		name: "cost greater than burst is denied and takes nothing", rate: 10, burst: 5,
		steps: []takeStep{
			{cost: 6, want: deny(5, 0, 0)},
			{cost: 2, want: allow(3, 200*ms)},
			{cost: 6, want: deny(3, 0, 200*ms)},
			{cost: 3, want: allow(0, 500*ms)},
		},
	},
	{
		name: "peek does not take", rate: 10, burst: 5,
		steps: []takeStep{
			{cost: 0, want: allow(5, 0)},
			{cost: 5, want: allow(0, 500*ms)},
			{cost: 0, want: allow(0, 500*ms)},
			{cost: 0, want: allow(0, 500*ms)},
			{cost: 1, want: deny(0, 100*ms, 500*ms)},
		},
	},
	{
		name: "independent keys", rate: 10, burst: 2,
		steps: []takeStep{
			{key: "a", cost: 2, want: allow(0, 200*ms)},
			{key: "a", cost: 1, want: deny(0, 100*ms, 200*ms)},
			{key: "b", cost: 1, want: allow(1, 100*ms)},
			{key: "a:b", cost: 0, want: allow(2, 0)},
			{key: "", cost: 1, want: allow(1, 100*ms)},
			{advance: 100 * ms, key: "a", cost: 1, want: allow(0, 200*ms)},
			{key: "b", cost: 1, want: allow(1, 100*ms)},
		},
	},
	{
		name: "burst one", rate: 1000, burst: 1,
		steps: []takeStep{
			{cost: 1, want: allow(0, 1*ms)},
			{cost: 1, want: deny(0, 1*ms, 1*ms)},
			{advance: 999 * time.Microsecond, cost: 1, want: deny(0, 1*time.Microsecond, 1*time.Microsecond)},
			{advance: 1 * time.Microsecond, cost: 1, want: allow(0, 1*ms)},
		},
	},
	{
		name: "slow rate", rate: 0.5, burst: 3,
		steps: []takeStep{
			{cost: 3, want: allow(0, 6*time.Second)},
			{advance: 1999 * ms, cost: 1, want: deny(0, 1*ms, 4001*ms)},
			{advance: 1 * ms, cost: 1, want: allow(0, 6*time.Second)},
		},
	},
	{
		// T = round(1e9/3) = 333333333 ns.
		name: "fractional interval", rate: 3, burst: 2,
		steps: []takeStep{
			{cost: 1, want: allow(1, 333333333)},
			{cost: 1, want: allow(0, 666666666)},
			{cost: 1, want: deny(0, 333333333, 666666666)},
			{advance: 333333332, cost: 1, want: deny(0, 1, 333333334)},
			{advance: 1, cost: 1, want: allow(0, 666666666)},
		},
	},
	{
		// A node (or a Local after a wall-clock step) whose clock is behind
		// the TAT by more than the window sees an empty bucket.
		name: "clock behind the stored TAT", rate: 10, burst: 5,
		steps: []takeStep{
			{cost: 5, want: allow(0, 500*ms)},
			{advance: -time.Second, cost: 0, want: deny(0, 1000*ms, 1500*ms)},
			{cost: 1, want: deny(0, 1100*ms, 1500*ms)},
			{advance: 1100 * ms, cost: 1, want: allow(0, 500*ms)},
		},
	},
	{
		name: "large rate and burst (AWS account default)", rate: 10000, burst: 5000,
		steps: []takeStep{
			{cost: 4999, want: allow(1, 4999*100*time.Microsecond)},
			{cost: 2, want: deny(1, 100*time.Microsecond, 4999*100*time.Microsecond)},
			{advance: 250 * time.Microsecond, cost: 3, want: allow(0, 500*ms-50*time.Microsecond)},
		},
	},
}

// quotaCase: a period containing at, which must be [start, end), followed by
// a period ending at nextEnd.
type quotaCase struct {
	name       string
	period     Period
	at         time.Time
	start, end time.Time
	nextEnd    time.Time
}

func utc(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

var quotaCases = []quotaCase{
	{"day", Day, time.Date(2026, 3, 14, 15, 9, 26, 5, time.UTC), utc(2026, 3, 14), utc(2026, 3, 15), utc(2026, 3, 16)},
	{"day at year end", Day, time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), utc(2026, 12, 31), utc(2027, 1, 1), utc(2027, 1, 2)},
	{"day in a non-UTC zone", Day, time.Date(2026, 3, 14, 20, 0, 0, 0, time.FixedZone("PST", -8*3600)), utc(2026, 3, 15), utc(2026, 3, 16), utc(2026, 3, 17)},
	{"day 29 February", Day, time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC), utc(2024, 2, 29), utc(2024, 3, 1), utc(2024, 3, 2)},
	{"week from a Saturday", Week, time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC), utc(2026, 3, 9), utc(2026, 3, 16), utc(2026, 3, 23)},
	{"week from a Sunday night", Week, time.Date(2026, 3, 15, 23, 59, 59, 0, time.UTC), utc(2026, 3, 9), utc(2026, 3, 16), utc(2026, 3, 23)},
	{"week from a Monday midnight", Week, utc(2026, 3, 16), utc(2026, 3, 16), utc(2026, 3, 23), utc(2026, 3, 30)},
	{"week across a year end", Week, time.Date(2025, 12, 31, 10, 0, 0, 0, time.UTC), utc(2025, 12, 29), utc(2026, 1, 5), utc(2026, 1, 12)},
	{"month of 31 days", Month, time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC), utc(2026, 1, 1), utc(2026, 2, 1), utc(2026, 3, 1)},
	{"month of 28 days", Month, time.Date(2026, 2, 14, 0, 0, 0, 0, time.UTC), utc(2026, 2, 1), utc(2026, 3, 1), utc(2026, 4, 1)},
	{"month of 29 days (leap year)", Month, time.Date(2024, 2, 29, 18, 0, 0, 0, time.UTC), utc(2024, 2, 1), utc(2024, 3, 1), utc(2024, 4, 1)},
	{"month of 30 days", Month, time.Date(2026, 4, 30, 12, 0, 0, 0, time.UTC), utc(2026, 4, 1), utc(2026, 5, 1), utc(2026, 6, 1)},
	{"month at year end", Month, time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC), utc(2026, 12, 1), utc(2027, 1, 1), utc(2027, 2, 1)},
}

func TestPeriodBounds(t *testing.T) {
	for _, c := range quotaCases {
		t.Run(c.name, func(t *testing.T) {
			for _, at := range []time.Time{c.at, c.start, c.end.Add(-1)} {
				start, end := periodBounds(c.period, at)
				if !start.Equal(c.start) || !end.Equal(c.end) {
					t.Errorf("periodBounds(%s, %v) = [%v, %v), want [%v, %v)", c.period, at, start, end, c.start, c.end)
				}
			}
			if start, _ := periodBounds(c.period, c.end); !start.Equal(c.end) {
				t.Errorf("periodBounds(%s, %v) starts %v, want %v", c.period, c.end, start, c.end)
			}
		})
	}
}

type useStep struct {
	at    time.Time
	limit int64
	n     int64
	want  QuotaDecision
}

func testConformance(t *testing.T, newBackend newBackendFunc) {
	ctx := context.Background()

	t.Run("Take", func(t *testing.T) {
		for _, sc := range takeScenarios {
			t.Run(sc.name, func(t *testing.T) {
				clock := newFakeClock(t0)
				b := newBackend(t, clock)
				for i, st := range sc.steps {
					clock.Advance(st.advance)
					key := st.key
					if key == "" && !strings.Contains(sc.name, "independent") {
						key = "k"
					}
					got, err := b.Take(ctx, key, sc.rate, sc.burst, st.cost)
					if err != nil {
						t.Fatalf("step %d: Take: %v", i, err)
					}
					want := st.want
					want.Limit = sc.burst
					if got != want {
						t.Fatalf("step %d (advance %v, key %q, cost %d):\n got %+v\nwant %+v", i, st.advance, key, st.cost, got, want)
					}
				}
			})
		}
	})

	t.Run("TakeRateOverTime", func(t *testing.T) {
		// 10 rps, burst 5: exactly 5 immediately, then exactly one per 100 ms.
		clock := newFakeClock(t0)
		b := newBackend(t, clock)
		take := func() bool {
			d, err := b.Take(ctx, "k", 10, 5, 1)
			if err != nil {
				t.Fatal(err)
			}
			return d.Allowed
		}
		n := 0
		for take() {
			n++
			if n > 100 {
				t.Fatal("never denied")
			}
		}
		if n != 5 {
			t.Fatalf("allowed %d immediately, want 5", n)
		}
		for tick := range 50 {
			clock.Advance(100 * ms)
			n = 0
			for take() {
				n++
				if n > 100 {
					t.Fatal("never denied")
				}
			}
			if n != 1 {
				t.Fatalf("tick %d: allowed %d, want 1", tick, n)
			}
		}
		// Ten ticks of 10 ms make one token, never more.
		total := 0
		for range 100 {
			clock.Advance(10 * ms)
			if take() {
				total++
			}
		}
		if total != 10 {
			t.Fatalf("allowed %d in 1 s of 10 ms ticks, want 10", total)
		}
	})

	t.Run("Quota", func(t *testing.T) {
		for _, c := range quotaCases {
			t.Run(c.name, func(t *testing.T) {
				clock := newFakeClock(c.at)
				b := newBackend(t, clock)
				q := func(used, limit int64, end time.Time) QuotaDecision {
					return QuotaDecision{Limit: limit, Used: used, Remaining: limit - used, ResetAt: end}
				}
				ok := func(d QuotaDecision) QuotaDecision { d.Allowed = true; return d }
				steps := []useStep{
					{at: c.start, limit: 3, n: 2, want: ok(q(2, 3, c.end))},
					{at: c.at, limit: 3, n: 2, want: q(2, 3, c.end)}, // denied, not counted
					{at: c.at, limit: 3, n: 0, want: ok(q(2, 3, c.end))},
					{at: c.end.Add(-1), limit: 3, n: 1, want: ok(q(3, 3, c.end))},
					{at: c.end.Add(-1), limit: 3, n: 1, want: q(3, 3, c.end)},
					// Exactly at the boundary: a new period.
					{at: c.end, limit: 3, n: 1, want: ok(q(1, 3, c.nextEnd))},
					{at: c.end, limit: 3, n: 3, want: q(1, 3, c.nextEnd)},
					{at: c.nextEnd.Add(-1), limit: 3, n: 2, want: ok(q(3, 3, c.nextEnd))},
					// A raised limit applies at once.
					{at: c.nextEnd.Add(-1), limit: 5, n: 2, want: ok(q(5, 5, c.nextEnd))},
					// A lowered limit below the usage: denied, Remaining 0.
					{at: c.nextEnd.Add(-1), limit: 4, n: 1, want: QuotaDecision{Limit: 4, Used: 5, Remaining: 0, ResetAt: c.nextEnd}},
				}
				for i, st := range steps {
					clock.Set(st.at)
					got, err := b.Use(ctx, "key", c.period, st.limit, st.n)
					if err != nil {
						t.Fatalf("step %d: Use: %v", i, err)
					}
					if got.Allowed != st.want.Allowed || got.Limit != st.want.Limit || got.Used != st.want.Used ||
						got.Remaining != st.want.Remaining || !got.ResetAt.Equal(st.want.ResetAt) {
						t.Fatalf("step %d (at %v, limit %d, n %d):\n got %+v\nwant %+v", i, st.at, st.limit, st.n, got, st.want)
					}
					if got.ResetAt.Location() != time.UTC {
						t.Fatalf("step %d: ResetAt %v is not in UTC", i, got.ResetAt)
					}
				}
			})
		}
	})

	t.Run("QuotaKeysAndPeriodsIndependent", func(t *testing.T) {
		clock := newFakeClock(t0)
		b := newBackend(t, clock)
		use := func(key string, p Period, n int64) QuotaDecision {
			d, err := b.Use(ctx, key, p, 10, n)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		use("a", Day, 10)
		if d := use("a", Day, 1); d.Allowed || d.Used != 10 {
			t.Fatalf("a/day: %+v, want denied at 10", d)
		}
		if d := use("a", Week, 4); !d.Allowed || d.Used != 4 {
			t.Fatalf("a/week: %+v, want allowed at 4", d)
		}
		if d := use("a", Month, 1); !d.Allowed || d.Used != 1 {
			t.Fatalf("a/month: %+v, want allowed at 1", d)
		}
		if d := use("b", Day, 1); !d.Allowed || d.Used != 1 {
			t.Fatalf("b/day: %+v, want allowed at 1", d)
		}
		if d := use("a", Week, 0); !d.Allowed || d.Used != 4 {
			t.Fatalf("a/week peek: %+v, want 4", d)
		}
	})

	t.Run("QuotaLimitZero", func(t *testing.T) {
		b := newBackend(t, newFakeClock(t0))
		d, err := b.Use(ctx, "k", Day, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed || d.Used != 0 || d.Remaining != 0 {
			t.Fatalf("got %+v, want denied with nothing used", d)
		}
		if d, _ := b.Use(ctx, "k", Day, 0, 0); !d.Allowed {
			t.Fatalf("peek at limit 0: %+v, want allowed", d)
		}
	})

	t.Run("QuotaLarge", func(t *testing.T) {
		b := newBackend(t, newFakeClock(t0))
		d, err := b.Use(ctx, "k", Month, MaxQuota, MaxQuota-1)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allowed || d.Used != MaxQuota-1 || d.Remaining != 1 {
			t.Fatalf("got %+v", d)
		}
		if d, _ := b.Use(ctx, "k", Month, MaxQuota, 2); d.Allowed || d.Used != MaxQuota-1 {
			t.Fatalf("over by one: %+v, want denied", d)
		}
		if d, _ := b.Use(ctx, "k", Month, MaxQuota, 1); !d.Allowed || d.Used != MaxQuota || d.Remaining != 0 {
			t.Fatalf("exactly at the limit: %+v, want allowed", d)
		}
	})

	t.Run("Validation", func(t *testing.T) {
		b := newBackend(t, newFakeClock(t0))
		takes := []struct {
			name        string
			rate        float64
			burst, cost int
			msg         string
		}{
			{"zero rate", 0, 5, 1, "rate must be a finite number > 0"},
			{"negative rate", -1, 5, 1, "rate must be a finite number > 0"},
			{"NaN rate", math.NaN(), 5, 1, "rate must be a finite number > 0"},
			{"infinite rate", math.Inf(1), 5, 1, "rate must be a finite number > 0"},
			{"rate too high", 2e9, 5, 1, "exceeds the maximum"},
			{"zero burst", 10, 0, 1, "burst must be >= 1"},
			{"negative burst", 10, -3, 1, "burst must be >= 1"},
			{"negative cost", 10, 5, -1, "cost must be >= 0"},
			{"window too long", 1.0 / 86400, 31, 1, "refill window"},
			{"huge burst", 1, math.MaxInt, 1, "refill window"},
		}
		for _, c := range takes {
			t.Run("Take/"+c.name, func(t *testing.T) {
				_, err := b.Take(ctx, "k", c.rate, c.burst, c.cost)
				if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), c.msg) {
					t.Fatalf("Take(rate %v, burst %d, cost %d) error = %v, want ErrInvalidArgument containing %q", c.rate, c.burst, c.cost, err, c.msg)
				}
			})
		}
		// The limits themselves are accepted.
		for _, c := range []struct {
			rate  float64
			burst int
		}{{MaxRate, 1}, {MaxRate, 1000}, {1.0 / 86400, 30}, {1e-6, 1}, {1e-6, 2}} {
			if _, err := b.Take(ctx, "edge", c.rate, c.burst, 1); err != nil {
				t.Errorf("Take(rate %v, burst %d): %v", c.rate, c.burst, err)
			}
		}
		uses := []struct {
			name     string
			period   Period
			limit, n int64
			msg      string
		}{
			{"empty period", "", 10, 1, "period must be"},
			{"unknown period", "hour", 10, 1, "period must be"},
			{"capitalized period", "Day", 10, 1, "period must be"},
			{"negative limit", Day, -1, 1, "quota limit must be between"},
			{"limit too large", Day, MaxQuota + 1, 1, "quota limit must be between"},
			{"negative use", Day, 10, -1, "quota use must be between"},
			{"use too large", Day, 10, MaxQuota + 1, "quota use must be between"},
		}
		for _, c := range uses {
			t.Run("Use/"+c.name, func(t *testing.T) {
				_, err := b.Use(ctx, "k", c.period, c.limit, c.n)
				if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), c.msg) {
					t.Fatalf("Use(%q, %d, %d) error = %v, want ErrInvalidArgument containing %q", c.period, c.limit, c.n, err, c.msg)
				}
			})
		}
	})
}

// hammer runs 50 goroutines taking single tokens from one key (spread over
// the limiters, round robin) for about d, and checks that the number allowed
// equals burst + ⌊rate × (the span of the clock readings)⌋, ± 1.
func hammer(t *testing.T, clock *recordingClock, limiters []Limiter, key string, rate float64, burst int, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	var allowed atomic.Int64
	var failed atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range 50 {
		lim := limiters[i%len(limiters)]
		wg.Go(func() {
			for time.Now().Before(deadline) {
				dec, err := lim.Take(ctx, key, rate, burst, 1)
				if err != nil {
					failed.Store(err)
					return
				}
				if dec.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	span := clock.span()
	want := int64(burst) + int64(math.Floor(rate*span.Seconds()))
	got := allowed.Load()
	t.Logf("50 goroutines over %v: allowed %d, burst + ⌊rate×elapsed⌋ = %d", span, got, want)
	if got < want-1 || got > want+1 {
		t.Fatalf("allowed %d, want %d ± 1", got, want)
	}
}
