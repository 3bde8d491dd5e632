package policy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Clock is injectable for tests (quota periods, refill).
type Clock interface{ Now() time.Time }

// SystemClock is the real clock. It is what NewLocal and NewRedis use when
// given a nil Clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Decision is the outcome of taking tokens.
type Decision struct {
	Allowed    bool
	Limit      int           // the burst
	Remaining  int           // tokens left after this take (floor), >= 0
	RetryAfter time.Duration // when denied: until the take would succeed (0 if it never can: cost > burst)
	ResetAfter time.Duration // until the bucket is full again
}

// Limiter is a set of token buckets keyed by any string a plugin chooses.
type Limiter interface {
	// Take takes cost tokens from bucket key, which refills at rate tokens
	// per second up to burst. A bucket that was never used is full.
	//
	// cost 0 is a peek: it takes nothing and reports the bucket; it is allowed
	// unless the bucket is overdrawn beyond its burst, which only happens
	// after a clock step (or, in Redis, against a node whose clock is ahead).
	// cost > burst can never succeed: it is denied, takes nothing, and has
	// RetryAfter 0 (compare cost with Decision.Limit to tell it apart).
	// Invalid arguments return an error wrapping ErrInvalidArgument; see the
	// package documentation for the ranges.
	Take(ctx context.Context, key string, rate float64, burst, cost int) (Decision, error)
}

// Period is a quota period. All periods are calendar periods in UTC.
type Period string

// The quota periods.
const (
	Day   Period = "day"   // 00:00 UTC to the next 00:00 UTC
	Week  Period = "week"  // ISO weeks, starting Monday 00:00 UTC
	Month Period = "month" // calendar month, from the 1st 00:00 UTC
)

// QuotaDecision is the outcome of a quota use.
type QuotaDecision struct {
	Allowed   bool
	Limit     int64
	Used      int64     // after this use (unchanged when denied)
	Remaining int64     // Limit - Used, >= 0
	ResetAt   time.Time // end of the current period (UTC), when Used returns to 0
}

// Quotas counts usage per key and calendar period.
type Quotas interface {
	// Use adds n to key's counter for the period containing Now(); a use that
	// would go over limit is denied and not counted. n 0 is a peek.
	// Invalid arguments return an error wrapping ErrInvalidArgument.
	Use(ctx context.Context, key string, period Period, limit, n int64) (QuotaDecision, error)
}

// ErrInvalidArgument is wrapped by the errors returned for invalid arguments
// (a plugin bug, as opposed to a backend failure).
var ErrInvalidArgument = errors.New("invalid argument")

const (
	// MaxRate is the largest rate in tokens per second (one token per
	// nanosecond).
	MaxRate = 1e9
	// MaxWindow is the largest refill window burst/rate, the time an empty
	// bucket takes to become full. It keeps all the GCRA arithmetic exact in
	// Redis's Lua (doubles). Longer windows are what Quotas are for.
	MaxWindow = 30 * 24 * time.Hour
	// MaxQuota is the largest quota limit and use (2^52), again so that the
	// arithmetic in Lua is exact.
	MaxQuota = int64(1) << 52
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("policy: "+format+": %w", append(args, ErrInvalidArgument)...)
}

// gcraParams validates Take's arguments and returns the emission interval T
// and the tolerance τ = burst·T, in nanoseconds.
func gcraParams(rate float64, burst, cost int) (interval, tolerance int64, err error) {
	if math.IsNaN(rate) || math.IsInf(rate, 0) || rate <= 0 {
		return 0, 0, invalid("rate must be a finite number > 0 tokens per second, got %v", rate)
	}
	if rate > MaxRate {
		return 0, 0, invalid("rate %v exceeds the maximum of %g tokens per second", rate, float64(MaxRate))
	}
	if burst < 1 {
		return 0, 0, invalid("burst must be >= 1, got %d", burst)
	}
	if cost < 0 {
		return 0, 0, invalid("cost must be >= 0 (0 peeks), got %d", cost)
	}
	t := math.Round(float64(time.Second) / rate)
	if t < 1 {
		t = 1
	}
	if t*float64(burst) > float64(MaxWindow) {
		return 0, 0, invalid("burst/rate = %d/%v is a refill window of %.6gs, more than the maximum %v (use a quota)",
			burst, rate, t*float64(burst)/float64(time.Second), MaxWindow)
	}
	interval = int64(t)
	return interval, interval * int64(burst), nil
}

// gcra decides a take. d = max(TAT-now, 0) is the current debt in
// nanoseconds. It returns whether the take is allowed, the debt afterwards and,
// when denied, the retry delay. The Lua script in redis.go is a line-by-line
// transcription; keep them in step.
func gcra(d, interval, tolerance int64, burst, cost int) (allowed bool, debt, retry int64) {
	if cost > burst {
		return false, d, 0
	}
	nd := d + int64(cost)*interval
	if nd <= tolerance {
		return true, nd, 0
	}
	return false, d, nd - tolerance
}

// remaining is floor((τ-d)/T), clamped at 0 (d can exceed τ after a clock
// step or when another node's clock is ahead).
func remaining(d, interval, tolerance int64) int {
	if d >= tolerance {
		return 0
	}
	return int((tolerance - d) / interval)
}

// validateQuota validates Use's arguments.
func validateQuota(period Period, limit, n int64) error {
	switch period {
	case Day, Week, Month:
	default:
		return invalid("period must be %q, %q or %q, got %q", Day, Week, Month, string(period))
	}
	if limit < 0 || limit > MaxQuota {
		return invalid("quota limit must be between 0 and %d, got %d", MaxQuota, limit)
	}
	if n < 0 || n > MaxQuota {
		return invalid("quota use must be between 0 (peek) and %d, got %d", MaxQuota, n)
	}
	return nil
}

// periodBounds returns the UTC period containing t: [start, end).
func periodBounds(p Period, t time.Time) (start, end time.Time) {
	t = t.UTC()
	y, m, d := t.Date()
	switch p {
	case Day:
		start = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		end = start.AddDate(0, 0, 1)
	case Week:
		sinceMonday := (int(t.Weekday()) + 6) % 7
		start = time.Date(y, m, d-sinceMonday, 0, 0, 0, 0, time.UTC)
		end = start.AddDate(0, 0, 7)
	case Month:
		start = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		end = start.AddDate(0, 1, 0)
	}
	return start, end
}

func quotaDecision(allowed bool, limit, used int64, end time.Time) QuotaDecision {
	return QuotaDecision{
		Allowed:   allowed,
		Limit:     limit,
		Used:      used,
		Remaining: max(limit-used, 0),
		ResetAt:   end,
	}
}
