// Command wasmgate is the wasmgate API gateway: `wasmgate serve` runs the
// data plane on an API document (by default the embedded petstore example),
// `wasmgate validate FILE` checks a document without serving it.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

var version = "dev"

func main() {
	root := &cobra.Command{
		Use:           "wasmgate",
		Short:         "An API gateway whose policies are WebAssembly plugins",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.AddCommand(serveCmd(), validateCmd(), requestCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "wasmgate:", err)
		os.Exit(1)
	}
}
