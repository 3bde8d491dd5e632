//go:build unix

package policy

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/internal/redistest"
)

func TestRedisFrozenThenThawed(t *testing.T) {
	// A server that stops answering (SIGSTOP: a hung host, a network
	// partition) makes Take fail within the client's read timeout (250 ms
	// here), not hang; it works again once the server answers.
	srv := redistest.Start(t)
	ctx := context.Background()
	r := NewRedis(srv.Client(t), nil, "gw:")
	if _, err := r.Take(ctx, "k", 0.01, 5, 1); err != nil {
		t.Fatal(err)
	}
	proc := srv.Process()
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			proc.Signal(syscall.SIGCONT)
		}
	}
	defer thaw()

	start := time.Now()
	_, err := r.Take(ctx, "k", 0.01, 5, 1)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Take against a frozen server: no error")
	}
	if elapsed > time.Second {
		t.Fatalf("Take against a frozen server failed after %v, want about the 250 ms read timeout", elapsed)
	}
	t.Logf("frozen: Take failed in %v: %v", elapsed, err)

	thaw()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := r.Take(ctx, "k", 0.01, 5, 1)
		if err == nil {
			// 4 left after the first take; the timed-out take may or may
			// not have run once the server woke up (3 or 2 left now).
			if !d.Allowed || (d.Remaining != 3 && d.Remaining != 2) {
				t.Fatalf("after thaw: %+v, want the bucket state kept", d)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Take still failing 10 s after the server thawed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
