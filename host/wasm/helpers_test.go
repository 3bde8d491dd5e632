package wasm

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/internal/wasmbuild"
)

// guest builds a standard-Go test guest from testdata (cached by content).
func guest(t testing.TB, name string) []byte {
	t.Helper()
	b, err := wasmbuild.Build(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeStream is a StreamHost over plain Fields, recording what the plugin
// did.
type fakeStream struct {
	mu          sync.Mutex
	reqHeaders  *Fields
	respHeaders *Fields
	reqBody     *Buffer
	respBody    *Buffer
	props       map[string]string
	local       *LocalResponse
	continued   chan abi.StreamType
	failed      chan error
}

func newFakeStream(headers ...[2]string) *fakeStream {
	return &fakeStream{
		reqHeaders:  NewFields(append([][2]string{{":method", "GET"}, {":path", "/"}, {":authority", "example.com"}}, headers...)),
		respHeaders: NewFields([][2]string{{":status", "200"}}),
		reqBody:     &Buffer{},
		respBody:    &Buffer{},
		props:       map[string]string{},
		continued:   make(chan abi.StreamType, 4),
		failed:      make(chan error, 1),
	}
}

func (f *fakeStream) Headers(t abi.MapType) HeaderMap {
	switch t {
	case abi.MapHTTPRequestHeaders:
		return f.reqHeaders
	case abi.MapHTTPResponseHeaders:
		return f.respHeaders
	}
	return nil
}

func (f *fakeStream) Body(t abi.BufferType) *Buffer {
	if t == abi.BufferHTTPRequestBody {
		return f.reqBody
	}
	return f.respBody
}

func (f *fakeStream) Property(path string) ([]byte, bool) {
	v, ok := f.props[path]
	return []byte(v), ok
}

func (f *fakeStream) SetProperty(path string, v []byte) abi.Status {
	f.props[path] = string(v)
	return abi.StatusOK
}

func (f *fakeStream) SendLocalResponse(r *LocalResponse) abi.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.local = r
	return abi.StatusOK
}

func (f *fakeStream) ContinueStream(t abi.StreamType) abi.Status {
	f.continued <- t
	return abi.StatusOK
}

func (f *fakeStream) CloseStream(abi.StreamType) abi.Status { return abi.StatusOK }

func (f *fakeStream) Failed(err error) {
	select {
	case f.failed <- err:
	default:
	}
}

type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) log(p *PluginInfo, level abi.LogLevel, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level.String()+": "+msg)
}

func (l *logRecorder) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

func newEngine(t testing.TB, cfg EngineConfig) *Engine {
	t.Helper()
	e, err := NewEngine(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func newPlugin(t testing.TB, e *Engine, wasm []byte, cfg PluginConfig) *Plugin {
	t.Helper()
	p, err := newPluginE(e, wasm, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newPluginE(e *Engine, wasm []byte, cfg PluginConfig) (*Plugin, error) {
	ctx := context.Background()
	m, err := e.Compile(ctx, wasm)
	if err != nil {
		return nil, err
	}
	return e.NewPlugin(ctx, m, cfg)
}

// oneRequest runs request headers through a new stream of p and closes it.
func oneRequest(t testing.TB, p *Plugin) {
	t.Helper()
	s, err := p.NewStream(context.Background(), newFakeStream())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.OnRequestHeaders(3, true); err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// waitFor polls cond until it holds or the test times out.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func isKind(err, kind error) bool { return errors.Is(err, kind) }
