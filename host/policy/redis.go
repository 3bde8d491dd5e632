package policy

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// quotaGrace is how long a quota counter outlives its period in Redis, so that
// a gateway whose clock is a little behind still finds it.
const quotaGrace = time.Hour

// takeScript is the GCRA of gcra() and remaining() in Lua, on integer
// nanoseconds (exact in doubles: every value stays under 2^53 because
// τ <= MaxWindow). The TAT is stored as "<unix seconds>.<9-digit ns>" so that no
// absolute nanosecond count (> 2^53) is ever formed.
//
//	KEYS[1] bucket key
//	ARGV    now seconds, now nanoseconds (0..1e9-1), T ns, burst, cost
//	returns {allowed 0|1, remaining, retry ns, reset ns}
var takeScript = redis.NewScript(`
local now_s = tonumber(ARGV[1])
local now_ns = tonumber(ARGV[2])
local t = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local cost = tonumber(ARGV[5])
local tol = t * burst

local d = 0
local v = redis.call('GET', KEYS[1])
if v then
  local s, ns = string.match(v, '^(%-?%d+)%.(%d+)$')
  if s then
    d = (tonumber(s) - now_s) * 1e9 + (tonumber(ns) - now_ns)
    if d < 0 then d = 0 end
  end
end

local allowed = 0
local retry = 0
if cost <= burst then
  local nd = d + cost * t
  if nd <= tol then
    allowed = 1
    if cost > 0 then
      d = nd
      local total = now_ns + d
      local sec = math.floor(total / 1e9)
      local ns = total - sec * 1e9
      if ns < 0 then ns = ns + 1e9; sec = sec - 1 end
      if ns >= 1e9 then ns = ns - 1e9; sec = sec + 1 end
      -- Kept a second past the time the bucket is full again: expiry runs
      -- on Redis's clock, the TAT on the gateways', and a key gone early
      -- would refill the bucket early by their skew (a TAT in the past
      -- already reads as a full bucket).
      redis.call('SET', KEYS[1], string.format('%d.%09d', now_s + sec, ns),
        'PX', math.ceil(d / 1e6) + 1000)
    end
  else
    retry = nd - tol
  end
end

local remaining = 0
if d < tol then remaining = math.floor((tol - d) / t) end
return {allowed, remaining, retry, d}
`)

// useScript is a quota use: INCRBY guarded by the limit, and a relative expiry
// (computed by the caller from its clock) when it counts.
//
//	KEYS[1] counter key
//	ARGV    limit, n, ttl ms
//	returns {allowed 0|1, used}
var useScript = redis.NewScript(`
local limit = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + n > limit then return {0, used} end
if n > 0 then
  used = redis.call('INCRBY', KEYS[1], n)
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {1, used}
`)

// Redis implements Limiter and Quotas in Redis, atomically (one Lua script per
// operation, EVALSHA with a fallback to EVAL), so that several gateway
// processes share the same buckets and counters. See the package documentation
// for the keys and the clock.
type Redis struct {
	client redis.UniversalClient
	clock  Clock
	prefix string
}

var (
	_ Limiter = (*Redis)(nil)
	_ Quotas  = (*Redis)(nil)
)

// NewRedis returns a Limiter and Quotas stored in Redis under keys starting
// with prefix. A nil clock means SystemClock. Every operation touches one key,
// so client may be a Redis Cluster client.
func NewRedis(client redis.UniversalClient, clock Clock, prefix string) *Redis {
	if clock == nil {
		clock = SystemClock{}
	}
	return &Redis{client: client, clock: clock, prefix: prefix}
}

// Healthy pings Redis.
func (r *Redis) Healthy(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("policy: redis ping: %w", err)
	}
	return nil
}

// Take implements Limiter. Errors from Redis are returned (wrapped) with a
// zero Decision; the caller decides whether to fail open or closed.
func (r *Redis) Take(ctx context.Context, key string, rate float64, burst, cost int) (Decision, error) {
	interval, _, err := gcraParams(rate, burst, cost)
	if err != nil {
		return Decision{}, err
	}
	now := r.clock.Now()
	res, err := takeScript.Run(ctx, r.client, []string{r.prefix + "rl:" + key},
		now.Unix(), now.Nanosecond(), interval, burst, cost).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("policy: redis take: %w", err)
	}
	if len(res) != 4 {
		return Decision{}, fmt.Errorf("policy: redis take: unexpected reply %v", res)
	}
	return Decision{
		Allowed:    res[0] == 1,
		Limit:      burst,
		Remaining:  int(res[1]),
		RetryAfter: time.Duration(res[2]),
		ResetAfter: time.Duration(res[3]),
	}, nil
}

// Use implements Quotas. Errors from Redis are returned (wrapped) with a zero
// QuotaDecision.
func (r *Redis) Use(ctx context.Context, key string, period Period, limit, n int64) (QuotaDecision, error) {
	if err := validateQuota(period, limit, n); err != nil {
		return QuotaDecision{}, err
	}
	now := r.clock.Now()
	start, end := periodBounds(period, now)
	ttl := (end.Sub(now) + quotaGrace).Milliseconds()
	k := r.prefix + "q:" + string(period) + ":" + start.Format(time.DateOnly) + ":" + key
	res, err := useScript.Run(ctx, r.client, []string{k},
		strconv.FormatInt(limit, 10), strconv.FormatInt(n, 10), ttl).Int64Slice()
	if err != nil {
		return QuotaDecision{}, fmt.Errorf("policy: redis quota: %w", err)
	}
	if len(res) != 2 {
		return QuotaDecision{}, fmt.Errorf("policy: redis quota: unexpected reply %v", res)
	}
	return quotaDecision(res[0] == 1, limit, res[1], end), nil
}
