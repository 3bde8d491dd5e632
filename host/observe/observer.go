package observe

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// StageSettings are a stage's observability settings. Empty fields take
// the Observer's defaults (Options.Defaults).
type StageSettings struct {
	// AccessLog is the access log format: "json", "clf", a $context
	// template, or "off".
	AccessLog string
	// AccessLogDest is where access log lines go: "stdout", "stderr", a
	// file path, or several, comma-separated.
	AccessLogDest string
	// ExecLog is the execution log level: "off", "error" or "info".
	ExecLog string
	// ExecLogDest is where execution log lines go (as AccessLogDest).
	ExecLogDest string
	// Capture, when set with a positive SampleRate, writes a share of
	// the stage's requests whole.
	Capture *CaptureSettings
}

// CaptureSettings configure full request/response capture.
type CaptureSettings struct {
	// SampleRate is the share of requests captured, 0 to 1.
	SampleRate float64
	// MaxBodyBytes caps each captured body (default 8 KiB).
	MaxBodyBytes int
	// RedactHeaders are header names whose values are replaced, besides
	// Authorization, Proxy-Authorization, Cookie, Set-Cookie and
	// X-Api-Key.
	RedactHeaders []string
	// RedactFields are JSON body field names whose values are replaced,
	// at any depth.
	RedactFields []string
	// Destination is where captures go (as AccessLogDest); default the
	// execution log's destination.
	Destination string
}

// ExecLevel is an execution log level.
type ExecLevel uint8

// Execution log levels.
const (
	ExecOff   ExecLevel = iota // nothing
	ExecError                  // plugin failures and error lines
	ExecInfo                   // every plugin callback and log line
)

// ParseExecLevel parses "off", "error" or "info".
func ParseExecLevel(s string) (ExecLevel, error) {
	switch s {
	case "off", "":
		return ExecOff, nil
	case "error":
		return ExecError, nil
	case "info":
		return ExecInfo, nil
	}
	return ExecOff, fmt.Errorf("execution log level %q: want off, error or info", s)
}

// Options configure an Observer.
type Options struct {
	// Defaults apply to stages without settings, and to the fields a
	// stage leaves empty. Zero: access and execution logs off, to stdout.
	Defaults StageSettings
	// Rotation sizes file destinations.
	Rotation Rotation
	// BufferBytes bounds each destination's buffer (default
	// DefaultBufferBytes).
	BufferBytes int
	// Stdout and Stderr replace the process's (tests).
	Stdout, Stderr io.Writer
	// Sources give the metrics read at scrape time.
	Sources Sources
}

// Observer holds the stages' compiled settings, the log destinations and
// the metrics. Its methods are safe for concurrent use.
type Observer struct {
	opts    Options
	metrics *Metrics
	def     *Stage

	mu      sync.Mutex // Configure
	stages  atomic.Pointer[map[string]*Stage]
	writers atomic.Pointer[map[string]*AsyncWriter] // by destination
}

// New returns an Observer; it fails when the defaults are invalid.
func New(opts Options) (*Observer, error) {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	o := &Observer{opts: opts}
	src := opts.Sources
	src.Writers = o.Writers
	o.metrics = NewMetrics(src)
	writers := map[string]*AsyncWriter{}
	def, err := o.compile("", StageSettings{}, writers)
	if err != nil {
		closeUnused(writers, nil)
		return nil, fmt.Errorf("default logs: %w", err)
	}
	o.def = def
	o.writers.Store(&writers)
	o.stages.Store(&map[string]*Stage{})
	return o, nil
}

// Metrics returns the gateway's metrics.
func (o *Observer) Metrics() *Metrics { return o.metrics }

// Stage returns a stage's compiled settings (the defaults for a stage
// without its own). It is called per request: one atomic load and a map
// lookup.
func (o *Observer) Stage(name string) *Stage {
	if s, ok := (*o.stages.Load())[name]; ok {
		return s
	}
	return o.def
}

