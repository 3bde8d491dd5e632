package policy

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/internal/redistest"
)

func TestRedisConformance(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	testConformance(t, func(t *testing.T, clock Clock) backend {
		return NewRedis(client, clock, t.Name()+":") // a fresh key space per subtest
	})
}

func TestRedisConcurrentOneKey(t *testing.T) {
	srv := redistest.Start(t)
	clock := newRecordingClock()
	r := NewRedis(srv.Client(t), clock, "gw:")
	hammer(t, clock, []Limiter{r}, "k", 10, 5, 1500*time.Millisecond)
}

func TestRedisTwoProcessesShareOneLimit(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()

	t.Run("fake clock", func(t *testing.T) {
		clock := newFakeClock(t0)
		a := NewRedis(srv.Client(t), clock, "gw:")
		b := NewRedis(srv.Client(t), clock, "gw:")
		nodes := []*Redis{a, b}
		allowed := 0
		for i := range 20 {
			d, err := nodes[i%2].Take(ctx, "shared", 10, 5, 1)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed {
				allowed++
			}
		}
		if allowed != 5 {
			t.Fatalf("two gateways allowed %d together, want the burst 5", allowed)
		}
		for tick := range 10 {
			clock.Advance(100 * ms)
			allowed = 0
			for i := range 6 {
				if d, _ := nodes[(i+tick)%2].Take(ctx, "shared", 10, 5, 1); d.Allowed {
					allowed++
				}
			}
			if allowed != 1 {
				t.Fatalf("tick %d: allowed %d, want 1", tick, allowed)
			}
		}
		// Quotas are shared too.
		if d, _ := a.Use(ctx, "plan", Day, 3, 2); !d.Allowed || d.Used != 2 {
			t.Fatalf("a: %+v", d)
		}
		if d, _ := b.Use(ctx, "plan", Day, 3, 2); d.Allowed || d.Used != 2 {
			t.Fatalf("b: %+v, want denied at 2", d)
		}
		if d, _ := b.Use(ctx, "plan", Day, 3, 1); !d.Allowed || d.Used != 3 {
			t.Fatalf("b: %+v, want allowed at 3", d)
		}
	})

	t.Run("real clock, 50 goroutines", func(t *testing.T) {
		clock := newRecordingClock()
		a := NewRedis(srv.Client(t), clock, "gw:")
		b := NewRedis(srv.Client(t), clock, "gw:")
		hammer(t, clock, []Limiter{a, b}, "hammered", 10, 5, 1500*time.Millisecond)
	})
}

func TestRedisKeyLayout(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	client := srv.Client(t)
	clock := newFakeClock(time.Date(2026, 3, 14, 15, 9, 26, 123456789, time.UTC))
	r := NewRedis(client, clock, "gw:")

	if _, err := r.Take(ctx, "tenant:42", 10, 5, 2); err != nil {
		t.Fatal(err)
	}
	v, err := client.Get(ctx, "gw:rl:tenant:42").Result()
	if err != nil {
		t.Fatalf("bucket key: %v", err)
	}
	if want := strconv.FormatInt(clock.Now().Unix(), 10) + ".323456789"; v != want {
		t.Fatalf("stored TAT %q, want %q (now + 2 × 100 ms)", v, want)
	}
	if pttl := client.PTTL(ctx, "gw:rl:tenant:42").Val(); pttl <= 1150*ms || pttl > 1200*ms {
		t.Fatalf("bucket PTTL %v, want the 200 ms until full and a second", pttl)
	}
	// A peek and a denial write nothing.
	r.Take(ctx, "peeked", 10, 5, 0)
	r.Take(ctx, "too-big", 10, 5, 6)
	if n := client.Exists(ctx, "gw:rl:peeked", "gw:rl:too-big").Val(); n != 0 {
		t.Fatalf("%d keys written by a peek or a denial", n)
	}

	for _, c := range []struct {
		period Period
		key    string
		ttl    time.Duration
	}{
		{Day, "gw:q:day:2026-03-14:tenant:42", utc(2026, 3, 15).Sub(clock.Now()) + time.Hour},
		{Week, "gw:q:week:2026-03-09:tenant:42", utc(2026, 3, 16).Sub(clock.Now()) + time.Hour},
		{Month, "gw:q:month:2026-03-01:tenant:42", utc(2026, 4, 1).Sub(clock.Now()) + time.Hour},
	} {
		if _, err := r.Use(ctx, "tenant:42", c.period, 10, 3); err != nil {
			t.Fatal(err)
		}
		if v := client.Get(ctx, c.key).Val(); v != "3" {
			t.Fatalf("%s = %q, want 3", c.key, v)
		}
		if pttl := client.PTTL(ctx, c.key).Val(); pttl > c.ttl || pttl < c.ttl-time.Second {
			t.Fatalf("%s PTTL %v, want %v (period end + 1 h)", c.key, pttl, c.ttl)
		}
	}
	// A denied use creates nothing.
	r.Use(ctx, "nobody", Day, 1, 2)
	if n := client.Exists(ctx, "gw:q:day:2026-03-14:nobody").Val(); n != 0 {
		t.Fatal("a denied use created a counter")
	}
}

