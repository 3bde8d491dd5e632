package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/internal/wasmbuild"
)

// TestReadmeStagesWalkthrough runs the "Stages and rollback" commands of
// README.md, as written, against a real `wasmgate serve` (the binary
// built from this tree, on free ports and a fresh data directory): the
// walkthrough must keep working.
func TestReadmeStagesWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the binary")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	script := readmeBlock(t, filepath.Join(root, "README.md"), "## Stages and rollback")
	bin := buildWasmgate(t, root)

	dir := t.TempDir()
	port, adminPort := startServe(t, bin, dir)

	script = strings.NewReplacer(
		"./bin/wasmgate", bin,
		"http://localhost:8080", "http://127.0.0.1:"+port,
		"cmd/wasmgate/embedded/plugins/", filepath.Join(root, "cmd", "wasmgate", "embedded", "plugins")+"/",
	).Replace(script)
	cmd := exec.Command("bash", "-euo", "pipefail", "-x", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WASMGATE_ADMIN=http://127.0.0.1:"+adminPort, "WASMGATE_AUTHOR=readme")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walkthrough failed: %v\n%s", err, out)
	}
	for _, want := range []string{"prod rolled back: d-2 → d-1", "canary promoted", "template pinned to sha256:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walkthrough output lacks %q:\n%s", want, out)
		}
	}
}

// readmeBlock returns the first ```sh block after heading.
func readmeBlock(t *testing.T, path, heading string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s has no %q section", path, heading)
	}
	m := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(rest)
	if m == nil {
		t.Fatalf("no sh block under %q", heading)
	}
	return m[1]
}

// buildWasmgate builds the first-party plugins into the embed directory
// (what `make plugins` does) and the binary.
func buildWasmgate(t *testing.T, root string) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(root, "plugins", "*", "main.go"))
	dirs = append(dirs, filepath.Join(root, "sdk", "go", "template", "main.go"))
	embed := filepath.Join(root, "cmd", "wasmgate", "embedded", "plugins")
	for _, f := range dirs {
		d := filepath.Dir(f)
		b, err := wasmbuild.Build(d)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(embed, filepath.Base(d)+".wasm")
		if old, err := os.ReadFile(dst); err != nil || !bytes.Equal(old, b) {
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	bin := filepath.Join(t.TempDir(), "wasmgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/wasmgate")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func waitListening(t *testing.T, addr string, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("nothing listens on %s after %v", addr, within)
}

// TestSDKReadmeWalkthrough runs section 0 of sdk/go/README.md, as written:
// plugin new, build, test, push, deploy, pin, against a real `wasmgate
// serve`, and checks the new plugin answers on the stage.
func TestSDKReadmeWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the binary, runs go mod tidy and go test")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	script := readmeBlock(t, filepath.Join(root, "sdk", "go", "README.md"), "## 0. From nothing to a plugin serving on a stage")
	bin := buildWasmgate(t, root)

	dir := t.TempDir()
	port, adminPort := startServe(t, bin, dir)

	script = strings.NewReplacer(
		"../bin/wasmgate", bin,
		"./bin/wasmgate", bin,
		"http://localhost:8080", "http://127.0.0.1:"+port,
	).Replace(script)
	cmd := exec.Command("bash", "-euo", "pipefail", "-x", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WASMGATE_ADMIN=http://127.0.0.1:"+adminPort, "WASMGATE_AUTHOR=readme", "WASMGATE_SDK="+root)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walkthrough failed: %v\n%s", err, out)
	}
	for _, want := range []string{"created hello", "hello.wasm: ", "Proxy-Wasm 0.2.1", "ok  \texample.com/hello", "pushed hello@1.0.0", "deployed to try", "try: hello pinned to sha256:", "X-Wasmgate-Plugin: hello"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walkthrough output lacks %q:\n%s", want, out)
		}
	}
}

// startServe runs `wasmgate serve` on free ports with a data directory in
// dir until the test ends, and returns its gateway and admin ports once
// the admin API listens.
func startServe(t *testing.T, bin, dir string) (port, adminPort string) {
	t.Helper()
	port, adminPort = freePort(t), freePort(t)
	srv := exec.Command(bin, "serve", "--data-dir", filepath.Join(dir, "data"),
		"--listen", "127.0.0.1:"+port, "--admin-listen", "127.0.0.1:"+adminPort, "--tls-listen", "")
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
		if t.Failed() {
			t.Logf("serve output:\n%s", logs.String())
		}
	})
	waitListening(t, "127.0.0.1:"+adminPort, 90*time.Second)
	return port, adminPort
}
