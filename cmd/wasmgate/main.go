// Command wasmgate is the wasmgate API gateway: `wasmgate serve` runs the
// data plane on an API document (by default the embedded petstore example),
// `wasmgate validate FILE` checks a document without serving it, and
// deploy, stages, rollback, pin, unpin, canary, plugin, history and export
// drive a running gateway through its admin API (--admin, WASMGATE_ADMIN;
// token: --token, WASMGATE_ADMIN_TOKEN).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

var version = "dev"

func main() {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "wasmgate:", err)
		os.Exit(1)
	}
}

// rootCmd is the wasmgate command with every subcommand.
func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "wasmgate",
		Short:         "An API gateway whose policies are WebAssembly plugins",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.AddCommand(serveCmd(), validateCmd(), requestCmd())
	root.AddCommand(deployCmd(), stagesCmd(), rollbackCmd(), pinCmd(), unpinCmd(), canaryCmd(),
		pluginCmd(), historyCmd(), exportCmd(), apikeysCmd(), usageplansCmd())
	return root
}