// Check validates settings without applying them: formats, levels,
// destinations and the capture rate.
func Check(s StageSettings) error {
	if s.AccessLog != "" && s.AccessLog != FormatOff {
		if _, err := ParseFormat(s.AccessLog); err != nil {
			return fmt.Errorf("access log format: %w", err)
		}
	}
	if _, err := ParseExecLevel(s.ExecLog); err != nil {
		return err
	}
	for _, d := range []string{s.AccessLogDest, s.ExecLogDest} {
		if err := CheckDestination(d); err != nil {
			return err
		}
	}
	if c := s.Capture; c != nil {
		if c.SampleRate < 0 || c.SampleRate > 1 {
			return fmt.Errorf("capture sample rate %v: want 0 to 1 (0.1 captures one request in ten)", c.SampleRate)
		}
		if c.MaxBodyBytes < 0 {
			return fmt.Errorf("capture max body bytes %d: want 0 (the default, 8 KiB) or more", c.MaxBodyBytes)
		}
		if err := CheckDestination(c.Destination); err != nil {
			return err
		}
	}
	return nil
}

// Configure applies the stages' settings; stages not listed get the
// defaults. Formats are compiled and files opened here, once per change.
// A stage whose settings fail keeps its previous ones (the error says
// which and why); the others are applied.
func (o *Observer) Configure(stages map[string]StageSettings) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	old := *o.stages.Load()
	writers := maps.Clone(*o.writers.Load())
	next := map[string]*Stage{}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(stages)) {
		st, err := o.compile(name, stages[name], writers)
		if err != nil {
			errs = append(errs, fmt.Errorf("stage %s: %w", name, err))
			if prev, ok := old[name]; ok {
				next[name] = prev
			}
			continue
		}
		next[name] = st
	}
	o.stages.Store(&next)
	// Writers no one uses any more close once the requests that may
	// still hold them are done.
	used := map[*AsyncWriter]bool{}
	for _, st := range append(slices.Collect(maps.Values(next)), o.def) {
		for _, w := range st.writers {
			used[w] = true
		}
	}
	retired := closeUnused(writers, used)
	o.writers.Store(&writers)
	if len(retired) > 0 {
		time.AfterFunc(5*time.Second, func() {
			for _, w := range retired {
				_ = w.Close() // a file that fails to close has nothing left to tell
			}
		})
	}
	return errors.Join(errs...)
}

// closeUnused removes the writers not in used from writers and returns
// them.
func closeUnused(writers map[string]*AsyncWriter, used map[*AsyncWriter]bool) []*AsyncWriter {
	var out []*AsyncWriter
	for k, w := range writers {
		if !used[w] {
			delete(writers, k)
			out = append(out, w)
		}
	}
	if used == nil {
		for _, w := range out {
			_ = w.Close()
		}
	}
	return out
}

// Writers returns the open log writers, by destination.
func (o *Observer) Writers() []*AsyncWriter {
	m := *o.writers.Load()
	out := slices.Collect(maps.Values(m))
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Flush waits until every line logged so far reached its destination.
func (o *Observer) Flush() {
	for _, w := range o.Writers() {
		w.Flush()
	}
}

// Close flushes and closes every destination.
func (o *Observer) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, w := range *o.writers.Load() {
		_ = w.Close() // nothing to do about a failed close at shutdown
	}
	o.writers.Store(&map[string]*AsyncWriter{})
}

// writerFor returns the writer of a destination list, opening what is
// missing in writers.
func (o *Observer) writerFor(dest string, writers map[string]*AsyncWriter, st *Stage) (io.Writer, error) {
	var ws multiWriter
	for _, d := range splitDest(dest) {
		w := writers[d]
		if w == nil {
			var dst io.Writer
			switch d {
			case "stdout":
				dst = o.opts.Stdout
			case "stderr":
				dst = o.opts.Stderr
			default:
				f, err := openFile(d, o.opts.Rotation)
				if err != nil {
					return nil, err
				}
				dst = f
			}
			w = NewAsyncWriter(d, dst, o.opts.BufferBytes)
			writers[d] = w
		}
		ws = append(ws, w)
		st.writers = append(st.writers, w)
	}
	switch len(ws) {
	case 0:
		return nil, fmt.Errorf("no destination: give stdout, stderr or a file path")
	case 1:
		return ws[0], nil
	}
	return ws, nil
}

// Stage is a stage's compiled settings.
type Stage struct {
	name    string
	format  *Format
	access  io.Writer
	accessZ zerolog.Logger
	level   ExecLevel
	exec    zerolog.Logger
	capture *capture
	writers []*AsyncWriter
}

