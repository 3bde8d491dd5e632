package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmgate/wasmgate/host/admin"
	"github.com/wasmgate/wasmgate/host/deploy"
)

func stagesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stages",
		Short: "List the stages: what each serves, its canary, pins and hosts",
		Args:  cobra.NoArgs,
	}
	conn := adminFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c := conn.client()
		sts, err := c.Stages(cmd.Context())
		if err != nil {
			return explain(c, err)
		}
		rows := make([][]string, 0, len(sts))
		var broken []string
		for _, st := range sts {
			dep := st.Deployment
			if !st.Serving {
				dep += " (not serving)"
				broken = append(broken, fmt.Sprintf("stage %s is not serving: %s", st.Name, st.Error))
			}
			rows = append(rows, []string{st.Name, dep, dash(canaryText(st.Canary)), dash(pinsText(st.Pins)), dash(strings.Join(st.Hosts, ", "))})
		}
		if err := printTable(cmd.OutOrStdout(), []string{"NAME", "DEPLOYMENT", "CANARY", "PINS", "HOSTS"}, rows); err != nil {
			return err
		}
		for _, b := range broken {
			fmt.Fprintln(cmd.ErrOrStderr(), b)
		}
		return nil
	}
	cmd.AddCommand(stagesShowCmd(conn), stagesSetCmd(conn), stagesDeleteCmd(conn))
	return cmd
}

func stagesShowCmd(conn *adminConn) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Print a stage as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := conn.client()
			st, err := c.Stage(cmd.Context(), args[0])
			if err != nil {
				return explain(c, err)
			}
			return printJSON(cmd.OutOrStdout(), st)
		},
	}
}

func stagesSetCmd(conn *adminConn) *cobra.Command {
	var deployment, cacheMode, throttleMode string
	var cacheMB, throttleBurst int
	var throttleRate float64
	var vars, unset, hosts []string
	cmd := &cobra.Command{
		Use:   "set NAME",
		Short: "Create a stage or change its deployment, variables or hosts",
		Long: `Create a stage (--deployment is then required) or change the settings
given, keeping the others: --var sets a stage variable (the others stay),
--unset-var removes one, --host replaces the host names (--host "" removes
them all), --cache off turns the stage's response cache off (on turns it
back on) and --cache-size-mb sizes it, --throttle-rate and
--throttle-burst set the stage's throttle (one token bucket for all its
requests; 429 beyond) and --throttle off removes it. Pointing a stage at
another deployment this way counts as a deploy in the history.`,
		Example: `  wasmgate stages set beta --deployment d-9 --host beta.example.com --var backend=https://beta.internal
  wasmgate stages set prod --cache-size-mb 256 --throttle-rate 10000 --throttle-burst 5000`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			set, err := parseVars("var", vars)
			if err != nil {
				return err
			}
			c := conn.client()
			var spec deploy.StageSpec
			cur, err := c.Stage(cmd.Context(), name)
			var ae *admin.APIError
			switch {
			case err == nil:
				spec = deploy.StageSpec{
					Deployment: cur.Deployment, Hosts: cur.Hosts, Variables: cur.Variables,
					Throttle: cur.Throttle, Cache: cur.Cache, AccessLog: cur.AccessLog,
				}
			case errors.As(err, &ae) && ae.Status == 404:
				if deployment == "" {
					return fmt.Errorf("stage %s does not exist: give the deployment it serves (--deployment d-N)", name)
				}
			default:
				return explain(c, err)
			}
			if deployment != "" {
				spec.Deployment = deployment
			}
			if spec.Variables == nil {
				spec.Variables = map[string]string{}
			}
			maps.Copy(spec.Variables, set)
			for _, k := range unset {
				delete(spec.Variables, k)
			}
			if cmd.Flags().Changed("host") {
				spec.Hosts = slices.DeleteFunc(slices.Clone(hosts), func(h string) bool { return h == "" })
			}
			if cmd.Flags().Changed("cache") || cmd.Flags().Changed("cache-size-mb") {
				c := deploy.Cache{Enabled: true}
				if spec.Cache != nil {
					c = *spec.Cache
				}
				switch cacheMode {
				case "on":
					c.Enabled = true
				case "off":
					c.Enabled = false
				case "":
				default:
					return fmt.Errorf("--cache %q: want on or off", cacheMode)
				}
				if cmd.Flags().Changed("cache-size-mb") {
					if cacheMB < 1 {
						return fmt.Errorf("--cache-size-mb %d: want 1 or more (turn the cache off with --cache off)", cacheMB)
					}
					c.SizeMB = cacheMB
				}
				spec.Cache = &c
			}
			switch {
			case throttleMode == "off":
				if cmd.Flags().Changed("throttle-rate") || cmd.Flags().Changed("throttle-burst") {
					return errors.New("--throttle off removes the throttle: drop --throttle-rate and --throttle-burst")
				}
				spec.Throttle = nil
			case throttleMode != "":
				return fmt.Errorf("--throttle %q: only off is accepted (set a throttle with --throttle-rate and --throttle-burst)", throttleMode)
			case cmd.Flags().Changed("throttle-rate") || cmd.Flags().Changed("throttle-burst"):
				th := deploy.Throttle{}
				if spec.Throttle != nil {
					th = *spec.Throttle
				}
				if cmd.Flags().Changed("throttle-rate") {
					th.RateLimit = throttleRate
				}
				if cmd.Flags().Changed("throttle-burst") {
					th.Burst = throttleBurst
				}
				if th.RateLimit <= 0 {
					return errors.New("--throttle-rate must be more than 0 requests per second (remove the throttle with --throttle off)")
				}
				spec.Throttle = &th
			}
			st, err := c.PutStage(cmd.Context(), name, spec)
			if err != nil {
				return explain(c, err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), stageLine(st))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&deployment, "deployment", "", "deployment to serve (d-N)")
	f.StringArrayVar(&vars, "var", nil, "stage variable NAME=VALUE (repeatable)")
	f.StringArrayVar(&unset, "unset-var", nil, "stage variable to remove (repeatable)")
	f.StringArrayVar(&hosts, "host", nil, `host name selecting the stage (repeatable; replaces the list, "" clears it)`)
	f.StringVar(&cacheMode, "cache", "", "the stage's response cache: on or off")
	f.IntVar(&cacheMB, "cache-size-mb", 0, "the stage's response cache size in MB (default: the server's cache_size_mb)")
	f.Float64Var(&throttleRate, "throttle-rate", 0, "the stage's throttle: requests per second for the whole stage")
	f.IntVar(&throttleBurst, "throttle-burst", 0, "the stage's throttle: burst (default: the rate, rounded up)")
	f.StringVar(&throttleMode, "throttle", "", "off removes the stage's throttle")
	return cmd
}

