// Package redistest starts a real redis-server for tests: on a free
// loopback port, without persistence, in a temporary directory, killed at
// cleanup. CI installs redis-server (apt); tests that need it fail, with
// the command to run, when it is missing.
package redistest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a real redis-server on a loopback port, without persistence,
// in a temporary directory. It is killed at cleanup.
type Server struct {
	// Addr is the server's host:port; Port its port.
	Addr string
	Port int

	tb  testing.TB
	bin string
	dir string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error
	out    *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Start runs a redis-server for the test. Without the binary the test
// fails (CI installs it; the Redis tests never skip).
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redis-server is not on PATH (%v): install it with `apt-get install redis-server`; the Redis tests never skip", err)
	}
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir()}
	tb.Cleanup(s.Stop)
	for attempt := 1; ; attempt++ {
		s.Port = freePort(tb)
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
		err := s.Start()
		if err == nil {
			return s
		}
		if attempt == 3 {
			tb.Fatal(err)
		}
	}
}

func freePort(tb testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start (re)starts redis-server on s.Port and waits until it answers PING.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &lockedBuffer{}
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--daemonize", "no", "--logfile", "")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if pingRaw(s.Addr) == nil {
			s.cmd, s.exited, s.out = cmd, exited, out
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("redis-server on port %d exited (%v):\n%s", s.Port, err, out)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server on port %d did not answer PING within 10 s:\n%s", s.Port, out)
		}
	}
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// pingRaw speaks just enough RESP to check that a server is up.
func pingRaw(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// Client returns a go-redis client with short timeouts and no retries, as a
// gateway configured to fail fast would use.
func (s *Server) Client(tb testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:          s.Addr,
		DialTimeout:   250 * time.Millisecond,
		DialerRetries: 1,
		ReadTimeout:   250 * time.Millisecond,
		WriteTimeout:  250 * time.Millisecond,
		MaxRetries:    -1,
		PoolSize:      64,
	})
	tb.Cleanup(func() { c.Close() })
	return c
}

// Process returns the running server's process (to signal it), or nil.
func (s *Server) Process() *os.Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	return s.cmd.Process
}
