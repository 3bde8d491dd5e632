package policy

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

func TestLocalConformance(t *testing.T) {
	testConformance(t, func(t *testing.T, clock Clock) backend { return NewLocal(clock) })
}

func TestLocalConcurrentOneKey(t *testing.T) {
	clock := newRecordingClock()
	l := NewLocal(clock)
	hammer(t, clock, []Limiter{l}, "k", 10, 5, 1500*time.Millisecond)
}

func TestLocalConcurrentManyKeys(t *testing.T) {
	// Many goroutines, many keys, fake clock: every key gets exactly its burst.
	clock := newFakeClock(t0)
	l := NewLocal(clock)
	const keys, workers = 500, 16
	allowed := make([][]int, workers)
	done := make(chan struct{})
	for w := range workers {
		allowed[w] = make([]int, keys)
		go func() {
			defer func() { done <- struct{}{} }()
			for range 3 {
				for k := range keys {
					d, err := l.Take(context.Background(), "key-"+strconv.Itoa(k), 1, 2, 1)
					if err != nil {
						t.Error(err)
						return
					}
					if d.Allowed {
						allowed[w][k]++
					}
				}
			}
		}()
	}
	for range workers {
		<-done
	}
	for k := range keys {
		sum := 0
		for w := range workers {
			sum += allowed[w][k]
		}
		if sum != 2 {
			t.Fatalf("key %d: allowed %d, want the burst 2", k, sum)
		}
	}
}

func (l *Local) sizes() (buckets, quotas int) {
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		buckets += len(s.buckets)
		quotas += len(s.quotas)
		s.mu.Unlock()
	}
	return buckets, quotas
}

func TestLocalEvictsFullBuckets(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(t0)
	l := NewLocal(clock)
	// 100 rounds of 10,000 fresh keys each; a bucket (10 rps, burst 5) is full
	// again 100 ms after its single take, and each round is 1 s later.
	const perRound = 10000
	maxBuckets := 0
	for round := range 30 {
		for i := range perRound {
			key := fmt.Sprintf("r%d-k%d", round, i)
			if d, err := l.Take(ctx, key, 10, 5, 1); err != nil || !d.Allowed {
				t.Fatalf("Take(%s) = %+v, %v", key, d, err)
			}
		}
		b, _ := l.sizes()
		maxBuckets = max(maxBuckets, b)
		clock.Advance(time.Second)
	}
	// Live keys never exceed one round; the bound is 2 × live + slack per shard.
	if limit := 2*perRound + numShards*minSweep; maxBuckets > limit {
		t.Fatalf("held up to %d buckets, want <= %d (300,000 keys were used, %d at a time)", maxBuckets, limit, perRound)
	}
	t.Logf("300,000 keys, %d live at a time: at most %d buckets held", perRound, maxBuckets)

	// Evicting a full bucket changes nothing observable.
	if d, _ := l.Take(ctx, "r0-k0", 10, 5, 0); d.Remaining != 5 {
		t.Fatalf("evicted bucket: %+v, want full", d)
	}
}

func TestLocalKeepsLiveBuckets(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(t0)
	l := NewLocal(clock)
	// Slow buckets (1 token per hour) stay live: sweeps must not drop them.
	const n = 20000
	for i := range n {
		if _, err := l.Take(ctx, "slow-"+strconv.Itoa(i), 1.0/3600, 1, 1); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Minute)
	for i := range n {
		d, _ := l.Take(ctx, "slow-"+strconv.Itoa(i), 1.0/3600, 1, 1)
		if d.Allowed {
			t.Fatalf("slow-%d was forgotten while live", i)
		}
	}
	if b, _ := l.sizes(); b != n {
		t.Fatalf("%d buckets, want %d", b, n)
	}
}