func (o *Observer) compile(name string, s StageSettings, writers map[string]*AsyncWriter) (*Stage, error) {
	d := o.opts.Defaults
	if s.AccessLog == "" {
		s.AccessLog = d.AccessLog
	}
	if s.AccessLogDest == "" {
		s.AccessLogDest = d.AccessLogDest
	}
	if s.AccessLogDest == "" {
		s.AccessLogDest = "stdout"
	}
	if s.ExecLog == "" {
		s.ExecLog = d.ExecLog
	}
	if s.ExecLogDest == "" {
		s.ExecLogDest = d.ExecLogDest
	}
	if s.ExecLogDest == "" {
		s.ExecLogDest = "stdout"
	}
	if s.Capture == nil {
		s.Capture = d.Capture
	}
	if err := Check(s); err != nil {
		return nil, err
	}
	st := &Stage{name: name}
	if s.AccessLog != "" && s.AccessLog != FormatOff {
		f, _ := ParseFormat(s.AccessLog) // checked
		w, err := o.writerFor(s.AccessLogDest, writers, st)
		if err != nil {
			return nil, fmt.Errorf("access log: %w", err)
		}
		st.format, st.access, st.accessZ = f, w, zerolog.New(w)
	}
	st.level, _ = ParseExecLevel(s.ExecLog)
	if st.level != ExecOff {
		w, err := o.writerFor(s.ExecLogDest, writers, st)
		if err != nil {
			return nil, fmt.Errorf("execution log: %w", err)
		}
		st.exec = zerolog.New(w).With().Str("log", "exec").Logger()
	}
	if c := s.Capture; c != nil && c.SampleRate > 0 {
		dest := c.Destination
		if dest == "" {
			dest = s.ExecLogDest
		}
		w, err := o.writerFor(dest, writers, st)
		if err != nil {
			return nil, fmt.Errorf("capture: %w", err)
		}
		st.capture = newCapture(c, w)
	}
	return st, nil
}

var textBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// AccessLog reports whether the stage writes access log lines.
func (s *Stage) AccessLog() bool { return s.format != nil }

// LogAccess writes r's access log line (nothing when the log is off).
func (s *Stage) LogAccess(r *Record) {
	if s.format == nil {
		return
	}
	if s.format.json {
		writeJSON(&s.accessZ, r)
		return
	}
	bp := textBufs.Get().(*[]byte)
	s.format.write(s.access, nil, r, bp)
	textBufs.Put(bp)
}

// ExecLevel returns the stage's execution log level.
func (s *Stage) ExecLevel() ExecLevel { return s.level }

// PluginCall is one plugin callback for the execution log.
type PluginCall struct {
	RequestID, Stage string
	Plugin, Digest   string
	Phase, Verdict   string
	Duration         time.Duration
	Err              error
}

// LogCall writes a plugin callback to the execution log: every callback at
// info, failed ones at error.
func (s *Stage) LogCall(c *PluginCall) {
	if s.level == ExecOff || (s.level == ExecError && c.Err == nil) {
		return
	}
	e := s.exec.Info()
	if c.Err != nil {
		e = s.exec.Error().Str("error", c.Err.Error()).Str("kind", ErrorKind(c.Err))
	}
	e.Str("requestId", c.RequestID).Str("stage", c.Stage).
		Str("plugin", c.Plugin).Str("digest", c.Digest).
		Str("phase", c.Phase).Str("verdict", c.Verdict).
		Float64("durationMs", ms(c.Duration)).Send()
}

// LogPlugin writes a plugin's own log line (level trace to critical) to
// the execution log: every line at info, error and critical ones at
// error.
func (s *Stage) LogPlugin(reqID, stage, plugin, digest, level, msg string) {
	if s.level == ExecOff || (s.level == ExecError && level != "error" && level != "critical") {
		return
	}
	var e *zerolog.Event
	switch level {
	case "error", "critical":
		e = s.exec.Error()
	case "warn":
		e = s.exec.Warn()
	case "debug", "trace":
		e = s.exec.Debug()
	default:
		e = s.exec.Info()
	}
	e.Str("requestId", reqID).Str("stage", stage).Str("plugin", plugin).Str("digest", digest).
		Str("pluginLevel", level).Str("msg", msg).Send()
}

// LogError writes a gateway-side failure of a request (an upstream error,
// a plugin skipped by fail_open) at error level.
func (s *Stage) LogError(reqID, stage, msg string) {
	if s.level == ExecOff {
		return
	}
	s.exec.Error().Str("requestId", reqID).Str("stage", stage).Str("msg", msg).Send()
}
