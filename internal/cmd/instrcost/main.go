// Command instrcost measures what one request through the gateway costs in
// machine instructions and cache misses, with cachegrind (valgrind), where
// timings on a shared machine vary by tens of percent: the same code gives
// the same counts on every run.
//
// It builds the e2e benchmarks, runs each selected one under cachegrind
// for N and for 4N requests and reports the difference per request, so
// start-up (compiling, instantiating, deploying) cancels out. The plugin
// column is the part spent in machine code wazero compiled from plugins
// (code cachegrind cannot name); the rest is the gateway, wazero and the Go
// runtime. L1i misses matter most for plugins: a guest's code for one
// request that no longer fits the instruction cache is fetched again on
// every request under load (see RATIONALE.md, "measuring a plugin's cost
// by its machine code").
//
//	go run ./internal/cmd/instrcost                       # empty, 4 Go plugins, 4 C plugins
//	go run ./internal/cmd/instrcost -bench 'RateLimit$' -n 500
//	go run ./internal/cmd/instrcost -bench 'FourC$' -top 30  # and where
//
// Needs valgrind (apt-get install valgrind); `make instr-cost` runs it.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

func main() {
	bench := flag.String("bench", `Gateway(EmptyPipeline|FourPlugins|FourC)$`, "the e2e benchmarks to measure (a go test -bench regular expression)")
	n := flag.Int("n", 1000, "requests in the shorter run (the longer one makes 4×)")
	top := flag.Int("top", 0, "also list the functions that cost the most instructions per request, this many for each benchmark")
	flag.Parse()
	if err := run(*bench, *n, *top); err != nil {
		fmt.Fprintln(os.Stderr, "instrcost:", err)
		os.Exit(1)
	}
}

func run(bench string, n, top int) error {
	if _, err := exec.LookPath("valgrind"); err != nil {
		return fmt.Errorf("valgrind is not installed (apt-get install valgrind): %w", err)
	}
	dir, err := os.MkdirTemp("", "instrcost")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "e2e.test")
	if err := command("go", "test", "-c", "-o", bin, ".").Run(); err != nil {
		return fmt.Errorf("building the e2e benchmarks: %w", err)
	}
	list := exec.Command(bin, "-test.list", "^Benchmark.*"+strings.TrimPrefix(bench, "^"))
	list.Dir = "e2e"
	out, err := list.Output()
	if err != nil {
		return fmt.Errorf("listing the benchmarks: %w", err)
	}
	names := strings.Fields(string(out))
	if len(names) == 0 {
		return fmt.Errorf("no e2e benchmark matches %q", bench)
	}
	// Natively first: the plugins' machine code goes to the on-disk
	// compilation cache, so the runs under cachegrind load it instead of
	// compiling for minutes.
	warm := command(bin, "-test.run", "^$", "-test.bench", "^("+strings.Join(names, "|")+")$", "-test.benchtime", "1x")
	warm.Stdout = os.Stderr
	if err := warm.Run(); err != nil {
		return fmt.Errorf("warming the compilation cache: %w", err)
	}
	fmt.Printf("per request, %d vs %d requests under cachegrind (instructions; L1 instruction, L1 data and last-level misses)\n\n", n, 4*n)
	fmt.Printf("%-32s %12s %9s %9s %8s   %s\n", "benchmark", "instr", "L1i miss", "L1d miss", "LL miss", "of which in plugin code: instr, L1i miss")
	for _, name := range names {
		var res [2]profile
		for i, reqs := range []int{n, 4 * n} {
			file := filepath.Join(dir, fmt.Sprintf("%s.%d.cg", name, reqs))
			cmd := command("valgrind", "--tool=cachegrind", "--cache-sim=yes", "--smc-check=all-non-file",
				"--cachegrind-out-file="+file, bin,
				"-test.run", "^$", "-test.bench", "^"+name+"$", "-test.benchtime", fmt.Sprintf("%dx", reqs), "-test.cpu", "1")
			// No garbage collection (its timing would differ between the
			// runs), no rdtscp (valgrind does not emulate it), no
			// asynchronous preemption (signals).
			cmd.Env = append(os.Environ(), "GOGC=off", "GODEBUG=cpu.rdtscp=off,asyncpreemptoff=1")
			cmd.Stderr = nil // valgrind's and the benchmark's chatter
			if out, err := cmd.CombinedOutput(); err != nil {
				os.Stderr.Write(out)
				return fmt.Errorf("%s under cachegrind: %w", name, err)
			}
			if res[i], err = readProfile(file); err != nil {
				return err
			}
		}
		per := func(ev string, jit bool) float64 {
			a, b := res[0].total, res[1].total
			if jit {
				a, b = res[0].jit, res[1].jit
			}
			return float64(b[ev]-a[ev]) / float64(3*n)
		}
		fmt.Printf("%-32s %12.0f %9.0f %9.0f %8.0f   %.0f, %.0f\n", name,
			per("Ir", false), per("I1mr", false), per("D1mr", false), per("DLmr", false)+per("ILmr", false),
			per("Ir", true), per("I1mr", true))
		if top > 0 {
			printTop(res, n, top)
		}
	}
	return nil
}

