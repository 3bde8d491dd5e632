package conformance

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/abi"
)

// cStream drives the C guest's stream: request headers, then (unless
// headersOnly) the whole request body in one chunk, response headers and
// the whole response body.
func cStream(p Plugin, x *Exchange, headersOnly bool) error {
	x.Arrive(PhaseStreamCreate)
	s, err := p.NewStream(x)
	if err != nil {
		return fmt.Errorf("NewStream: %w", err)
	}
	steps := []phaseCall{
		{PhaseRequestHeaders, func() (abi.Action, error) { return s.OnRequestHeaders(x.RequestHeaders.Len(), headersOnly) }},
	}
	if !headersOnly {
		steps = append(steps,
			phaseCall{PhaseRequestBody, func() (abi.Action, error) { return s.OnRequestBody(len(x.RequestBody.B), true) }},
			phaseCall{PhaseResponseHeaders, func() (abi.Action, error) { return s.OnResponseHeaders(x.ResponseHeaders.Len(), false) }},
			phaseCall{PhaseResponseBody, func() (abi.Action, error) { return s.OnResponseBody(len(x.ResponseBody.B), true) }},
		)
	}
	for _, st := range steps {
		x.Arrive(st.ph)
		if _, err := st.call(); err != nil {
			_ = s.Close() // keep the original error
			return fmt.Errorf("%s: %w", st.ph, err)
		}
	}
	x.Arrive(PhaseDone)
	if err := s.Close(); err != nil {
		return fmt.Errorf("Close: %w", err)
	}
	return nil
}

// cLine returns the C guest's log line starting with prefix.
func cLine(t *testing.T, sink *logSink, prefix string) string {
	t.Helper()
	for _, l := range sink.snapshot() {
		if strings.HasPrefix(l.Msg, prefix) {
			return l.Msg
		}
	}
	t.Errorf("no log line %q:%s", prefix, sink.dump())
	return ""
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte((i*7+int(seed))%26)
	}
	return b
}

