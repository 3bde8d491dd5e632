package gateway

import (
	"context"
	"errors"

	"github.com/wasmgate/wasmgate/host/policy"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// Policies adapts host/policy's token buckets and quotas to the plugin
// host (the wasmgate.token_bucket_take and quota_use calls).
type Policies struct {
	Limiter policy.Limiter
	Quotas  policy.Quotas
}

var _ wasm.PolicyHost = (*Policies)(nil)

// TakeTokens implements wasm.PolicyHost.
func (p *Policies) TakeTokens(ctx context.Context, key string, rate float64, burst, cost int) (wasm.TokenResult, error) {
	if p == nil || p.Limiter == nil {
		return wasm.TokenResult{}, wasm.ErrNoPolicy
	}
	d, err := p.Limiter.Take(ctx, key, rate, burst, cost)
	if err != nil {
		return wasm.TokenResult{}, policyErr(err)
	}
	return wasm.TokenResult{Allowed: d.Allowed, Remaining: d.Remaining, RetryAfter: d.RetryAfter, ResetAfter: d.ResetAfter}, nil
}

// UseQuota implements wasm.PolicyHost.
func (p *Policies) UseQuota(ctx context.Context, key string, period wasm.QuotaPeriod, limit, n int64) (wasm.QuotaResult, error) {
	if p == nil || p.Quotas == nil {
		return wasm.QuotaResult{}, wasm.ErrNoPolicy
	}
	d, err := p.Quotas.Use(ctx, key, policy.Period(period), limit, n)
	if err != nil {
		return wasm.QuotaResult{}, policyErr(err)
	}
	return wasm.QuotaResult{Allowed: d.Allowed, Remaining: d.Remaining, ResetAt: d.ResetAt}, nil
}

func policyErr(err error) error {
	if errors.Is(err, policy.ErrInvalidArgument) {
		return errors.Join(wasm.ErrPolicyArgument, err)
	}
	return err
}
