package deploy

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashChildEnv = "WASMGATE_DEPLOY_CRASH_CHILD"

// TestCrashChildProcess is the child of TestKillDuringDeploys: it deploys
// to prod in a loop until it is killed.
func TestCrashChildProcess(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("run by TestKillDuringDeploys")
	}
	eng, gw := newEngineGateway(t)
	m, err := Open(context.Background(), Options{Dir: dir, Engine: eng, Gateway: gw})
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(3)
	}
	if _, _, err := m.PushPlugin(context.Background(), "template", "1.0.0", templateWasm(t), "child"); err != nil {
		fmt.Println("push failed:", err)
		os.Exit(3)
	}
	for i := 0; ; i++ {
		doc := docFor("http://127.0.0.1:1", "template", fmt.Sprint(i))
		d, err := m.Deploy(context.Background(), doc, DeployOptions{Stages: []string{"prod"}, Author: "child"})
		if err != nil {
			fmt.Println("deploy failed:", err)
			os.Exit(3)
		}
		if i%3 == 2 {
			if _, err := m.Rollback(context.Background(), "prod", "", "child"); err != nil {
				fmt.Println("rollback failed:", err)
				os.Exit(3)
			}
		}
		fmt.Println("deployed", d.ID)
	}
}

// TestKillDuringDeploys kills (SIGKILL) a process in the middle of a
// stream of deploys and rollbacks, five times, and checks after each kill
// that the store opens, is consistent, and serves what it says.
func TestKillDuringDeploys(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	templateWasm(t) // build before the children need it
	dir := t.TempDir()
	for round := 0; round < 5; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChildProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for sc.Scan() && n < 3 {
			line := sc.Text()
			if strings.Contains(line, "failed") {
				cmd.Process.Kill()
				t.Fatalf("round %d: child: %s", round, line)
			}
			if strings.HasPrefix(line, "deployed ") {
				n++
			}
		}
		time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond) // somewhere inside a deploy
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		go func() {
			for sc.Scan() {
			}
		}()
		cmd.Wait()
		checkStore(t, dir, round)
	}
}

func checkStore(t *testing.T, dir string, round int) {
	t.Helper()
	eng, gw := newEngineGateway(t)
	m, err := Open(context.Background(), Options{Dir: dir, Engine: eng, Gateway: gw})
	if err != nil {
		t.Fatalf("round %d: the store does not open after kill -9: %v", round, err)
	}
	defer m.Close()
	ds := m.Deployments()
	for i, d := range ds {
		if want := fmt.Sprintf("d-%d", len(ds)-i); d.ID != want {
			t.Fatalf("round %d: deployments %v are not d-1..d-%d", round, ids(ds), len(ds))
		}
		for _, p := range d.Plugins {
			if _, err := m.pluginBytes(p.Digest); err != nil {
				t.Fatalf("round %d: %s: %v", round, d.ID, err)
			}
		}
		if _, err := m.api(&d); err != nil {
			t.Fatalf("round %d: %s: %v", round, d.ID, err)
		}
	}
	st, err := m.Stage("prod")
	if err != nil || !st.Serving {
		t.Fatalf("round %d: prod: %+v %v", round, st, err)
	}
	if ts := gw.Table().Stage("prod"); ts == nil || ts.Main.ID != st.Deployment {
		t.Fatalf("round %d: the gateway does not serve prod's %s", round, st.Deployment)
	}
	h, err := m.History("prod", 1)
	if err != nil || len(h) != 1 || h[0].Deployment != st.Deployment {
		t.Fatalf("round %d: the last prod event %+v does not match its deployment %s (%v)", round, h, st.Deployment, err)
	}
	t.Logf("round %d: %d deployments, prod serves %s", round, len(ds), st.Deployment)
}

func ids(ds []Deployment) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}
