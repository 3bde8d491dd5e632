package conformance

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/abi"
)

// probeCase is one probe-guest test: a script, how to drive the plugin,
// and extra checks.
type probeCase struct {
	name        string
	steps       []Step
	ret         map[Phase]uint32
	headersOnly bool                   // drive the stream with request headers only
	setup       func(x *Exchange)      // adjust the exchange before the stream
	opts        func(o *PluginOptions) // adjust the plugin options
	pause       func(t *testing.T, env *probeEnv)
	check       func(t *testing.T, env *probeEnv)
}

// probeEnv is what a probe case's checks can inspect.
type probeEnv struct {
	p    Plugin
	sink *logSink
	opts PluginOptions
	x    *Exchange // nil when the case has no stream steps
	run  *streamRun
}

// resultsOf returns the results of step i, in log order.
func (e *probeEnv) resultsOf(i int) []Result {
	var out []Result
	for _, r := range e.sink.results() {
		if r.Step == i {
			out = append(out, r)
		}
	}
	return out
}

func (a Arg) String() string {
	switch a.kind {
	case argData:
		if a.pair {
			return fmt.Sprintf("%s,%d", quote(a.data), len(a.data))
		}
		return "&" + quote(a.data)
	case argOut:
		return fmt.Sprintf("&slot%d", a.lo)
	case argSlot:
		return fmt.Sprintf("slot%d", a.lo)
	case argMemEnd:
		return fmt.Sprintf("memend%+d", int32(a.lo))
	case argCtx:
		return "ctx"
	case argRootCtx:
		return "root_ctx"
	}
	v := uint64(a.hi)<<32 | uint64(a.lo)
	if a.hi == 0xffff_ffff {
		return strconv.FormatInt(int64(v), 10)
	}
	if v >= 0x10000 {
		return fmt.Sprintf("%#x", v)
	}
	return strconv.FormatUint(v, 10)
}

func quote(b []byte) string {
	if len(b) > 40 {
		return strconv.Quote(string(b[:40])) + "…"
	}
	return strconv.Quote(string(b))
}

func (s Step) String() string {
	if s.control != 0 {
		return fmt.Sprintf("control %#x in %s", s.control, s.Phase)
	}
	args := make([]string, len(s.Args))
	for i, a := range s.Args {
		args[i] = a.String()
	}
	return fmt.Sprintf("%s(%s) in %s", s.Fn, strings.Join(args, ", "), s.Phase)
}

func statusList(sts []abi.Status) string {
	s := make([]string, len(sts))
	for i, st := range sts {
		s[i] = st.String()
	}
	return strings.Join(s, " or ")
}

// runProbe runs one probe case on a fresh plugin.
func (h harness) runProbe(c probeCase) {
	t := h.t
	cfg, err := Script{Steps: c.steps, Ret: c.ret}.Encode()
	if err != nil {
		t.Fatalf("bad script: %v", err)
	}
	opts := PluginOptions{
		Name:        "probe",
		Config:      cfg,
		PoolMin:     1,
		PoolMax:     1,
		CallTimeout: 5 * time.Second,
	}
	has := func(f func(Phase) bool) bool {
		return slices.ContainsFunc(c.steps, func(s Step) bool { return f(s.Phase) })
	}
	if has(func(p Phase) bool { return p == PhaseVMStart }) {
		opts.VMConfig = cfg
	}
	if c.opts != nil {
		c.opts(&opts)
	}
	p, sink := h.mustPlugin(ProbeWasm, opts)
	env := &probeEnv{p: p, sink: sink, opts: opts}
	defer func() {
		if t.Failed() {
			t.Logf("plugin log:%s", sink.dump())
		}
	}()
	if has(Phase.isStream) || c.pause != nil {
		env.x = NewExchange()
		if c.setup != nil {
			c.setup(env.x)
		}
		f := flowFull
		if c.headersOnly {
			f = flowHeadersOnly
		}
		var pause func()
		if c.pause != nil {
			pause = func() { c.pause(t, env) }
		}
		run, ph, err := runStream(p, env.x, f, pause)
		env.run = run
		if err != nil {
			t.Errorf("host discrepancy: stream failed in %s: %v", ph, err)
		}
	}
	// Callbacks the host invokes on its own: wait for their steps.
	for i, s := range c.steps {
		if s.Phase == PhaseTick || s.Phase == PhaseQueueReady {
			if !eventually(5*time.Second, func() bool { return len(env.resultsOf(i)) > 0 }) {
				t.Errorf("host discrepancy: %s was not called within 5s (step %d: %s)", s.Phase, i, s)
			}
		}
	}
	for i, s := range c.steps {
		rs := env.resultsOf(i)
		if len(rs) == 0 {
			if s.Phase != PhaseTick && s.Phase != PhaseQueueReady {
				t.Errorf("step %d did not run: %s", i, s)
			}
			continue
		}
		r := rs[0]
		if s.want != nil && !slices.Contains(s.want, r.Status) {
			t.Errorf("host discrepancy: step %d %s returned %s, want %s", i, s, r.Status.String(), statusList(s.want))
			continue
		}
		if s.check != nil {
			st := &stepT{TB: t, prefix: fmt.Sprintf("step %d %s: ", i, s)}
			s.check(st, r)
		}
	}
	if c.check != nil {
		c.check(t, env)
	}
}

// stepT prefixes a step's description to its check failures.
type stepT struct {
	testing.TB
	prefix string
}

func (s *stepT) Errorf(format string, args ...any) {
	s.TB.Helper()
	s.TB.Errorf(s.prefix+format, args...)
}

func (s *stepT) Fatalf(format string, args ...any) {
	s.TB.Helper()
	s.TB.Fatalf(s.prefix+format, args...)
}
