package apikeys

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Errors, to be tested with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid")
)

type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Key is an API key as the admin API shows it: never its value.
type Key struct {
	// ID is "k-" and 10 random characters.
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Enabled keys authenticate; a disabled key is refused like an
	// unknown one.
	Enabled bool      `json:"enabled"`
	Created time.Time `json:"created"`
	// Plans are the ids of the usage plans the key is in (at most one
	// per stage).
	Plans []string `json:"plans"`
}

// KeySpec is what creates a key.
type KeySpec struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Value, when set, is the key's secret (20 to 128 visible ASCII
	// characters, as API Gateway allows); empty generates 40 random
	// alphanumeric characters.
	Value string `json:"value,omitempty"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled,omitempty"`
	// Plan, when set, puts the new key in that usage plan.
	Plan string `json:"plan,omitempty"`
}

// KeyUpdate changes a key; nil fields are left as they are.
type KeyUpdate struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	Enabled     *bool   `json:"enabled,omitempty"`
}

// CreatedKey is a new key with its value, which the store does not keep:
// the only time anyone sees it.
type CreatedKey struct {
	Key
	Value string `json:"value"`
}

// Throttle is a token bucket: Rate requests per second, Burst at once.
type Throttle struct {
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst"`
}

// Quota caps requests per UTC calendar period ("day", "week" from
// Monday, "month").
type Quota struct {
	Limit  int64  `json:"limit"`
	Period string `json:"period"`
}

// PlanSpec is what creates or replaces a usage plan.
type PlanSpec struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Throttle limits each key's rate (nil: no rate limit).
	Throttle *Throttle `json:"throttle,omitempty"`
	// Quota caps each key's requests per period (nil: no quota).
	Quota *Quota `json:"quota,omitempty"`
	// Stages the plan applies to ("$default" is the stage served at the
	// root); empty: every stage.
	Stages []string `json:"stages,omitempty"`
	// RouteThrottles override Throttle per route: "GET /pets/{id}" (the
	// method, a space, the route template).
	RouteThrottles map[string]Throttle `json:"route_throttles,omitempty"`
}

// Plan is a usage plan.
type Plan struct {
	// ID is "p-" and 10 random characters.
	ID string `json:"id"`
	PlanSpec
	Created time.Time `json:"created"`
	// Keys are the ids of the keys in the plan.
	Keys []string `json:"keys"`
}

// Limits of the store's inputs.
const (
	MinValueLen = 20
	MaxValueLen = 128
	maxNameLen  = 128
	maxDescLen  = 1024
	maxStages   = 64
	maxRoutes   = 100
	maxRate     = 1e9
	maxBurst    = 1_000_000_000
	maxQuota    = 1 << 52
)

var (
	stageRE = regexp.MustCompile(`^([A-Za-z0-9_-]{1,64}|\$default)$`)
	routeRE = regexp.MustCompile(`^[A-Z]+ /\S*$`)
)

func checkText(what, s string, min, max int) error {
	if len(s) < min {
		return errorf(ErrInvalid, "%s is required", what)
	}
	if len(s) > max {
		return errorf(ErrInvalid, "%s is %d bytes long: at most %d", what, len(s), max)
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return errorf(ErrInvalid, "%s has a control character at byte %d: remove it", what, i)
	}
	return nil
}

// CheckValue reports whether v can be an API key's value.
func CheckValue(v string) error {
	if len(v) < MinValueLen || len(v) > MaxValueLen {
		return errorf(ErrInvalid, "value: %d characters, want %d to %d (or leave it out to have one generated)", len(v), MinValueLen, MaxValueLen)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x21 || c > 0x7e {
			return errorf(ErrInvalid, "value: byte %d is not visible ASCII (0x21-0x7e): a key travels in a header or query parameter", i)
		}
	}
	return nil
}

func checkThrottle(what string, t *Throttle) error {
	if !(t.Rate > 0) || t.Rate > maxRate {
		return errorf(ErrInvalid, "%s.rate %v: want more than 0 and at most 1e9 requests per second (0.5 is one every 2 s)", what, t.Rate)
	}
	if t.Burst == 0 {
		t.Burst = max(1, int(math.Ceil(t.Rate)))
	}
	if t.Burst < 1 || t.Burst > maxBurst {
		return errorf(ErrInvalid, "%s.burst %d: want 1 to 1000000000 (or leave it out: the rate, rounded up)", what, t.Burst)
	}
	return nil
}

// normalize validates s in place: defaults filled, stages de-duplicated
// and sorted.
func (s *PlanSpec) normalize() error {
	if err := checkText("name", s.Name, 1, maxNameLen); err != nil {
		return err
	}
	if err := checkText("description", s.Description, 0, maxDescLen); err != nil {
		return err
	}
	if s.Throttle != nil {
		if err := checkThrottle("throttle", s.Throttle); err != nil {
			return err
		}
	}
	if q := s.Quota; q != nil {
		if q.Limit < 1 || q.Limit > maxQuota {
			return errorf(ErrInvalid, "quota.limit %d: want 1 to 2^52 requests per period", q.Limit)
		}
		switch q.Period {
		case "day", "week", "month":
		default:
			return errorf(ErrInvalid, `quota.period %q: want "day", "week" or "month"`, q.Period)
		}
	}
	if len(s.Stages) > maxStages {
		return errorf(ErrInvalid, "stages: %d listed, at most %d", len(s.Stages), maxStages)
	}
	for _, st := range s.Stages {
		if !stageRE.MatchString(st) {
			return errorf(ErrInvalid, `stages: %q is not a stage name (letters, digits, "_" and "-", up to 64; "$default" for the stage served at the root)`, st)
		}
	}
	slices.Sort(s.Stages)
	s.Stages = slices.Compact(s.Stages)
	if len(s.RouteThrottles) > maxRoutes {
		return errorf(ErrInvalid, "route_throttles: %d routes, at most %d", len(s.RouteThrottles), maxRoutes)
	}
	for r, t := range s.RouteThrottles {
		if !routeRE.MatchString(r) {
			return errorf(ErrInvalid, `route_throttles: %q: want "METHOD /route/template", e.g. "GET /pets/{id}" (upper-case method)`, r)
		}
		if err := checkThrottle("route_throttles["+r+"]", &t); err != nil {
			return err
		}
		s.RouteThrottles[r] = t
	}
	if len(s.RouteThrottles) == 0 {
		s.RouteThrottles = nil
	}
	return nil
}

// overlap returns a stage both plans cover ("every stage" for two
// plans without stages), or "".
func overlap(a, b []string) string {
	switch {
	case len(a) == 0 && len(b) == 0:
		return "every stage"
	case len(a) == 0:
		return b[0]
	case len(b) == 0:
		return a[0]
	}
	for _, s := range a {
		if slices.Contains(b, s) {
			return s
		}
	}
	return ""
}

func stagesText(s []string) string {
	if len(s) == 0 {
		return "every stage"
	}
	return strings.Join(s, ", ")
}
