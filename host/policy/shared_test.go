package policy

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/wasmgate/wasmgate/internal/redistest"
)

func TestRedisShared(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	a := NewRedisShared(srv.Client(t), "gw:", 16)
	b := NewRedisShared(srv.Client(t), "gw:", 16) // a second gateway

	if _, _, found, err := a.GetShared(ctx, "k"); found || err != nil {
		t.Fatalf("missing key: found %v, err %v", found, err)
	}
	if ok, err := a.SetShared(ctx, "k", []byte("x"), 7); ok || err != nil {
		t.Fatalf("set with a token on a missing key: matched %v, err %v; want a mismatch", ok, err)
	}
	if ok, err := a.SetShared(ctx, "k", []byte("one"), 0); !ok || err != nil {
		t.Fatalf("set with token 0: %v %v", ok, err)
	}
	v, cas, found, err := b.GetShared(ctx, "k")
	if !found || err != nil || string(v) != "one" || cas == 0 {
		t.Fatalf("the other gateway reads %q %d %v %v", v, cas, found, err)
	}
	if ok, _ := b.SetShared(ctx, "k", []byte("two"), cas); !ok {
		t.Fatal("set with the current token refused")
	}
	if ok, _ := a.SetShared(ctx, "k", []byte("three"), cas); ok {
		t.Fatal("set with a stale token accepted")
	}
	v2, cas2, _, _ := a.GetShared(ctx, "k")
	if string(v2) != "two" || cas2 == cas {
		t.Fatalf("after the writes: %q token %d (was %d)", v2, cas2, cas)
	}
	if _, err := a.SetShared(ctx, "big", []byte(strings.Repeat("x", 17)), 0); err == nil || !strings.Contains(err.Error(), "over the 16-byte limit") {
		t.Fatalf("oversized value: %v", err)
	}
	if ok, err := a.SetShared(ctx, "empty", nil, 0); !ok || err != nil {
		t.Fatalf("empty value: %v %v", ok, err)
	}
	if v, _, found, _ := b.GetShared(ctx, "empty"); !found || len(v) != 0 {
		t.Fatalf("empty value read back as %q %v", v, found)
	}

	// A counter incremented with CAS retries from two gateways at once
	// loses no increment.
	if ok, _ := a.SetShared(ctx, "n", []byte("0"), 0); !ok {
		t.Fatal("counter")
	}
	var wg sync.WaitGroup
	for _, s := range []*RedisShared{a, b, a, b} {
		wg.Add(1)
		go func(s *RedisShared) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				for {
					v, cas, _, err := s.GetShared(ctx, "n")
					if err != nil {
						t.Error(err)
						return
					}
					var n int
					for _, c := range v {
						n = n*10 + int(c-'0')
					}
					if ok, err := s.SetShared(ctx, "n", []byte(strconv.Itoa(n+1)), cas); err != nil {
						t.Error(err)
						return
					} else if ok {
						break
					}
				}
			}
		}(s)
	}
	wg.Wait()
	if v, _, _, _ := a.GetShared(ctx, "n"); string(v) != "200" {
		t.Fatalf("counter %q, want 200", v)
	}

	srv.Stop()
	if _, _, _, err := a.GetShared(ctx, "k"); err == nil {
		t.Fatal("no error with Redis down")
	}
	if _, err := a.SetShared(ctx, "k", []byte("x"), 0); err == nil {
		t.Fatal("no error with Redis down")
	}
}
