package wasm

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/abi"
)

// The policy primitives of the "wasmgate" module: token buckets and
// quotas, backed by the stream host's PolicyHost (host/policy: in memory,
// or Redis for a cluster).

func init() {
	register(extFuncs, abi.ExtTokenBucketTake, hostTokenBucketTake)
	register(extFuncs, abi.ExtQuotaUse, hostQuotaUse)
}

// policyHost returns the current stream's PolicyHost, or a status for the
// guest when there is none.
func (in *instance) policyHost() (PolicyHost, abi.Status) {
	if in.cur == nil {
		return nil, abi.StatusNotFound // not in an HTTP context
	}
	ph, ok := in.cur.host.(PolicyHost)
	if !ok {
		return nil, abi.StatusUnimplemented
	}
	return ph, abi.StatusOK
}

func policyStatus(err error) abi.Status {
	switch {
	case errors.Is(err, ErrPolicyArgument):
		return abi.StatusBadArgument
	case errors.Is(err, ErrNoPolicy):
		return abi.StatusUnimplemented
	}
	return abi.StatusInternalFailure
}

func clampMillis(d time.Duration) uint32 {
	ms := (d + time.Millisecond - 1) / time.Millisecond // round up: "retry after" must not be early
	if ms > math.MaxUint32 {
		return math.MaxUint32
	}
	if ms < 0 {
		return 0
	}
	return uint32(ms)
}

// hostTokenBucketTake is token_bucket_take(key_ptr, key_size,
// rate_milli_per_sec i64, burst, cost, return_remaining_ptr,
// return_retry_after_ms_ptr, return_reset_ms_ptr).
func hostTokenBucketTake(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	key, ok := in.readString(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	rateMilli, burst, cost := int64(stack[2]), int32(uint32(stack[3])), int32(uint32(stack[4]))
	retRemaining, retRetry, retReset := uint32(stack[5]), uint32(stack[6]), uint32(stack[7])
	if rateMilli <= 0 || burst <= 0 || cost <= 0 || key == "" {
		status(stack, abi.StatusBadArgument)
		return
	}
	ph, st := in.policyHost()
	if st != abi.StatusOK {
		status(stack, st)
		return
	}
	res, err := ph.TakeTokens(in.ctx, key, float64(rateMilli)/1000, int(burst), int(cost))
	if err != nil {
		status(stack, policyStatus(err))
		return
	}
	if !in.writeU32(retRemaining, uint32(max(res.Remaining, 0))) ||
		!in.writeU32(retRetry, clampMillis(res.RetryAfter)) ||
		!in.writeU32(retReset, clampMillis(res.ResetAfter)) {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	if !res.Allowed {
		status(stack, abi.StatusEmpty)
		return
	}
	status(stack, abi.StatusOK)
}

// hostQuotaUse is quota_use(key_ptr, key_size, period, limit i64, n i64,
// return_remaining_ptr, return_reset_unix_ms_ptr).
func hostQuotaUse(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	key, ok := in.readString(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	var period QuotaPeriod
	switch uint32(stack[2]) {
	case abi.QuotaDay:
		period = QuotaDay
	case abi.QuotaWeek:
		period = QuotaWeek
	case abi.QuotaMonth:
		period = QuotaMonth
	default:
		status(stack, abi.StatusBadArgument)
		return
	}
	limit, n := int64(stack[3]), int64(stack[4])
	retRemaining, retReset := uint32(stack[5]), uint32(stack[6])
	if limit <= 0 || n <= 0 || key == "" {
		status(stack, abi.StatusBadArgument)
		return
	}
	ph, st := in.policyHost()
	if st != abi.StatusOK {
		status(stack, st)
		return
	}
	res, err := ph.UseQuota(in.ctx, key, period, limit, n)
	if err != nil {
		status(stack, policyStatus(err))
		return
	}
	if !in.memory.WriteUint64Le(retRemaining, uint64(max(res.Remaining, 0))) ||
		!in.memory.WriteUint64Le(retReset, uint64(res.ResetAt.UnixMilli())) {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	if !res.Allowed {
		status(stack, abi.StatusEmpty)
		return
	}
	status(stack, abi.StatusOK)
}
