package observe

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"
)

// AsyncWriter buffers whole lines in memory and writes them to its
// destination from a background goroutine, so the goroutine that logs
// never waits for the disk. Each Write must be one or more whole lines:
// when the buffer holds MaxBuffer bytes the line is dropped and counted,
// never cut.
type AsyncWriter struct {
	name string
	dst  io.Writer
	max  int

	mu      sync.Mutex
	buf     []byte
	closed  bool
	flushed chan struct{} // closed after each write-out (Flush waits on it)

	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	dropped atomic.Uint64
	lines   atomic.Uint64
	errs    atomic.Uint64
}

// DefaultBufferBytes bounds what an AsyncWriter holds while its
// destination is slow (lines beyond are dropped).
const DefaultBufferBytes = 4 << 20

// flushEvery is how often buffered lines are written when the buffer is
// not filling up; flushAt is the size that writes them at once.
const (
	flushEvery = 200 * time.Millisecond
	flushAt    = 64 << 10
)

// NewAsyncWriter writes to dst through a buffer of at most maxBuffer bytes
// (0: DefaultBufferBytes). name identifies it in metrics.
func NewAsyncWriter(name string, dst io.Writer, maxBuffer int) *AsyncWriter {
	if maxBuffer <= 0 {
		maxBuffer = DefaultBufferBytes
	}
	a := &AsyncWriter{
		name: name, dst: dst, max: maxBuffer,
		buf:     make([]byte, 0, flushAt),
		flushed: make(chan struct{}),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go a.loop()
	return a
}

// Write queues p (whole lines); it never blocks on I/O and never fails:
// a line that does not fit is dropped and counted.
func (a *AsyncWriter) Write(p []byte) (int, error) {
	a.mu.Lock()
	if a.closed || len(a.buf)+len(p) > a.max {
		a.mu.Unlock()
		a.dropped.Add(1)
		return len(p), nil
	}
	a.buf = append(a.buf, p...)
	n := len(a.buf)
	a.mu.Unlock()
	a.lines.Add(1)
	if n >= flushAt {
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Dropped returns how many lines were dropped because the buffer was full.
func (a *AsyncWriter) Dropped() uint64 { return a.dropped.Load() }

// Name is the destination ("stdout", a file path).
func (a *AsyncWriter) Name() string { return a.name }

func (a *AsyncWriter) loop() {
	defer close(a.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	spare := make([]byte, 0, flushAt)
	for {
		select {
		case <-a.kick:
		case <-t.C:
		case <-a.stop:
			spare = a.writeOut(spare)
			return
		}
		spare = a.writeOut(spare)
	}
}

// writeOut swaps the buffer with spare and writes it to the destination.
func (a *AsyncWriter) writeOut(spare []byte) []byte {
	a.mu.Lock()
	out := a.buf
	a.buf = spare[:0]
	done := a.flushed
	a.flushed = make(chan struct{})
	a.mu.Unlock()
	if len(out) > 0 {
		if _, err := a.dst.Write(out); err != nil {
			a.errs.Add(1)
		}
	}
	close(done)
	if cap(out) > 4*flushAt {
		out = make([]byte, 0, flushAt) // do not keep a burst's buffer
	}
	return out
}

// Flush waits until what was written before it reached the destination
// (for tests and shutdown).
func (a *AsyncWriter) Flush() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	ch := a.flushed
	a.mu.Unlock()
	select {
	case a.kick <- struct{}{}:
	default:
	}
	select {
	case <-ch:
	case <-a.done:
	}
}

// Close writes out what is buffered and stops; later lines are dropped.
// It closes the destination when it is an io.Closer other than
// stdout/stderr.
func (a *AsyncWriter) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	close(a.stop)
	<-a.done
	if c, ok := a.dst.(io.Closer); ok && a.dst != os.Stdout && a.dst != os.Stderr {
		return c.Close()
	}
	return nil
}

// Rotation sizes file destinations.
type Rotation struct {
	// MaxSizeMB rotates a file when it reaches this size (default 100).
	MaxSizeMB int
	// MaxBackups is how many rotated files are kept (default 5).
	MaxBackups int
}

// CheckDestination validates a destination list: "stdout", "stderr" or
// absolute or relative file paths, separated by commas.
func CheckDestination(dest string) error {
	for _, d := range splitDest(dest) {
		if d == "stdout" || d == "stderr" {
			continue
		}
		if strings.ContainsAny(d, "\x00\n") || strings.HasSuffix(d, "/") {
			return fmt.Errorf("destination %q: want stdout, stderr or a file path", d)
		}
	}
	return nil
}

func splitDest(dest string) []string {
	var out []string
	for _, d := range strings.Split(dest, ",") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// openFile makes sure path can be written and returns its rotating
// writer.
func openFile(path string, rot Rotation) (io.Writer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log file %s: %w (create the directory, or choose another file or stdout)", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("log file %s: %w (make it writable by the gateway, or choose another file or stdout)", path, err)
	}
	f.Close()
	if rot.MaxSizeMB <= 0 {
		rot.MaxSizeMB = 100
	}
	if rot.MaxBackups <= 0 {
		rot.MaxBackups = 5
	}
	return &lumberjack.Logger{Filename: path, MaxSize: rot.MaxSizeMB, MaxBackups: rot.MaxBackups}, nil
}

// multiWriter writes each line to several AsyncWriters.
type multiWriter []*AsyncWriter

func (m multiWriter) Write(p []byte) (int, error) {
	for _, w := range m {
		_, _ = w.Write(p) // AsyncWriter never fails
	}
	return len(p), nil
}
