// Package policy provides the shared primitives that policy plugins call
// through the `wasmgate` import namespace: token buckets (Limiter) and usage
// quotas (Quotas). Both are keyed by any string a plugin chooses (an API key,
// "stage:GET /pets", a client IP, ...).
//
// Two implementations share one contract and one conformance test suite:
//
//   - Local keeps everything in process memory. It is the default for a single
//     gateway process.
//   - Redis keeps everything in Redis, updated atomically by one Lua script per
//     operation, so that any number of gateway processes enforce one limit.
//
// # Token buckets (GCRA)
//
// Limiter implements the generic cell rate algorithm. A bucket with rate r
// tokens per second and capacity burst b is stored as a single number, its
// theoretical arrival time (TAT): the instant at which the bucket will be full
// again. The emission interval T = 1s/r is the time one token takes to refill
// (rounded to a whole nanosecond) and the tolerance τ = b·T is the time an empty
// bucket takes to refill. With d = max(TAT-now, 0), taking c tokens is allowed
// when d + c·T <= τ, and then TAT becomes now + d + c·T. Nothing else is
// stored, there is no background refill, and a missing bucket is a full one.
// All arithmetic is done on integer nanoseconds, in Go and in Lua alike, so the
// two implementations return identical decisions.
//
// Decision fields follow from d: Remaining = floor((τ-d)/T) (clamped at 0),
// ResetAfter = d (time until the bucket is full), and when denied RetryAfter =
// d + c·T - τ (the wait after which the same take succeeds).
//
// Cost semantics: cost 0 is a peek (reports the bucket without changing it;
// allowed unless a clock step left the bucket overdrawn); a cost greater than burst can never succeed and is denied with
// RetryAfter 0 and nothing taken, so callers that need to tell "too big" from
// "try later" compare cost with Decision.Limit.
//
// Arguments are validated: rate must be finite, > 0 and at most 1e9 tokens per
// second; burst >= 1; cost >= 0; and the refill window burst/rate must be at
// most MaxWindow (30 days; use Quotas for longer periods). Invalid arguments
// return an error wrapping ErrInvalidArgument.
//
// # Quotas
//
// Quotas counts usage per key over calendar periods in UTC: "day", "week" (ISO
// weeks, Monday 00:00 UTC to the next Monday) and "month" (the first of the
// month 00:00 UTC to the first of the next month). A use that would take the
// counter over the limit is denied and not counted. The counter resets exactly
// at the period boundary: the period is part of the counter's identity, so no
// timer or cleanup is involved in the reset. n = 0 is a peek.
//
// # Local memory bound
//
// Local spreads keys over 64 shards (a mutex and a map each, chosen by a
// seeded hash of the key) so that unrelated keys do not contend across cores.
// Idle state is evicted lazily, without a goroutine: a bucket whose TAT has
// passed is full, i.e. indistinguishable from a missing one, and a quota
// counter whose period has ended will never be read again; both are dropped by
// a sweep of the shard, run by an insert into it when the shard's map has
// grown to twice its size after the previous sweep (and to at least 128
// entries), or when that sweep is more than 10 s old. A shard therefore holds
// at most max(2·L, 128) entries, where L is the number of live keys at the
// last sweep: keys that are not yet full (took tokens within the last
// burst/rate) or whose quota period is current. A sweep costs O(1) per insert
// amortized. A map that shrank to under a quarter of its peak is reallocated,
// so that the memory of a spike of keys is returned once traffic moves on.
// Local measures bucket time on the monotonic clock when given SystemClock, so
// wall-clock steps do not disturb its buckets.
//
// # Redis
//
// Keys are prefix+"rl:"+key for buckets (the TAT as decimal Unix seconds with
// nanosecond fraction, expiring a second after the bucket is full again, so
// that full buckets vanish but a gateway clock a little behind Redis's still
// finds the bucket) and prefix+"q:"+period+":"+periodStart+":"+key
// for quota counters (periodStart as 2006-01-02; INCRBY guarded by the limit
// in the script, expiring an hour after the period end so that a clock a little
// behind still finds the counter).
//
// Time comes from the injected Clock and is passed to the scripts as an
// argument; Redis TIME is never used. This keeps a single code path that tests
// can drive with a fake clock, and it means the gateway nodes' clocks must be
// roughly in sync (NTP): a node whose clock is δ ahead sees buckets refilled by
// up to δ·rate tokens more than the others do (and a node behind sees fewer),
// and quota periods switch on each node's own clock. Expiries are relative
// (PEXPIRE computed from the same clock), so Redis's own clock does not matter
// either. Errors from Redis are returned (wrapped, with a zero decision); the
// caller applies the plugin's on_error policy (fail open or closed). Timeouts
// are the client's (go-redis DialTimeout, ReadTimeout, MaxRetries): configure
// them short for the request path. A take or use that timed out may still
// have been applied by Redis, as with any request whose reply was lost.
package policy
