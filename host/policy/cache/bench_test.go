package cache

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

const benchKeys = 1024

func benchCache(b *testing.B) (*Cache, []string) {
	c := newCache(b, Options{MaxBytes: 64 << 20})
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = "GET /pets/" + strconv.Itoa(i)
		if !c.Set(keys[i], entry("a small cached response body"), time.Hour) {
			b.Fatal("Set failed")
		}
	}
	for _, k := range keys {
		if _, ok := c.Get(k); !ok {
			b.Fatalf("%s not cached", k)
		}
	}
	return c, keys
}

func BenchmarkGetHitParallel(b *testing.B) {
	c, keys := benchCache(b)
	var seed atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		for pb.Next() {
			if _, ok := c.Get(keys[i%benchKeys]); !ok {
				b.Error("miss")
				return
			}
			i++
		}
	})
}

func BenchmarkLookupHitParallel(b *testing.B) {
	c, keys := benchCache(b)
	ctx := context.Background()
	var seed atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		for pb.Next() {
			if e, _, _ := c.Lookup(ctx, keys[i%benchKeys]); e == nil {
				b.Error("miss")
				return
			}
			i++
		}
	})
}

// BenchmarkLookupMissFill measures the miss path: Lookup, Fill.Done (with the
// L1 write applied), on distinct keys.
func BenchmarkLookupMissFill(b *testing.B) {
	c := newCache(b, Options{MaxBytes: 256 << 20})
	ctx := context.Background()
	e := entry("a small cached response body")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_, fill, err := c.Lookup(ctx, "miss-"+strconv.Itoa(i))
		if err != nil || fill == nil {
			b.Fatal("expected a fill")
		}
		fill.Done(e, time.Hour)
		i++
	}
}
