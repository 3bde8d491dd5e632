package sdk

import (
	"encoding/json"
	"fmt"

	"github.com/wasmgate/wasmgate/abi"
)

// API keys and usage plans of wasmgate (import module "wasmgate"): keys
// are created through the admin API, usage plans give them throttles and
// quotas per stage. A plugin using them runs only in wasmgate.

// APIKey is a verified API key.
type APIKey struct {
	// ID is the key's id ("k-…"), never its value; the host also sets it
	// as the request's wasmgate.api_key.id property.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Plan is the key's usage plan for the stage serving the request, nil
	// when it has none there (API Gateway refuses such a key with 403;
	// the choice is the plugin's).
	Plan *UsagePlan `json:"plan"`
}

// UsagePlan is the part of a usage plan a plugin enforces.
type UsagePlan struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Throttle is the rate limit per key, nil for none.
	Throttle *Throttle `json:"throttle"`
	// Quota is the request quota per key, nil for none.
	Quota *PlanQuota `json:"quota"`
	// RouteThrottles override Throttle for "METHOD /route/template".
	RouteThrottles map[string]Throttle `json:"route_throttles,omitempty"`
}

// Throttle is a token bucket: Rate requests per second, up to Burst at
// once.
type Throttle struct {
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst"`
}

// PlanQuota caps requests per calendar Period ("day", "week", "month";
// UTC).
type PlanQuota struct {
	Limit  int64  `json:"limit"`
	Period string `json:"period"`
}

// QuotaPeriod returns the quota's period for UseQuota, and false for a
// period this SDK does not know.
func (q *PlanQuota) QuotaPeriod() (QuotaPeriod, bool) {
	switch q.Period {
	case "day":
		return QuotaDay, true
	case "week":
		return QuotaWeek, true
	case "month":
		return QuotaMonth, true
	}
	return 0, false
}

// VerifyAPIKey asks the gateway for the enabled API key whose value is
// value (the secret the client sent). It returns ErrNotFound for an
// unknown, disabled or empty key, ErrUnimplemented when the gateway has
// no key store (or outside wasmgate), and ErrInvalidMemoryAccess or
// ErrInternalFailure for host failures. Call it from an HTTP callback.
func VerifyAPIKey(value string) (*APIKey, error) {
	s, err := extString(abi.ExtModule+"."+abi.ExtAPIKeyVerify, wasmgateAPIKeyVerify, value)
	if err != nil {
		return nil, err
	}
	k := new(APIKey)
	if err := json.Unmarshal([]byte(s), k); err != nil {
		return nil, fmt.Errorf("sdk: %s answered a document that is not an API key: %w", abi.ExtAPIKeyVerify, err)
	}
	return k, nil
}
