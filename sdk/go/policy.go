package sdk

import (
	"errors"
	"math"
	"runtime"
	"time"

	"github.com/wasmgate/wasmgate/abi"
)

// Policy primitives of wasmgate (import module "wasmgate"): token buckets
// and quotas shared by every instance of every plugin, and by every
// gateway of a cluster (Redis). A plugin using them runs only in
// wasmgate.

// Tokens is the outcome of TakeTokens.
type Tokens struct {
	// Allowed is true when the tokens were taken.
	Allowed bool
	// Remaining is what the bucket holds after the take.
	Remaining int
	// RetryAfter is, when denied, how long until the take would succeed.
	RetryAfter time.Duration
	// ResetAfter is how long until the bucket is full again.
	ResetAfter time.Duration
}

// TakeTokens takes cost tokens from the bucket named key, which refills at
// ratePerSecond up to burst (both fixed by whoever uses the key: use the
// same values everywhere for one key). A denied take is not an error;
// errors are ErrBadArgument (a rate, burst or cost out of range),
// ErrInternalFailure (the store failed: apply your fail-open or
// fail-closed policy) and ErrUnimplemented (not an HTTP request context,
// or a host without policies). Call it from an HTTP callback.
func TakeTokens(key string, ratePerSecond float64, burst, cost int) (Tokens, error) {
	if !(ratePerSecond > 0) || ratePerSecond*1000 > math.MaxInt64 || burst <= 0 || burst > math.MaxInt32 || cost <= 0 || cost > math.MaxInt32 {
		return Tokens{}, ErrBadArgument
	}
	rateMilli := int64(math.Round(ratePerSecond * 1000))
	if rateMilli == 0 {
		rateMilli = 1
	}
	// The package's return slots, not locals: a local whose address goes
	// to the host is allocated on the heap (see memory.go).
	st := wasmgateTokenBucketTake(key, rateMilli, uint32(burst), uint32(cost), &retPtr, &retSize, &retExtra)
	runtime.KeepAlive(key)
	remaining, retryMs, resetMs := retPtr, retSize, retExtra
	t := Tokens{
		Remaining:  int(remaining),
		RetryAfter: time.Duration(retryMs) * time.Millisecond,
		ResetAfter: time.Duration(resetMs) * time.Millisecond,
	}
	switch err := statusErr(abi.ExtModule+"."+abi.ExtTokenBucketTake, st); {
	case err == nil:
		t.Allowed = true
		return t, nil
	case errors.Is(err, ErrEmpty):
		return t, nil
	default:
		return Tokens{}, err
	}
}

// QuotaPeriod is the period of a quota.
type QuotaPeriod uint32

// Quota periods: UTC calendar days, weeks (from Monday) and months.
const (
	QuotaDay   = QuotaPeriod(abi.QuotaDay)
	QuotaWeek  = QuotaPeriod(abi.QuotaWeek)
	QuotaMonth = QuotaPeriod(abi.QuotaMonth)
)

// Quota is the outcome of UseQuota.
type Quota struct {
	// Allowed is true when n was counted within the limit.
	Allowed bool
	// Remaining is what is left in the period.
	Remaining int64
	// ResetAt is when the period ends.
	ResetAt time.Time
}

// UseQuota adds n to key's counter for the current period; over limit it
// is denied and nothing is counted. Errors as for TakeTokens.
func UseQuota(key string, period QuotaPeriod, limit, n int64) (Quota, error) {
	if limit <= 0 || n <= 0 {
		return Quota{}, ErrBadArgument
	}
	st := wasmgateQuotaUse(key, uint32(period), limit, n, &retU64, &retU64b) // see TakeTokens
	runtime.KeepAlive(key)
	remaining, resetMs := retU64, retU64b
	q := Quota{Remaining: int64(remaining), ResetAt: time.UnixMilli(int64(resetMs)).UTC()}
	switch err := statusErr(abi.ExtModule+"."+abi.ExtQuotaUse, st); {
	case err == nil:
		q.Allowed = true
		return q, nil
	case errors.Is(err, ErrEmpty):
		return q, nil
	default:
		return Quota{}, err
	}
}
