package gateway

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/host/policy/cache"
)

// CacheSetting is a stage's response cache setting (TableStage.Cache).
type CacheSetting struct {
	// Enabled false turns the stage's cache off: the plugins' cache
	// calls answer UNIMPLEMENTED and requests go to the integration.
	Enabled bool
	// SizeMB is the cache's capacity; 0 takes Caches.DefaultMB.
	SizeMB int
}

// DefaultCacheMB is the capacity of a stage's cache when neither the
// stage nor Caches.DefaultMB sets one.
const DefaultCacheMB = 64

// Caches holds the stages' response caches (host/policy/cache). A stage's
// cache is created when one of its plugins first looks a response up, and
// lives as long as the gateway: a redeploy, a rollback or a canary of the
// stage keeps its entries (put the deployment into the cache key to
// separate them). A stage without a setting gets a DefaultMB cache.
type Caches struct {
	// DefaultMB is the capacity of a stage's cache without a setting;
	// 0 means DefaultCacheMB.
	DefaultMB int
	// L2, when set, returns a stage's shared second level (Redis).
	L2 func(stage string) cache.L2
	// OnL2Error is told of L2 failures (the cache carries on without it).
	OnL2Error func(stage, op string, err error)
	// Clock is the caches' time source (tests); nil is time.Now.
	Clock func() time.Time
	// MaxEntryBytes bounds the body of a stored response (default 1 MiB).
	MaxEntryBytes int64

	mu       sync.Mutex
	byStage  atomic.Pointer[map[string]*cache.Cache] // enabled caches, read per request
	all      map[string]*cache.Cache
	settings map[string]CacheSetting
}

// For returns the stage's cache, creating it at first use, or nil when the
// stage's cache is off or cannot be created.
func (c *Caches) For(stage string) *cache.Cache {
	if c == nil {
		return nil
	}
	if m := c.byStage.Load(); m != nil {
		if ca, ok := (*m)[stage]; ok {
			return ca
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.byStage.Load(); m != nil {
		if ca, ok := (*m)[stage]; ok {
			return ca
		}
	}
	set, ok := c.settings[stage]
	if ok && !set.Enabled {
		c.publishLocked(stage, nil)
		return nil
	}
	ca := c.all[stage]
	if ca == nil {
		opts := cache.Options{MaxBytes: c.sizeBytes(set), Clock: c.Clock}
		if c.L2 != nil {
			opts.L2 = c.L2(stage)
		}
		if c.OnL2Error != nil {
			opts.OnL2Error = func(op string, err error) { c.OnL2Error(stage, op, err) }
		}
		var err error
		if ca, err = cache.New(opts); err != nil {
			return nil
		}
		if c.all == nil {
			c.all = map[string]*cache.Cache{}
		}
		c.all[stage] = ca
	}
	c.publishLocked(stage, ca)
	return ca
}

func (c *Caches) sizeBytes(s CacheSetting) int64 {
	mb := s.SizeMB
	if mb <= 0 {
		mb = c.DefaultMB
	}
	if mb <= 0 {
		mb = DefaultCacheMB
	}
	return int64(mb) << 20
}

// publishLocked makes stage resolve to ca (nil: off) on the request path.
func (c *Caches) publishLocked(stage string, ca *cache.Cache) {
	m := map[string]*cache.Cache{}
	if old := c.byStage.Load(); old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[stage] = ca
	c.byStage.Store(&m)
}

// Configure applies the stages' settings (stages not listed get the
// default): a resized cache keeps its entries up to the new size, a cache
// turned off keeps them for when it is turned on again.
func (c *Caches) Configure(settings map[string]CacheSetting) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settings = settings
	for stage, ca := range c.all {
		ca.Resize(c.sizeBytes(settings[stage]))
	}
	c.byStage.Store(nil) // resolved again, with the new settings, at next use
}

// Stats returns each created cache's counters, by stage.
func (c *Caches) Stats() map[string]cache.Stats {
	out := map[string]cache.Stats{}
	if c == nil {
		return out
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for stage, ca := range c.all {
		out[stage] = ca.Stats()
	}
	return out
}

// Close closes every cache. No request may be using them.
func (c *Caches) Close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ca := range c.all {
		ca.Close()
	}
	c.all = nil
	c.byStage.Store(nil)
}

// ResponseCache implements pipeline.CacheSource for the request's stage.
func (rc *reqCtx) ResponseCache() *cache.Cache {
	return rc.caches.For(rc.stage.name)
}
