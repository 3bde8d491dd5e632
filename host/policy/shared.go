package policy

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// RedisShared is Proxy-Wasm shared data (proxy_get_shared_data,
// proxy_set_shared_data) in Redis, for a cluster of gateways: every
// gateway sees the same values and compare-and-swap tokens. It satisfies
// host/wasm's SharedStore (EngineConfig.SharedStore).
//
// Each key is a Redis hash {v: value, c: token}; tokens come from one
// counter (INCR), so a token is never reused for a key within 2^32
// writes. A set with a token is one Lua script: no read-modify-write race
// between gateways.
type RedisShared struct {
	client   redis.UniversalClient
	prefix   string
	maxValue int
}

// DefaultSharedMaxValue bounds one shared-data value in Redis.
const DefaultSharedMaxValue = 1 << 20

// NewRedisShared returns shared data under prefix ("wasmgate:" gives
// "wasmgate:sd:<key>"). Values over maxValue bytes (0: 1 MiB) are refused.
func NewRedisShared(client redis.UniversalClient, prefix string, maxValue int) *RedisShared {
	if maxValue <= 0 {
		maxValue = DefaultSharedMaxValue
	}
	return &RedisShared{client: client, prefix: prefix, maxValue: maxValue}
}

// setSharedScript stores a value when the token matches.
//
//	KEYS[1] the hash, KEYS[2] the token counter
//	ARGV    value, expected token (0: any)
//	returns the new token, or 0 on a mismatch
var setSharedScript = redis.NewScript(`
local want = tonumber(ARGV[2])
if want ~= 0 then
  local cur = redis.call('HGET', KEYS[1], 'c')
  if not cur or tonumber(cur) ~= want then return 0 end
end
local c = redis.call('INCR', KEYS[2])
if c > 4294967295 then
  c = 1
  redis.call('SET', KEYS[2], 1)
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'c', c)
return c
`)

func (r *RedisShared) key(k string) string { return r.prefix + "sd:" + k }

// GetShared returns the value and token of key.
func (r *RedisShared) GetShared(ctx context.Context, key string) ([]byte, uint32, bool, error) {
	vals, err := r.client.HMGet(ctx, r.key(key), "v", "c").Result()
	if err != nil {
		return nil, 0, false, fmt.Errorf("redis shared data get: %w", err)
	}
	if len(vals) != 2 || vals[0] == nil || vals[1] == nil {
		return nil, 0, false, nil
	}
	v, ok1 := vals[0].(string)
	cs, ok2 := vals[1].(string)
	var cas uint64
	if _, err := fmt.Sscan(cs, &cas); !ok1 || !ok2 || err != nil || cas == 0 || cas > 1<<32-1 {
		return nil, 0, false, errors.New("redis shared data get: corrupt entry " + r.key(key))
	}
	return []byte(v), uint32(cas), true, nil
}

// SetShared stores value under key when cas is 0 or the key's token.
func (r *RedisShared) SetShared(ctx context.Context, key string, value []byte, cas uint32) (bool, error) {
	if len(value) > r.maxValue {
		return false, fmt.Errorf("redis shared data set: a %d-byte value is over the %d-byte limit", len(value), r.maxValue)
	}
	n, err := setSharedScript.Run(ctx, r.client, []string{r.key(key), r.prefix + "sd-token"}, value, cas).Int64()
	if err != nil {
		return false, fmt.Errorf("redis shared data set: %w", err)
	}
	return n != 0, nil
}