// printTop lists the top functions by instructions per request (the
// difference between the two runs), with their L1i misses.
func printTop(res [2]profile, n, top int) {
	type row struct {
		fn       string
		ir, i1mr float64
	}
	var rows []row
	for fn, b := range res[1].fns {
		a := res[0].fns[fn]
		r := row{fn, float64(b[0]-a[0]) / float64(3*n), float64(b[1]-a[1]) / float64(3*n)}
		if r.ir >= 1 || r.i1mr >= 1 {
			rows = append(rows, r)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ir > rows[j].ir })
	if len(rows) > top {
		rows = rows[:top]
	}
	for _, r := range rows {
		fmt.Printf("    %10.0f %7.0f  %s\n", r.ir, r.i1mr, r.fn)
	}
	fmt.Println()
}

// command runs in the e2e folder, where its tests run (go test -c
// leaves the binary elsewhere).
func command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = "e2e"
	cmd.Stderr = os.Stderr
	return cmd
}

// profile is a cachegrind output file's event totals: all of them, those
// of code without a symbol (machine code compiled at run time), and each
// function's instructions and L1i misses.
type profile struct {
	total, jit map[string]int64
	fns        map[string][2]int64
}

// readProfile parses a cachegrind output file: "events:" names the
// columns, "fl=" and "fn=" start a function's lines, and each count line
// is a line number followed by that many counts (trailing zeros left out).
func readProfile(path string) (profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return profile{}, err
	}
	defer f.Close()
	p := profile{total: map[string]int64{}, jit: map[string]int64{}, fns: map[string][2]int64{}}
	var events []string
	var file, fn string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "events:"):
			events = strings.Fields(strings.TrimPrefix(line, "events:"))
		case strings.HasPrefix(line, "fl="):
			file = line[3:]
		case strings.HasPrefix(line, "fn="):
			fn = line[3:]
		case line != "" && line[0] >= '0' && line[0] <= '9':
			fields := strings.Fields(line)
			unnamed := file == "???" && fn == "???"
			f := p.fns[fn]
			for i, v := range fields[1:] {
				if i >= len(events) {
					break
				}
				c, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return profile{}, fmt.Errorf("%s: bad count line %q", path, line)
				}
				p.total[events[i]] += c
				if unnamed {
					p.jit[events[i]] += c
				}
				switch events[i] {
				case "Ir":
					f[0] += c
				case "I1mr":
					f[1] += c
				}
			}
			p.fns[fn] = f
		}
	}
	if err := sc.Err(); err != nil {
		return profile{}, err
	}
	if len(events) == 0 {
		return profile{}, fmt.Errorf("%s: not a cachegrind output file (no events line)", path)
	}
	return p, nil
}
