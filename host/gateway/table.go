package gateway

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/wasmgate/wasmgate/host/observe"
)

// Table is what the gateway serves: stages, each pointing at the snapshot
// of its deployment and optionally at a canary snapshot that takes a share
// of its requests. A table is immutable; SwapTable replaces it in one
// atomic store, so a request sees either the old table or the new one.
//
// The table does not own its snapshots: whoever builds them retires the
// ones a new table no longer uses, after the swap. Requests already on a
// retired snapshot finish there.
type Table struct {
	stages []*TableStage
	byHost map[string]*TableStage
	byName map[string]*TableStage
	doc    *Snapshot // Swap's table: the snapshot selects its own stages
}

// TableStage is one served stage.
type TableStage struct {
	// Name is the stage name, also its base path ("/prod/...").
	Name string
	// Hosts are host names (lower case, no port) that select the stage.
	Hosts []string
	// Main serves the stage's requests (built with exactly this stage).
	Main *Snapshot
	// Canary, when set, serves CanaryPercent of the requests.
	Canary        *Snapshot
	CanaryPercent float64
	// Sticky makes the canary choice stable per client: "ip" (the client
	// address), "header:NAME" or "cookie:NAME" (its value; requests
	// without it are split at random). "" splits every request at random.
	Sticky string
	// Cache is the stage's response cache setting; nil: a cache of
	// Caches.DefaultMB, created when a plugin first uses it.
	Cache *CacheSetting
	// Throttle is the stage's request throttle; nil: none.
	Throttle *ThrottleSetting
	// RequireClientCert refuses requests without a verified client
	// certificate (403).
	RequireClientCert bool
	// Observe is the stage's logs and capture settings; nil: the
	// Observer's defaults.
	Observe *observe.StageSettings
}

// NewTable indexes stages; names and host names must be unique.
func NewTable(stages []*TableStage) (*Table, error) {
	t := &Table{byHost: map[string]*TableStage{}, byName: map[string]*TableStage{}}
	for _, s := range stages {
		if s.Main == nil {
			return nil, fmt.Errorf("stage %q has no snapshot", s.Name)
		}
		if len(s.Main.stages) != 1 || (s.Canary != nil && len(s.Canary.stages) != 1) {
			return nil, fmt.Errorf("stage %q: a table's snapshots must be built for exactly one stage", s.Name)
		}
		if _, dup := t.byName[s.Name]; dup {
			return nil, fmt.Errorf("stage %q is listed twice", s.Name)
		}
		if err := CheckSticky(s.Sticky); err != nil {
			return nil, fmt.Errorf("stage %q: %w", s.Name, err)
		}
		t.byName[s.Name] = s
		for _, h := range s.Hosts {
			h = strings.ToLower(h)
			if o, dup := t.byHost[h]; dup {
				return nil, fmt.Errorf("host %q selects both stage %q and stage %q", h, o.Name, s.Name)
			}
			t.byHost[h] = s
		}
		t.stages = append(t.stages, s)
	}
	return t, nil
}

// CheckSticky validates a canary stickiness setting (TableStage.Sticky).
func CheckSticky(s string) error {
	switch {
	case s == "", s == "ip":
		return nil
	case strings.HasPrefix(s, "header:") && len(s) > len("header:"),
		strings.HasPrefix(s, "cookie:") && len(s) > len("cookie:"):
		return nil
	}
	return fmt.Errorf("sticky %q: want \"\", \"ip\", \"header:NAME\" or \"cookie:NAME\"", s)
}

// Stages returns the table's stages.
func (t *Table) Stages() []*TableStage { return append([]*TableStage(nil), t.stages...) }

// Stage returns the stage named name, or nil.
func (t *Table) Stage(name string) *TableStage { return t.byName[name] }

// selectStage picks the stage by Host header, then by the first path
// segment (which it strips), then $default.
func (t *Table) selectStage(host, path string) (*TableStage, string) {
	if st, rest := selectByHostOrPrefix(t.byHost, t.byName, host, path); st != nil {
		return st, rest
	}
	if st := t.byName[DefaultStage]; st != nil {
		return st, path
	}
	return nil, path
}

// selectByHostOrPrefix looks a stage up by host name, then by the first
// path segment (also percent-decoded), returning the path without that
// segment.
func selectByHostOrPrefix[S any](byHost, byName map[string]*S, host, path string) (*S, string) {
	if len(byHost) > 0 {
		if st := byHost[hostOnly(host)]; st != nil {
			return st, path
		}
	}
	p := strings.TrimPrefix(path, "/")
	name, rest := p, ""
	if i := strings.IndexByte(p, '/'); i >= 0 {
		name, rest = p[:i], p[i:]
	}
	if rest == "" {
		rest = "/"
	}
	if st := byName[name]; st != nil {
		return st, rest
	}
	if n, err := url.PathUnescape(name); err == nil && n != name {
		if st := byName[n]; st != nil {
			return st, rest
		}
	}
	return nil, path
}

// DefaultStage is the stage served at the root: a request whose host and
// first path segment select no other stage goes to it, path unchanged.
const DefaultStage = "$default"

func hostOnly(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	return strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
}

// pick returns the snapshot that serves r: the canary for its share.
func (s *TableStage) pick(r *http.Request) *Snapshot {
	if s.Canary == nil || s.CanaryPercent <= 0 {
		return s.Main
	}
	if s.CanaryPercent >= 100 {
		return s.Canary
	}
	var bucket uint64
	if key, ok := s.stickyKey(r); ok {
		h := fnv.New64a()
		h.Write([]byte(key))
		bucket = h.Sum64() % 10000
	} else {
		bucket = rand.Uint64N(10000)
	}
	if float64(bucket) < s.CanaryPercent*100 {
		return s.Canary
	}
	return s.Main
}

func (s *TableStage) stickyKey(r *http.Request) (string, bool) {
	switch {
	case s.Sticky == "":
		return "", false
	case s.Sticky == "ip":
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		return host, host != ""
	case strings.HasPrefix(s.Sticky, "header:"):
		v := r.Header.Get(s.Sticky[len("header:"):])
		return v, v != ""
	case strings.HasPrefix(s.Sticky, "cookie:"):
		c, err := r.Cookie(s.Sticky[len("cookie:"):])
		if err != nil || c.Value == "" {
			return "", false
		}
		return c.Value, true
	}
	return "", false
}
