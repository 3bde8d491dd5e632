package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmgate/wasmgate/host/admin"
	"github.com/wasmgate/wasmgate/host/deploy"
)

func deployCmd() *cobra.Command {
	var stages []string
	var description string
	cmd := &cobra.Command{
		Use:   "deploy FILE",
		Short: "Deploy an API document (OpenAPI 3.x or Swagger 2.0) to stages",
		Long: `Deploy an API document: it is validated, its plugin references are
resolved to stored digests, and it becomes an immutable deployment (d-N).
Every --stage then serves it (missing stages are created). Without
--stage the deployment is only recorded; point a stage at it with
"wasmgate stages set NAME --deployment d-N" or a canary. FILE "-" reads
standard input.`,
		Example: `  wasmgate deploy api.yaml --stage prod --description "v2 pricing"`,
		Args:    cobra.ExactArgs(1),
	}
	conn := adminFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var doc []byte
		var err error
		source := filepath.Base(args[0])
		if args[0] == "-" {
			doc, err = io.ReadAll(cmd.InOrStdin())
			source = "stdin"
		} else {
			doc, err = os.ReadFile(args[0])
		}
		if err != nil {
			return err
		}
		c := conn.client()
		d, err := c.Deploy(cmd.Context(), doc, admin.DeployRequest{Stages: stages, Description: description, Source: source})
		if err != nil {
			return explain(c, err)
		}
		what := fmt.Sprintf("(%s, %s)", plural(d.Operations, "operation"), plural(len(d.Plugins), "plugin"))
		if len(stages) == 0 {
			fmt.Fprintf(cmd.OutOrStdout(), "%s recorded, serving no stage %s: wasmgate stages set STAGE --deployment %s\n", d.ID, what, d.ID)
			return nil
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s deployed to %s %s\n", d.ID, strings.Join(stages, ", "), what)
		return nil
	}
	cmd.Flags().StringArrayVarP(&stages, "stage", "s", nil, "stage to serve the deployment (repeatable)")
	cmd.Flags().StringVarP(&description, "description", "d", "", "description recorded with the deployment")
	return cmd
}

func historyCmd() *cobra.Command {
	var stage string
	var limit int
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Show the change history, newest first",
		Args:  cobra.NoArgs,
	}
	conn := adminFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if limit < 0 {
			return errors.New("--limit: want 0 (every event) or more")
		}
		c := conn.client()
		evs, err := c.History(cmd.Context(), stage, limit)
		if err != nil {
			return explain(c, err)
		}
		rows := make([][]string, 0, len(evs))
		for _, e := range evs {
			rows = append(rows, []string{
				fmt.Sprint(e.Seq), e.Time.Local().Format("2006-01-02 15:04:05"), e.Action,
				dash(e.Stage), dash(changeText(e)), dash(e.Author), e.Detail,
			})
		}
		return printTable(cmd.OutOrStdout(), []string{"SEQ", "TIME", "ACTION", "STAGE", "CHANGE", "AUTHOR", "DETAIL"}, rows)
	}
	cmd.Flags().StringVarP(&stage, "stage", "s", "", "only this stage's events")
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "at most this many events (0: all)")
	return cmd
}

// changeText says what an event changed: "d-4 → d-2", "template
// sha256:1234abcd…".
func changeText(e deploy.Event) string {
	switch e.Action {
	case "canary": // From is the stage's deployment, Deployment the canary
		return "canary " + e.Deployment
	case "drop-canary": // From is the dropped canary
		return "canary " + e.From + " dropped"
	}
	if e.Plugin != "" {
		switch {
		case e.Digest != "":
			return e.Plugin + " " + shortDigest(e.Digest)
		case e.From != "":
			return e.Plugin + " (was " + shortDigest(e.From) + ")"
		}
		return e.Plugin
	}
	switch {
	case e.Deployment == "":
		return e.From
	case e.From == "" || e.From == e.Deployment:
		return e.Deployment
	}
	return e.From + " → " + e.Deployment
}

func exportCmd() *cobra.Command {
	var format, deployment string
	cmd := &cobra.Command{
		Use:   "export [STAGE]",
		Short: "Write a stage's (or a deployment's) API document to standard output",
		Long: `Write the API document a stage serves, with its plugin references
pinned to the digests it runs (the stage's pins included) and its hosts
and variables as x-wasmgate-stages: deploying the export gives the same
gateway. --deployment exports another deployment (with the stage's
settings when a STAGE is given too).`,
		Example: `  wasmgate export prod --format oas3 > prod.yaml
  wasmgate export --deployment d-6 --format swagger2`,
		Args: cobra.MaximumNArgs(1),
	}
	conn := adminFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		stage := ""
		if len(args) == 1 {
			stage = args[0]
		}
		if stage == "" && deployment == "" {
			return errors.New("export what? give a STAGE or --deployment d-N")
		}
		c := conn.client()
		doc, err := c.Export(cmd.Context(), deployment, stage, format)
		if err != nil {
			return explain(c, err)
		}
		_, err = cmd.OutOrStdout().Write(doc)
		return err
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", `document format: oas3 or swagger2 (default: the deployed document's)`)
	cmd.Flags().StringVar(&deployment, "deployment", "", "export this deployment (d-N)")
	return cmd
}