func runCGuest(t *testing.T, target Target, nonce string) {
	t.Run("echo_full_request", func(t *testing.T) {
		t.Parallel()
		key := nonce + "e"
		p, sink := harness{t, target}.mustPlugin(CGuestWasm, PluginOptions{Name: "cguest", Config: []byte("echo:" + key), PoolMin: 1, PoolMax: 1})
		if !strings.Contains(cLine(t, sink, "c: configure"), "initialized=1") {
			t.Errorf("host discrepancy: the C guest's constructors did not run (_initialize not called)")
		}
		// wasi fd_write to stdout reaches the log at info.
		if stdout := sink.find("c: stdout configure"); len(stdout) != 1 || stdout[0].Level != abi.LogInfo {
			t.Errorf("host discrepancy: stdout lines %q, want one at info", stdout)
		}
		for i := 1; i <= 2; i++ {
			x := NewExchange()
			if err := cStream(p, x, false); err != nil {
				t.Fatalf("host discrepancy: request %d: %v%s", i, err, sink.dump())
			}
			for k, want := range map[string]string{"x-c-path": FixturePath, "x-c-plugin": "cguest", "x-c-count": strconv.Itoa(i)} {
				if v, _ := x.RequestHeaders.Get(k); v != want {
					t.Errorf("host discrepancy: request %d: %s = %q, want %q", i, k, v, want)
				}
			}
			bodyIs(t, "request body", x.RequestBody, strings.ToUpper(FixtureRequestBody))
			if v, _ := x.ResponseHeaders.Get("content-type"); v != "text/x-c" {
				t.Errorf("host discrepancy: content-type %q, want text/x-c", v)
			}
			if v := x.ResponseHeaders.Values("set-cookie"); len(v) != 0 {
				t.Errorf("host discrepancy: set-cookie %q not removed", v)
			}
			bodyIs(t, "response body", x.ResponseBody, FixtureResponseBody+" [c]")
		}
		if got := len(sink.find("c: log ctx=")); got != 2 {
			t.Errorf("host discrepancy: proxy_on_log ran %d times for 2 requests", got)
		}
		if ms := p.Metrics(); ms != nil {
			if !slices.ContainsFunc(ms, func(m Metric) bool {
				return strings.Contains(m.Name, "c_requests_"+key) && m.Type == abi.MetricCounter && m.Value == 2
			}) {
				t.Errorf("host discrepancy: no counter c_requests_%s at 2 in %+v", key, ms)
			}
		}
	})
	t.Run("concurrent_streams", func(t *testing.T) {
		t.Parallel()
		const workers, each = 8, 10
		p, sink := harness{t, target}.mustPlugin(CGuestWasm, PluginOptions{Name: "cguest", Config: []byte("echo:" + nonce + "c"),
			PoolMin: 2, PoolMax: 4, CallTimeout: 10 * time.Second})
		// The first request creates the shared counter; the rest race
		// on it with compare-and-swap.
		if err := cStream(p, NewExchange(), true); err != nil {
			t.Fatalf("host discrepancy: %v%s", err, sink.dump())
		}
		var mu sync.Mutex
		counts := map[string]int{}
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					x := NewExchange()
					if err := cStream(p, x, i%2 == 0); err != nil {
						t.Errorf("host discrepancy: %v", err)
						return
					}
					v, _ := x.RequestHeaders.Get("x-c-count")
					mu.Lock()
					counts[v]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		for i := 2; i <= workers*each+1; i++ {
			if counts[strconv.Itoa(i)] != 1 {
				t.Errorf("host discrepancy: shared-data count %d seen %d times; compare-and-swap is not atomic across instances (counts %v)", i, counts[strconv.Itoa(i)], counts)
				break
			}
		}
	})
	t.Run("giant_header_map/add_10000", func(t *testing.T) {
		t.Parallel()
		p, sink := harness{t, target}.mustPlugin(CGuestWasm, PluginOptions{Name: "cguest", Config: []byte("giant-add"),
			PoolMin: 1, PoolMax: 1, CallTimeout: 60 * time.Second})
		x := NewExchange()
		if err := cStream(p, x, true); err != nil {
			t.Fatalf("host discrepancy: %v", err)
		}
		n := len(FixtureRequestHeaders) + 10000
		if x.RequestHeaders.Len() != n {
			t.Errorf("host discrepancy: %d request headers, want %d", x.RequestHeaders.Len(), n)
		}
		size := abi.EncodedMapSize(x.RequestHeaders.Pairs)
		want := fmt.Sprintf("c: giant-add failures=0 size_status=0 size=%d pairs_status=0 bytes=%d pairs=%d", size, size, n)
		if got := cLine(t, sink, "c: giant-add"); got != want {
			t.Errorf("host discrepancy:\n got %s\nwant %s", got, want)
		}
	})
	t.Run("giant_header_map/read_1mb_value", func(t *testing.T) {
		t.Parallel()
		p, sink := harness{t, target}.mustPlugin(CGuestWasm, PluginOptions{Name: "cguest", Config: []byte("giant-read"),
			PoolMin: 1, PoolMax: 1, CallTimeout: 60 * time.Second})
		big := pattern(1<<20, 3)
		x := NewExchange()
		x.RequestHeaders.Add("x-big", string(big))
		pairs := append([][2]string(nil), x.RequestHeaders.Pairs...)
		if err := cStream(p, x, true); err != nil {
			t.Fatalf("host discrepancy: %v", err)
		}
		want := fmt.Sprintf("c: giant-read value_status=0 len=%d fnv=%d", len(big), fnv32(big))
		if got := cLine(t, sink, "c: giant-read value"); got != want {
			t.Errorf("host discrepancy:\n got %s\nwant %s", got, want)
		}
		want = fmt.Sprintf("c: giant-read pairs_status=0 bytes=%d pairs=%d", abi.EncodedMapSize(pairs), len(pairs))
		if got := cLine(t, sink, "c: giant-read pairs"); got != want {
			t.Errorf("host discrepancy:\n got %s\nwant %s", got, want)
		}
	})
	t.Run("body_10mb_read_and_rewrite", func(t *testing.T) {
		t.Parallel()
		p, sink := harness{t, target}.mustPlugin(CGuestWasm, PluginOptions{Name: "cguest", Config: []byte("big-body"),
			PoolMin: 1, PoolMax: 1, CallTimeout: 60 * time.Second})
		const n = 10 << 20
		body := pattern(n, 5)
		want := make([]byte, n)
		for i, c := range body {
			want[i] = c + 1
		}
		x := NewExchange()
		x.RequestBody.B = body
		if err := cStream(p, x, false); err != nil {
			t.Fatalf("host discrepancy: %v%s", err, sink.dump())
		}
		line := fmt.Sprintf("c: request_body size=%d got=%d status=0 fnv=%d", n, n, fnv32(want))
		if got := cLine(t, sink, "c: request_body"); got != line {
			t.Errorf("host discrepancy:\n got %s\nwant %s", got, line)
		}
		if len(x.RequestBody.B) != n || fnv32(x.RequestBody.B) != fnv32(want) {
			t.Errorf("host discrepancy: rewritten body has %d bytes and does not match", len(x.RequestBody.B))
		}
	})
}
