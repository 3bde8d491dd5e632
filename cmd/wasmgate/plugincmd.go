package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// pluginCmd is the parent of the plugin commands; push and list talk to
// the admin API (the local ones, new, build and test, join it here).
func pluginCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Write and manage plugins: new, build, test, push to the store, list the stored ones",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(pluginNewCmd(), pluginBuildCmd(), pluginTestCmd(), pluginPushCmd(), pluginListCmd())
	return cmd
}

func pluginPushCmd() *cobra.Command {
	var name, version string
	cmd := &cobra.Command{
		Use:   "push FILE.wasm",
		Short: "Store a plugin as name@version and print its digest",
		Long: `Store a plugin binary as NAME@VERSION; documents reference it as NAME
(the latest version), NAME@VERSION or its digest. A file named
NAME@VERSION.wasm gives both, NAME.wasm the name. Versions never change:
pushing other bytes under an existing NAME@VERSION is refused.`,
		Example: `  wasmgate plugin push rate-limit@1.2.0.wasm
  wasmgate plugin push build/plugin.wasm --name rate-limit --version 1.2.0`,
		Args: cobra.ExactArgs(1),
	}
	conn := adminFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		fileName, fileVersion, _ := strings.Cut(strings.TrimSuffix(filepath.Base(args[0]), ".wasm"), "@")
		if name == "" {
			name = fileName
		}
		if version == "" {
			version = fileVersion
		}
		if version == "" {
			return fmt.Errorf("give the plugin's version: --version 1.0.0 (or name the file %s@VERSION.wasm)", name)
		}
		bin, err := os.ReadFile(args[0])
		if err != nil {
			return err
		}
		c := conn.client()
		info, created, err := c.PushPlugin(cmd.Context(), name, version, bin)
		if err != nil {
			return explain(c, err)
		}
		if created {
			fmt.Fprintf(cmd.ErrOrStderr(), "pushed %s@%s (%s)\n", name, version, size(info.Size))
		} else {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s@%s was already stored\n", name, version)
		}
		fmt.Fprintln(cmd.OutOrStdout(), info.Digest)
		return nil
	}
	cmd.Flags().StringVar(&name, "name", "", "plugin name (default: from the file name)")
	cmd.Flags().StringVar(&version, "version", "", "plugin version, e.g. 1.2.0 (default: from a NAME@VERSION.wasm file name)")
	return cmd
}

func pluginListCmd() *cobra.Command {
	var full bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the stored plugins: one line per name@version",
		Args:  cobra.NoArgs,
	}
	conn := adminFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c := conn.client()
		ps, err := c.Plugins(cmd.Context())
		if err != nil {
			return explain(c, err)
		}
		var rows [][]string
		for _, p := range ps {
			digest := p.Digest
			if !full {
				digest = shortDigest(digest)
			}
			tags := p.Tags
			if len(tags) == 0 {
				tags = []string{p.Name + "@" + p.Version}
			}
			for _, t := range tags {
				n, v, _ := strings.Cut(t, "@")
				rows = append(rows, []string{n, v, digest, size(p.Size), p.Uploaded.Local().Format("2006-01-02 15:04:05")})
			}
		}
		return printTable(cmd.OutOrStdout(), []string{"NAME", "VERSION", "DIGEST", "SIZE", "UPLOADED"}, rows)
	}
	cmd.Flags().BoolVar(&full, "no-trunc", false, "print whole digests")
	return cmd
}

// size is a byte count for people: "812 B", "2.4 MiB".
func size(n int) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
