package conformance

import (
	"strconv"
	"testing"
	"time"
)

// Run runs the conformance suite against target. Independent cases run in
// parallel; the abuse cases, which measure deadlines, run last and alone.
func Run(t *testing.T, target Target) {
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	t.Run("plugin_lifecycle", func(t *testing.T) { runLifecycle(t, target) })
	t.Run("host_functions", func(t *testing.T) {
		for _, g := range hostFunctionGroups(nonce) {
			t.Run(g.name, func(t *testing.T) {
				t.Parallel()
				for _, c := range g.cases {
					t.Run(c.name, func(t *testing.T) {
						t.Parallel()
						harness{t, target}.runProbe(c)
					})
				}
			})
		}
	})
	t.Run("callback_order", func(t *testing.T) { runOrder(t, target) })
	t.Run("c_guest", func(t *testing.T) { runCGuest(t, target, nonce) })
	t.Run("abuse", func(t *testing.T) { runAbuse(t, target) })
}