func TestLocalShrinksAfterSpike(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(t0)
	l := NewLocal(clock)
	for i := range 200000 {
		l.Take(ctx, "spike-"+strconv.Itoa(i), 10, 1, 1)
	}
	clock.Advance(time.Duration(sweepEvery) + time.Second)
	for i := range 20000 {
		l.Take(ctx, "after-"+strconv.Itoa(i), 10, 1, 1)
	}
	b, _ := l.sizes()
	if b > 20000+numShards*minSweep {
		t.Fatalf("%d buckets after the spike passed, want about 20000", b)
	}
	for i := range l.shards {
		if p := l.shards[i].bucketGC.peak; p > 3*20000/numShards+2*minSweep {
			t.Fatalf("shard %d: peak %d was not reset by a reallocation", i, p)
		}
	}
}

func TestLocalEvictsEndedQuotaPeriods(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(t0)
	l := NewLocal(clock)
	const perDay = 10000
	maxQuotas := 0
	for day := range 30 {
		for i := range perDay {
			if d, err := l.Use(ctx, fmt.Sprintf("d%d-k%d", day, i), Day, 10, 1); err != nil || !d.Allowed {
				t.Fatalf("Use = %+v, %v", d, err)
			}
		}
		_, q := l.sizes()
		maxQuotas = max(maxQuotas, q)
		clock.Advance(24 * time.Hour)
	}
	if limit := 2*perDay + numShards*minSweep; maxQuotas > limit {
		t.Fatalf("held up to %d quota counters, want <= %d", maxQuotas, limit)
	}
}

func TestLocalClonesKeys(t *testing.T) {
	// The host may pass keys that alias guest memory; Local must copy them.
	ctx := context.Background()
	l := NewLocal(newFakeClock(t0))
	buf := []byte("tenant-a")
	key := unsafe.String(&buf[0], len(buf))
	if d, _ := l.Take(ctx, key, 1, 1, 1); !d.Allowed {
		t.Fatal("first take denied")
	}
	if d, _ := l.Take(ctx, key, 1, 1, 0); d.Remaining != 0 { // update path: must not store the alias either
		t.Fatalf("peek: %+v", d)
	}
	if d, _ := l.Use(ctx, key, Day, 1, 1); !d.Allowed {
		t.Fatal("first use denied")
	}
	copy(buf, "tenant-b")
	if d, _ := l.Take(ctx, "tenant-a", 1, 1, 1); d.Allowed {
		t.Fatal("tenant-a's bucket was lost when the caller reused its buffer")
	}
	if d, _ := l.Take(ctx, "tenant-b", 1, 1, 1); !d.Allowed {
		t.Fatal("tenant-b inherited tenant-a's bucket")
	}
	if d, _ := l.Use(ctx, "tenant-a", Day, 1, 1); d.Allowed {
		t.Fatal("tenant-a's quota was lost when the caller reused its buffer")
	}
}

func TestLocalNilClockAndMonotonic(t *testing.T) {
	l := NewLocal(nil)
	if _, ok := l.clock.(SystemClock); !ok {
		t.Fatalf("nil clock became %T, want SystemClock", l.clock)
	}
	d, err := l.Take(context.Background(), "k", 1, 1, 1)
	if err != nil || !d.Allowed || d.ResetAfter <= 0 || d.ResetAfter > time.Second {
		t.Fatalf("Take = %+v, %v", d, err)
	}
}

func BenchmarkLocalTake(b *testing.B) {
	ctx := context.Background()
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "bench-key-" + strconv.Itoa(i)
	}
	b.Run("serial", func(b *testing.B) {
		l := NewLocal(nil)
		i := 0
		for b.Loop() {
			l.Take(ctx, keys[i&4095], 1e6, 1000, 1)
			i++
		}
	})
	b.Run("parallel/one-key", func(b *testing.B) {
		l := NewLocal(nil)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Take(ctx, "hot", 1e6, 1000, 1)
			}
		})
	})
	b.Run("parallel/many-keys", func(b *testing.B) {
		l := NewLocal(nil)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				l.Take(ctx, keys[i&4095], 1e6, 1000, 1)
				i += 7
			}
		})
	})
}

func BenchmarkLocalUse(b *testing.B) {
	ctx := context.Background()
	l := NewLocal(nil)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Use(ctx, "plan-key", Month, MaxQuota, 1)
		}
	})
}
