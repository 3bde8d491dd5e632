package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the command line in-process in dir.
func runCLI(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	root := rootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestPluginLocalErrors(t *testing.T) {
	sdk, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"bad name", []string{"plugin", "new", "Hello_World", "--sdk", sdk}, "use lower-case letters, digits and dashes"},
		{"not an SDK", []string{"plugin", "new", "hello", "--sdk", dir}, "is not a wasmgate source tree"},
		{"no such dir to build", []string{"plugin", "build", filepath.Join(dir, "missing")}, "go build"},
		{"no tests to run", []string{"plugin", "test", filepath.Join(dir, "missing")}, "tests failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := runCLI(t, dir, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v (output %q), want it to say %q", err, out, c.want)
			}
		})
	}

	// An existing directory is not overwritten.
	if err := os.Mkdir(filepath.Join(dir, "taken"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, dir, "plugin", "new", "taken", "--sdk", sdk); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("existing directory: %v", err)
	}

	// A Go program that is not a Proxy-Wasm plugin builds, but the host
	// refuses it, and build says why.
	notPlugin := filepath.Join(dir, "notplugin")
	if err := os.MkdirAll(notPlugin, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(notPlugin, "go.mod"), []byte("module example.com/notplugin\n\ngo 1.24\n"), 0o644)
	os.WriteFile(filepath.Join(notPlugin, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	out, err := runCLI(t, dir, "plugin", "build", notPlugin)
	if err == nil || !strings.Contains(err.Error(), "the gateway would refuse it") || !strings.Contains(err.Error(), "proxy_abi_version") {
		t.Fatalf("a non-plugin: %v (output %q)", err, out)
	}
}
