package deploy

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
)

// BenchmarkDeployToServing measures a change from the call to the first
// request served by the new deployment, with a warm compile cache: the
// store write, the snapshot build and the swap.
//
//   - new-config: every deploy changes the plugin's configuration, so a
//     new instance pool is instantiated (on_configure run per instance);
//   - same-plugins: the document changes, the plugins do not, so the
//     pools are shared with the deployment being replaced;
//   - rollback: back and forth between two deployments.
func BenchmarkDeployToServing(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	e.push("template", "1.0.0", templateWasm(b))
	e.deploy(e.doc("template", "warm"), "prod")
	served := func(id string) {
		w := httptest.NewRecorder()
		e.gw.ServeHTTP(w, httptest.NewRequest("GET", "http://gw.test/prod/hello", nil))
		if w.Code != 200 || w.Header().Get("X-Wasmgate-Deployment") != id {
			b.Fatalf("after the change: %d from %q, want %s", w.Code, w.Header().Get("X-Wasmgate-Deployment"), id)
		}
	}
	b.Run("new-config", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			d, err := e.m.Deploy(ctx, e.doc("template", fmt.Sprint("n", i)), DeployOptions{Stages: []string{"prod"}})
			if err != nil {
				b.Fatal(err)
			}
			served(d.ID)
		}
	})
	b.Run("same-plugins", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			doc := append(e.doc("template", "same"), fmt.Sprintf("# change %d\n", i)...)
			d, err := e.m.Deploy(ctx, doc, DeployOptions{Stages: []string{"prod"}})
			if err != nil {
				b.Fatal(err)
			}
			served(d.ID)
		}
	})
	b.Run("rollback", func(b *testing.B) {
		a := e.deploy(e.doc("template", "a"), "prod")
		c := e.deploy(e.doc("template", "c"), "prod")
		for i := 0; i < b.N; i++ {
			to := a.ID
			if i%2 == 1 {
				to = c.ID
			}
			if _, err := e.m.Rollback(ctx, "prod", to, "bench"); err != nil {
				b.Fatal(err)
			}
			served(to)
		}
	})
}
