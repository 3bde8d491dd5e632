package conformance

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// isolateEnv names the subtest a child process runs in-process.
const isolateEnv = "CONFORMANCE_ISOLATED"

// NoIsolationEnv, when set, runs the abuse cases in the test process
// itself (for debugging with a debugger or a profiler).
const NoIsolationEnv = "CONFORMANCE_NO_ISOLATION"

// isolated runs f for t in a child process: the test binary re-executed
// for this one subtest. A host that hangs the whole process (a guest
// spinning in native code blocks the Go scheduler and the GC) or crashes
// it (a panic in a background goroutine) then fails this test only.
func isolated(t *testing.T, limit time.Duration, f func(t *testing.T)) {
	t.Helper()
	if os.Getenv(isolateEnv) == t.Name() || os.Getenv(NoIsolationEnv) != "" {
		f(t)
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Logf("cannot re-execute the test binary (%v); running in-process", err)
		f(t)
		return
	}
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	// The child's own test timeout fires first unless its runtime is
	// stalled; then the kill at limit reports the stall.
	cmd := exec.CommandContext(ctx, exe, "-test.run="+strings.Join(parts, "/"), "-test.v", "-test.count=1",
		"-test.timeout="+(limit*2/3).String())
	cmd.Env = append(os.Environ(), isolateEnv+"="+t.Name())
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	report := childReport(string(out))
	switch {
	case ctx.Err() != nil:
		t.Errorf("host discrepancy: the whole process hung: killed after %v; its Go test timeout (%v) did not fire, so the Go runtime itself was stalled\n%s",
			limit, limit*2/3, report)
	case err != nil:
		var ee *exec.ExitError
		if strings.Contains(string(out), "panic: test timed out") {
			t.Errorf("host discrepancy: the child process timed out\n%s", report)
		} else if errors.As(err, &ee) && strings.Contains(string(out), "\npanic: ") && !strings.Contains(string(out), "--- FAIL") {
			t.Errorf("host discrepancy: the process crashed\n%s", report)
		} else {
			t.Errorf("failed (in a child process):\n%s", report)
		}
	case !strings.Contains(string(out), "--- PASS") && !strings.Contains(string(out), "--- SKIP"):
		t.Errorf("the child process ran no test:\n%s", report)
	default:
		t.Logf("passed in a child process:\n%s", report)
	}
}

// childReport keeps the informative lines of a child's output: test
// results and logs, and the first goroutine of a panic.
func childReport(out string) string {
	var keep []string
	lines := strings.Split(out, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "=== RUN"), strings.HasPrefix(l, "PASS"), strings.HasPrefix(l, "ok "), l == "":
			continue
		case strings.HasPrefix(l, "panic: "), strings.HasPrefix(l, "fatal error: "):
			end := min(len(lines), i+30)
			keep = append(keep, lines[i:end]...)
			i = end
		default:
			keep = append(keep, l)
		}
		if len(keep) > 150 {
			keep = append(keep, "…")
			break
		}
	}
	return strings.Join(keep, "\n")
}