func stagesDeleteCmd(conn *adminConn) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Stop serving a stage and forget it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := conn.client()
			if err := c.DeleteStage(cmd.Context(), args[0]); err != nil {
				return explain(c, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stage %s deleted\n", args[0])
			return nil
		},
	}
}

func rollbackCmd() *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "rollback STAGE",
		Short: "Point a stage back at the deployment it served before (or --to d-N)",
		Args:  cobra.ExactArgs(1),
	}
	conn := adminFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c := conn.client()
		before, err := c.Stage(cmd.Context(), args[0])
		if err != nil {
			return explain(c, err)
		}
		st, err := c.Rollback(cmd.Context(), args[0], to)
		if err != nil {
			return explain(c, err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s rolled back: %s → %s\n", st.Name, before.Deployment, st.Deployment)
		return nil
	}
	cmd.Flags().StringVar(&to, "to", "", "deployment to serve (d-N); default: the one served before the current one")
	return cmd
}

func pinCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pin STAGE PLUGIN REF",
		Short: "Make a stage run one version of a plugin (REF: 1.0.0, name@1.0.0 or sha256:...)",
		Long: `Make a stage run the plugin version REF resolves to (a version of
PLUGIN, name@version or a digest) wherever its deployment and canary use
PLUGIN: a rollback of one plugin. The pin stays across deploys until
"wasmgate unpin".`,
		Example: `  wasmgate pin prod rate-limit 1.2.0`,
		Args:    cobra.ExactArgs(3),
	}
	conn := adminFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c := conn.client()
		st, err := c.Pin(cmd.Context(), args[0], args[1], args[2])
		if err != nil {
			return explain(c, err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s: %s pinned to %s\n", st.Name, args[1], st.Pins[args[1]])
		return nil
	}
	return cmd
}

func unpinCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "unpin STAGE PLUGIN",
		Short: "Remove a stage's pin of a plugin",
		Args:  cobra.ExactArgs(2),
	}
	conn := adminFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c := conn.client()
		st, err := c.Unpin(cmd.Context(), args[0], args[1])
		if err != nil {
			return explain(c, err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s: %s unpinned; %s's choice applies\n", st.Name, args[1], st.Deployment)
		return nil
	}
	return cmd
}

func canaryCmd() *cobra.Command {
	var c deploy.Canary
	var vars []string
	cmd := &cobra.Command{
		Use:   "canary STAGE --deployment d-N --percent P",
		Short: "Send a share of a stage's requests to another deployment",
		Long: `Send --percent of a stage's requests to --deployment (a canary release),
optionally sticky per client (--sticky ip, header:NAME or cookie:NAME) and
with stage variables of its own (--var). Then "wasmgate canary promote
STAGE" makes it the stage's deployment, or "wasmgate canary drop STAGE"
ends it.`,
		Example: `  wasmgate canary prod --deployment d-9 --percent 10 --sticky cookie:session`,
		Args:    cobra.ExactArgs(1),
	}
	conn := adminFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var err error
		if c.Variables, err = parseVars("var", vars); err != nil {
			return err
		}
		cl := conn.client()
		st, err := cl.SetCanary(cmd.Context(), args[0], c)
		if err != nil {
			return explain(cl, err)
		}
		fmt.Fprintln(cmd.OutOrStdout(), stageLine(st))
		return nil
	}
	f := cmd.Flags()
	f.StringVar(&c.Deployment, "deployment", "", "canary deployment (d-N)")
	f.Float64Var(&c.Percent, "percent", 0, "share of the stage's requests, more than 0 and at most 100")
	f.StringVar(&c.Sticky, "sticky", "", "keep a client on one side: ip, header:NAME or cookie:NAME")
	f.StringArrayVar(&vars, "var", nil, "stage variable NAME=VALUE for the canary side (repeatable)")
	cmd.MarkFlagRequired("deployment")
	cmd.MarkFlagRequired("percent")
	cmd.AddCommand(&cobra.Command{
		Use:   "promote STAGE",
		Short: "Make a stage's canary its deployment",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl := conn.client()
			st, err := cl.PromoteCanary(cmd.Context(), args[0])
			if err != nil {
				return explain(cl, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: canary promoted; %s\n", st.Name, stageLine(st))
			return nil
		},
	}, &cobra.Command{
		Use:   "drop STAGE",
		Short: "End a stage's canary: every request goes to its deployment",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl := conn.client()
			st, err := cl.DropCanary(cmd.Context(), args[0])
			if err != nil {
				return explain(cl, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: canary dropped; %s\n", st.Name, stageLine(st))
			return nil
		},
	})
	return cmd
}