func TestRedisFullBucketsVanish(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	client := srv.Client(t)
	r := NewRedis(client, nil, "")
	if d, err := r.Take(ctx, "k", 100, 2, 1); err != nil || !d.Allowed {
		t.Fatalf("Take = %+v, %v", d, err)
	}
	if client.Exists(ctx, "rl:k").Val() != 1 {
		t.Fatal("bucket key missing right after a take")
	}
	deadline := time.Now().Add(2 * time.Second)
	for client.Exists(ctx, "rl:k").Val() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a full bucket's key did not expire")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d, _ := r.Take(ctx, "k", 100, 2, 0); d.Remaining != 2 {
		t.Fatalf("after expiry: %+v, want full", d)
	}
}

func TestRedisScriptCacheFlushed(t *testing.T) {
	// EVALSHA falls back to EVAL when Redis lost its script cache (a restart,
	// SCRIPT FLUSH, a failover).
	srv := redistest.Start(t)
	ctx := context.Background()
	client := srv.Client(t)
	r := NewRedis(client, newFakeClock(t0), "")
	for i := range 3 {
		if err := client.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if d, err := r.Take(ctx, "k", 10, 5, 1); err != nil || d.Remaining != 4-i {
			t.Fatalf("Take after SCRIPT FLUSH = %+v, %v", d, err)
		}
		if err := client.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if d, err := r.Use(ctx, "k", Day, 10, 1); err != nil || d.Used != int64(i+1) {
			t.Fatalf("Use after SCRIPT FLUSH = %+v, %v", d, err)
		}
	}
}

func TestRedisDownThenBack(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	r := NewRedis(srv.Client(t), nil, "gw:")
	if err := r.Healthy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Take(ctx, "k", 10, 5, 1); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	for i := range 3 {
		start := time.Now()
		d, err := r.Take(ctx, "k", 10, 5, 1)
		if err == nil {
			t.Fatalf("Take %d with Redis down: no error (%+v)", i, d)
		}
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Fatalf("Take %d with Redis down took %v to fail, want < 1 s", i, elapsed)
		}
		if d != (Decision{}) {
			t.Fatalf("Take with an error returned a decision %+v", d)
		}
		if !strings.Contains(err.Error(), "policy: redis take") {
			t.Fatalf("error %q does not say where it comes from", err)
		}
		t.Logf("Redis down: Take failed in %v: %v", time.Since(start), err)
	}
	if _, err := r.Use(ctx, "k", Day, 10, 1); err == nil {
		t.Fatal("Use with Redis down: no error")
	}
	if err := r.Healthy(ctx); err == nil {
		t.Fatal("Healthy with Redis down: no error")
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := r.Take(ctx, "k", 10, 5, 1)
		if err == nil {
			if !d.Allowed || d.Remaining != 4 { // the restarted server is empty
				t.Fatalf("after restart: %+v", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Take still failing 10 s after Redis came back: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.Healthy(ctx); err != nil {
		t.Fatalf("Healthy after restart: %v", err)
	}
}

func TestRedisContextCanceled(t *testing.T) {
	srv := redistest.Start(t)
	r := NewRedis(srv.Client(t), nil, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Take(ctx, "k", 10, 5, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Take with a canceled context: %v, want context.Canceled", err)
	}
}

func TestRedisValidationDoesNotTouchRedis(t *testing.T) {
	// Invalid arguments are rejected before any I/O, even with Redis down.
	srv := redistest.Start(t)
	r := NewRedis(srv.Client(t), nil, "")
	srv.Stop()
	if _, err := r.Take(context.Background(), "k", 0, 5, 1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Take: %v, want ErrInvalidArgument", err)
	}
	if _, err := r.Use(context.Background(), "k", "year", 5, 1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Use: %v, want ErrInvalidArgument", err)
	}
}

func BenchmarkRedisTake(b *testing.B) {
	srv := redistest.Start(b)
	client := srv.Client(b)
	r := NewRedis(client, nil, "bench:")
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.Take(ctx, "hot", 1e6, 1000, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := r.Take(ctx, "key-"+strconv.Itoa(i&1023), 1e6, 1000, 1); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

func BenchmarkRedisUse(b *testing.B) {
	srv := redistest.Start(b)
	r := NewRedis(srv.Client(b), nil, "bench:")
	ctx := context.Background()
	for b.Loop() {
		if _, err := r.Use(ctx, "plan", Month, MaxQuota, 1); err != nil {
			b.Fatal(err)
		}
	}
}
