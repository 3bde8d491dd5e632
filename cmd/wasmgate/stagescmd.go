package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
	var deployment, cacheMode, throttleMode, clientCert string
	var cacheMB, throttleBurst int
	var throttleRate float64
	var vars, unset, hosts []string
	var lf logFlags
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
another deployment this way counts as a deploy in the history.

Logs: --access-log json|clf|off|'$context template' and --access-log-dest
stdout|stderr|FILE (rotated by size; comma-separate several);
--exec-log off|error|info (each plugin call's phase, duration and verdict,
and the plugins' own log lines) and --exec-log-dest. An empty value ("")
goes back to the server's default. --capture-sample 0.1 writes one
request in ten whole (bodies capped by --capture-max-body) after
redacting Authorization, Cookie, Set-Cookie, X-Api-Key, the
--capture-redact-header names and the --capture-redact-field JSON
fields; --capture-sample 0 stops capturing.`,
		Example: `  wasmgate stages set beta --deployment d-9 --host beta.example.com --var backend=https://beta.internal
  wasmgate stages set prod --cache-size-mb 256 --throttle-rate 10000 --throttle-burst 5000
  wasmgate stages set prod --access-log json --access-log-dest /var/log/wasmgate/prod.log --exec-log info --capture-sample 0.1
  wasmgate stages set dev --access-log '$context.requestId $context.httpMethod $context.resourcePath $context.status $context.responseLatency'`,
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
					ExecLog: cur.ExecLog, Capture: cur.Capture, RequireClientCert: cur.RequireClientCert,
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
			switch clientCert {
			case "required":
				spec.RequireClientCert = true
			case "optional":
				spec.RequireClientCert = false
			case "":
			default:
				return fmt.Errorf("--client-cert %q: want required or optional", clientCert)
			}
			if err := lf.apply(cmd, &spec); err != nil {
				return err
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
	f.StringVar(&clientCert, "client-cert", "", "required: refuse requests without a verified client certificate (mTLS; needs the server's tls_client_ca); optional: accept them")
	lf.add(f)
	return cmd
}

// logFlags are stages set's log and capture flags.
type logFlags struct {
	access, accessDest, exec, execDest, captureDest string
	sample                                          float64
	maxBody                                         int
	redactHeaders, redactFields                     []string
}

func (l *logFlags) add(f *pflag.FlagSet) {
	f.StringVar(&l.access, "access-log", "", `access log format: json, clf, off, or a template like '$context.requestId $context.status' ("" = server default)`)
	f.StringVar(&l.accessDest, "access-log-dest", "", `access log destination: stdout, stderr or a file path, comma-separated for several ("" = server default)`)
	f.StringVar(&l.exec, "exec-log", "", `execution log level: off, error or info ("" = server default)`)
	f.StringVar(&l.execDest, "exec-log-dest", "", "execution log destination (as --access-log-dest)")
	f.Float64Var(&l.sample, "capture-sample", 0, "share of requests captured whole, 0 to 1 (0 stops capturing)")
	f.IntVar(&l.maxBody, "capture-max-body", 0, "bytes of each body kept in a capture (default 8192)")
	f.StringArrayVar(&l.redactHeaders, "capture-redact-header", nil, "header whose value captures redact (repeatable; Authorization, Cookie, Set-Cookie and X-Api-Key always are)")
	f.StringArrayVar(&l.redactFields, "capture-redact-field", nil, "JSON body field captures redact at any depth (repeatable)")
	f.StringVar(&l.captureDest, "capture-dest", "", "capture destination (default: the execution log's)")
}

// apply changes spec for the flags given, keeping the other settings.
func (l *logFlags) apply(cmd *cobra.Command, spec *deploy.StageSpec) error {
	ch := cmd.Flags().Changed
	if ch("access-log") || ch("access-log-dest") {
		a := deploy.AccessLog{}
		if spec.AccessLog != nil {
			a = *spec.AccessLog
		}
		if ch("access-log") {
			a.Format = l.access
		}
		if ch("access-log-dest") {
			a.Destination = l.accessDest
		}
		spec.AccessLog = &a
		if a == (deploy.AccessLog{}) {
			spec.AccessLog = nil
		}
	}
	if ch("exec-log") || ch("exec-log-dest") {
		e := deploy.ExecLog{}
		if spec.ExecLog != nil {
			e = *spec.ExecLog
		}
		if ch("exec-log") {
			e.Level = l.exec
		}
		if ch("exec-log-dest") {
			e.Destination = l.execDest
		}
		spec.ExecLog = &e
		if e == (deploy.ExecLog{}) {
			spec.ExecLog = nil
		}
	}
	if ch("capture-sample") || ch("capture-max-body") || ch("capture-redact-header") || ch("capture-redact-field") || ch("capture-dest") {
		c := deploy.Capture{}
		if spec.Capture != nil {
			c = *spec.Capture
		}
		if ch("capture-sample") {
			if l.sample < 0 || l.sample > 1 {
				return fmt.Errorf("--capture-sample %v: want 0 to 1 (0.1 captures one request in ten)", l.sample)
			}
			c.SampleRate = l.sample
		}
		if ch("capture-max-body") {
			c.MaxBodyBytes = l.maxBody
		}
		if ch("capture-redact-header") {
			c.RedactHeaders = l.redactHeaders
		}
		if ch("capture-redact-field") {
			c.RedactFields = l.redactFields
		}
		if ch("capture-dest") {
			c.Destination = l.captureDest
		}
		spec.Capture = &c
		if c.SampleRate == 0 {
			spec.Capture = nil
		}
	}
	return nil
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
