package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// The local plugin workflow: new (from the SDK template), build (standard
// Go to wasip1, checked by the host), test (go test: sdktest runs the
// plugin in the real host). push, in plugincmd.go, stores the result.

const sdkModule = "github.com/wasmgate/wasmgate"

var pluginNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// findSDK locates a wasmgate source tree (the module the SDK lives in):
// --sdk, $WASMGATE_SDK, then the directories above the working directory
// and above this binary (./bin/wasmgate in a checkout).
func findSDK(flag string) (string, error) {
	isSDK := func(dir string) bool {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		return err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module "+sdkModule+"\n")) &&
			fileExists(filepath.Join(dir, "sdk", "go", "template", "main.go"))
	}
	if flag != "" {
		abs, err := filepath.Abs(flag)
		if err != nil || !isSDK(abs) {
			return "", fmt.Errorf("--sdk %s is not a wasmgate source tree (want the directory holding its go.mod and sdk/go)", flag)
		}
		return abs, nil
	}
	if env := os.Getenv("WASMGATE_SDK"); env != "" {
		abs, err := filepath.Abs(env)
		if err != nil || !isSDK(abs) {
			return "", fmt.Errorf("WASMGATE_SDK=%s is not a wasmgate source tree (want the directory holding its go.mod and sdk/go)", env)
		}
		return abs, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			starts = append(starts, filepath.Dir(exe))
		}
	}
	for _, dir := range starts {
		for d := dir; ; d = filepath.Dir(d) {
			if isSDK(d) {
				return d, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", errors.New("cannot find the wasmgate SDK: run this inside a wasmgate checkout, or give --sdk PATH (or WASMGATE_SDK) pointing at one")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func pluginNewCmd() *cobra.Command {
	var dir, module, sdkDir string
	cmd := &cobra.Command{
		Use:   "new NAME",
		Short: "Create a plugin from the SDK template: a Go module with a plugin, its tests and README",
		Long: `Create the directory NAME (or --dir) holding a Go module with a complete
plugin copied from the SDK's template: strict JSON configuration, a
request header, a response header, a counter metric, and tests that run
it in the real host. The module uses the SDK from the wasmgate source tree
(found above the working directory or this binary, or --sdk) through a
replace directive. Then: wasmgate plugin build, test, push.`,
		Example: `  wasmgate plugin new hello
  cd hello && wasmgate plugin build && wasmgate plugin test`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !pluginNameRE.MatchString(name) {
				return fmt.Errorf("plugin name %q: use lower-case letters, digits and dashes, starting with a letter (like rate-limit)", name)
			}
			sdk, err := findSDK(sdkDir)
			if err != nil {
				return err
			}
			if dir == "" {
				dir = name
			}
			if module == "" {
				module = "example.com/" + name
			}
			if fileExists(dir) {
				return fmt.Errorf("%s already exists: choose another --dir or remove it", dir)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			tmpl := filepath.Join(sdk, "sdk", "go", "template")
			for _, f := range []string{"main.go", "template_test.go", "README.md"} {
				b, err := os.ReadFile(filepath.Join(tmpl, f))
				if err != nil {
					return fmt.Errorf("reading the SDK template: %w", err)
				}
				out := f
				if f == "template_test.go" {
					out = "plugin_test.go"
				}
				s := strings.ReplaceAll(string(b), "template", name)
				s = strings.ReplaceAll(s, "Command "+name+" is a complete wasmgate plugin to copy", "Command "+name+" is a wasmgate plugin (started from the SDK template)")
				if err := os.WriteFile(filepath.Join(dir, out), []byte(s), 0o644); err != nil {
					return err
				}
			}
			gomod := fmt.Sprintf("module %s\n\ngo 1.24\n\nrequire %s v0.0.0\n\n// The SDK from a wasmgate source tree; point it elsewhere with\n// go mod edit -replace %s=PATH.\nreplace %s => %s\n",
				module, sdkModule, sdkModule, sdkModule, sdk)
			if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
				return err
			}
			tidy := exec.CommandContext(cmd.Context(), "go", "mod", "tidy")
			tidy.Dir = dir
			if out, err := tidy.CombinedOutput(); err != nil {
				return fmt.Errorf("go mod tidy in %s: %w\n%s", dir, err, out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s (module %s, SDK %s)\nnext: cd %s && wasmgate plugin build && wasmgate plugin test\n", dir, module, sdk, dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory to create (default: NAME)")
	cmd.Flags().StringVar(&module, "module", "", "Go module path (default: example.com/NAME)")
	cmd.Flags().StringVar(&sdkDir, "sdk", "", "wasmgate source tree holding the SDK (default: found above the working directory or this binary, or $WASMGATE_SDK)")
	return cmd
}

func pluginBuildCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "build [DIR]",
		Short: "Build a Go plugin to a .wasm and check it loads: prints its size, digest and imports",
		Long: `Build the plugin in DIR (default: the working directory) with

  GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath

into NAME.wasm (or -o), then load it in the host's engine the way a
deploy does: required exports, the ABI version marker and the imported
host functions are checked, so a plugin the gateway would refuse is
refused here, with the reason.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			if out == "" {
				out = filepath.Join(dir, filepath.Base(abs)+".wasm")
			}
			outAbs, err := filepath.Abs(out)
			if err != nil {
				return err
			}
			build := exec.CommandContext(cmd.Context(), "go", "build", "-buildmode=c-shared", "-trimpath", "-o", outAbs, ".")
			build.Dir = dir
			build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			if b, err := build.CombinedOutput(); err != nil {
				return fmt.Errorf("go build: %w\n%s", err, b)
			}
			bin, err := os.ReadFile(outAbs)
			if err != nil {
				return err
			}
			m, err := checkPlugin(cmd.Context(), bin)
			if err != nil {
				return fmt.Errorf("%s was built but the gateway would refuse it: %w", out, err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s: %s, %s, Proxy-Wasm %s\n", out, size(len(bin)), m.Digest(), m.ABIVersion())
			var ext []string
			for _, imp := range m.Imports() {
				if strings.HasPrefix(imp, abi.ExtModule+".") {
					ext = append(ext, strings.TrimPrefix(imp, abi.ExtModule+"."))
				}
			}
			fmt.Fprintf(w, "imports: %d host functions", len(m.Imports()))
			if len(ext) > 0 {
				fmt.Fprintf(w, "; wasmgate extensions (not portable to other Proxy-Wasm hosts): %s", strings.Join(ext, ", "))
			} else {
				fmt.Fprint(w, "; no wasmgate extensions: portable to other Proxy-Wasm hosts")
			}
			fmt.Fprintln(w)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file (default: DIR/NAME.wasm, NAME the directory's name)")
	return cmd
}

// checkPlugin compiles a plugin the way a deploy does (exports, ABI
// marker, imports), without instantiating it.
func checkPlugin(ctx context.Context, bin []byte) (*wasm.Module, error) {
	e, err := wasm.NewEngine(ctx, wasm.EngineConfig{})
	if err != nil {
		return nil, err
	}
	defer e.Close(ctx)
	return e.Compile(ctx, bin)
}

func pluginTestCmd() *cobra.Command {
	var run string
	cmd := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run a plugin's tests (go test: sdktest runs the plugin in the real host)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			goArgs := []string{"test", "-count=1"}
			if run != "" {
				goArgs = append(goArgs, "-run", run)
			}
			goArgs = append(goArgs, "./...")
			t := exec.CommandContext(cmd.Context(), "go", goArgs...)
			t.Dir = dir
			t.Stdout, t.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := t.Run(); err != nil {
				return fmt.Errorf("the plugin's tests failed: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&run, "run", "", "only the tests matching this regular expression (go test -run)")
	return cmd
}
