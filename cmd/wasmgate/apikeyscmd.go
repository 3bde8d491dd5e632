package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmgate/wasmgate/host/apikeys"
)

func apikeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apikeys",
		Short: "List the API keys (the api-key plugin checks them); create, enable, disable, delete",
		Args:  cobra.NoArgs,
	}
	conn := adminFlags(cmd)
	list := func(cmd *cobra.Command, _ []string) error {
		c := conn.client()
		keys, err := c.APIKeys(cmd.Context())
		if err != nil {
			return explain(c, err)
		}
		rows := make([][]string, 0, len(keys))
		for _, k := range keys {
			state := "enabled"
			if !k.Enabled {
				state = "disabled"
			}
			rows = append(rows, []string{k.ID, k.Name, state, dash(strings.Join(k.Plans, ", ")), k.Created.Format(time.DateTime)})
		}
		return printTable(cmd.OutOrStdout(), []string{"ID", "NAME", "STATE", "PLANS", "CREATED"}, rows)
	}
	cmd.RunE = list
	cmd.AddCommand(&cobra.Command{Use: "list", Short: "List the API keys", Args: cobra.NoArgs, RunE: list},
		apikeysCreateCmd(conn), apikeysShowCmd(conn), apikeysEnableCmd(conn, true), apikeysEnableCmd(conn, false), apikeysDeleteCmd(conn))
	return cmd
}

func apikeysCreateCmd(conn *adminConn) *cobra.Command {
	var spec apikeys.KeySpec
	var disabled bool
	cmd := &cobra.Command{
		Use:   "create --name NAME [--plan PLAN_ID]",
		Short: "Create an API key and print its value (shown this once)",
		Long: `Create an API key. Its value is printed once: the gateway keeps only
its SHA-256. Without --value a random 40-character value is generated;
--value sets your own (20 to 128 visible ASCII characters). --plan puts
the key in a usage plan (wasmgate usageplans list).`,
		Example: `  wasmgate apikeys create --name ci --plan p-3kq7mz2x9a`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if spec.Name == "" {
				return fmt.Errorf("--name is required: a name for the key (who or what uses it)")
			}
			if disabled {
				spec.Enabled = new(bool)
			}
			c := conn.client()
			k, err := c.CreateAPIKey(cmd.Context(), spec)
			if err != nil {
				return explain(c, err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "api key %s (%s) created", k.ID, k.Name)
			if len(k.Plans) > 0 {
				fmt.Fprintf(out, " in usage plan %s", strings.Join(k.Plans, ", "))
			}
			fmt.Fprintf(out, "\nvalue: %s\n", k.Value)
			fmt.Fprintln(cmd.ErrOrStderr(), "store the value now: it is not shown again (clients send it in x-api-key)")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec.Name, "name", "", "the key's name (required)")
	f.StringVar(&spec.Description, "description", "", "a description")
	f.StringVar(&spec.Plan, "plan", "", "usage plan to put the key in (p-…)")
	f.StringVar(&spec.Value, "value", "", "the key's value (default: 40 random characters)")
	f.BoolVar(&disabled, "disabled", false, "create it disabled")
	return cmd
}

func apikeysShowCmd(conn *adminConn) *cobra.Command {
	return &cobra.Command{
		Use:   "show KEY_ID",
		Short: "Print an API key as JSON (never its value)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := conn.client()
			k, err := c.APIKey(cmd.Context(), args[0])
			if err != nil {
				return explain(c, err)
			}
			return printJSON(cmd.OutOrStdout(), k)
		},
	}
}

func apikeysEnableCmd(conn *adminConn, enable bool) *cobra.Command {
	verb, short := "enable", "Enable an API key"
	if !enable {
		verb, short = "disable", "Disable an API key: refused with 403 from the next request on"
	}
	return &cobra.Command{
		Use:   verb + " KEY_ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := conn.client()
			k, err := c.UpdateAPIKey(cmd.Context(), args[0], apikeys.KeyUpdate{Enabled: &enable})
			if err != nil {
				return explain(c, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "api key %s %sd\n", k.ID, verb)
			return nil
		},
	}
}

func apikeysDeleteCmd(conn *adminConn) *cobra.Command {
	return &cobra.Command{
		Use:   "delete KEY_ID",
		Short: "Delete an API key (and its usage plan memberships)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := conn.client()
			if err := c.DeleteAPIKey(cmd.Context(), args[0]); err != nil {
				return explain(c, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "api key %s deleted\n", args[0])
			return nil
		},
	}
}

func usageplansCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "usageplans",
		Short: "List the usage plans (throttle, quota, stages, keys); create, delete, add and remove keys",
		Args:  cobra.NoArgs,
	}
	conn := adminFlags(cmd)
	list := func(cmd *cobra.Command, _ []string) error {
		c := conn.client()
		plans, err := c.UsagePlans(cmd.Context())
		if err != nil {
			return explain(c, err)
		}
		rows := make([][]string, 0, len(plans))
		for _, p := range plans {
			rows = append(rows, []string{p.ID, p.Name, throttleText(p.Throttle), quotaText(p.Quota),
				dash(strings.Join(p.Stages, ", ")), strconv.Itoa(len(p.Keys))})
		}
		return printTable(cmd.OutOrStdout(), []string{"ID", "NAME", "THROTTLE", "QUOTA", "STAGES", "KEYS"}, rows)
	}
	cmd.RunE = list
	cmd.AddCommand(&cobra.Command{Use: "list", Short: "List the usage plans", Args: cobra.NoArgs, RunE: list},
		usageplansCreateCmd(conn), usageplansShowCmd(conn), usageplansDeleteCmd(conn),
		usageplansKeyCmd(conn, true), usageplansKeyCmd(conn, false))
	return cmd
}

// throttleText is "10/s burst 20", or "-".
func throttleText(t *apikeys.Throttle) string {
	if t == nil {
		return "-"
	}
	return fmt.Sprintf("%g/s burst %d", t.Rate, t.Burst)
}

// quotaText is "10000/month", or "-".
func quotaText(q *apikeys.Quota) string {
	if q == nil {
		return "-"
	}
	return fmt.Sprintf("%d/%s", q.Limit, q.Period)
}

// parseQuota parses "10000/month".
func parseQuota(s string) (*apikeys.Quota, error) {
	n, period, ok := strings.Cut(s, "/")
	limit, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil || limit < 1 {
		return nil, fmt.Errorf("--quota %q: want LIMIT/PERIOD, like 10000/month (period day, week or month)", s)
	}
	return &apikeys.Quota{Limit: limit, Period: period}, nil
}

// parseRouteThrottle parses "GET /pets/{id}=RATE[/BURST]".
func parseRouteThrottle(s string) (string, apikeys.Throttle, error) {
	i := strings.LastIndexByte(s, '=')
	bad := fmt.Errorf(`--route-throttle %q: want "METHOD /route/template=RATE[/BURST]", like "GET /pets/{id}=1/2"`, s)
	if i < 0 {
		return "", apikeys.Throttle{}, bad
	}
	rate, burst, _ := strings.Cut(s[i+1:], "/")
	var t apikeys.Throttle
	var err error
	if t.Rate, err = strconv.ParseFloat(rate, 64); err != nil {
		return "", t, bad
	}
	if burst != "" {
		if t.Burst, err = strconv.Atoi(burst); err != nil {
			return "", t, bad
		}
	}
	return s[:i], t, nil
}

func usageplansCreateCmd(conn *adminConn) *cobra.Command {
	var spec apikeys.PlanSpec
	var rate float64
	var burst int
	var quota string
	var routes []string
	cmd := &cobra.Command{
		Use:   "create --name NAME [--rate R --burst B] [--quota LIMIT/PERIOD] [--stages S,...]",
		Short: "Create a usage plan",
		Long: `Create a usage plan: a throttle per key (--rate requests per second, up
to --burst at once), a quota per key (--quota 10000/month; day, week or
month, UTC), the stages it applies to (none: every stage) and throttles
for single routes (--route-throttle "GET /pets/{id}=1/2"). Keys join it
with "wasmgate usageplans add-key" or "wasmgate apikeys create --plan".`,
		Example: `  wasmgate usageplans create --name basic --rate 10 --burst 20 --quota 10000/month --stages prod,dev`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if spec.Name == "" {
				return fmt.Errorf("--name is required: a name for the plan")
			}
			f := cmd.Flags()
			if f.Changed("rate") {
				spec.Throttle = &apikeys.Throttle{Rate: rate, Burst: burst}
			} else if f.Changed("burst") {
				return fmt.Errorf("--burst needs --rate (requests per second)")
			}
			if quota != "" {
				q, err := parseQuota(quota)
				if err != nil {
					return err
				}
				spec.Quota = q
			}
			for _, r := range routes {
				route, t, err := parseRouteThrottle(r)
				if err != nil {
					return err
				}
				if spec.RouteThrottles == nil {
					spec.RouteThrottles = map[string]apikeys.Throttle{}
				}
				spec.RouteThrottles[route] = t
			}
			c := conn.client()
			p, err := c.CreateUsagePlan(cmd.Context(), spec)
			if err != nil {
				return explain(c, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "usage plan %s (%s) created: throttle %s, quota %s, stages %s\n",
				p.ID, p.Name, throttleText(p.Throttle), quotaText(p.Quota), dash(strings.Join(p.Stages, ", ")))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec.Name, "name", "", "the plan's name (required)")
	f.StringVar(&spec.Description, "description", "", "a description")
	f.Float64Var(&rate, "rate", 0, "requests per second per key")
	f.IntVar(&burst, "burst", 0, "requests at once per key (default: the rate, rounded up)")
	f.StringVar(&quota, "quota", "", "requests per key and period: LIMIT/day, LIMIT/week or LIMIT/month")
	f.StringSliceVar(&spec.Stages, "stages", nil, "stages the plan applies to (default: every stage)")
	f.StringArrayVar(&routes, "route-throttle", nil, `a route's own throttle: "METHOD /route/template=RATE[/BURST]" (repeatable)`)
	return cmd
}

func usageplansShowCmd(conn *adminConn) *cobra.Command {
	return &cobra.Command{
		Use:   "show PLAN_ID",
		Short: "Print a usage plan as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := conn.client()
			p, err := c.UsagePlan(cmd.Context(), args[0])
			if err != nil {
				return explain(c, err)
			}
			return printJSON(cmd.OutOrStdout(), p)
		},
	}
}

func usageplansDeleteCmd(conn *adminConn) *cobra.Command {
	return &cobra.Command{
		Use:   "delete PLAN_ID",
		Short: "Delete a usage plan that has no keys",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := conn.client()
			if err := c.DeleteUsagePlan(cmd.Context(), args[0]); err != nil {
				return explain(c, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "usage plan %s deleted\n", args[0])
			return nil
		},
	}
}

func usageplansKeyCmd(conn *adminConn, add bool) *cobra.Command {
	use, short := "add-key PLAN_ID KEY_ID", "Put an API key in a usage plan (a key has at most one plan per stage)"
	if !add {
		use, short = "remove-key PLAN_ID KEY_ID", "Take an API key out of a usage plan"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := conn.client()
			call, verb := c.AddUsagePlanKey, "added to"
			if !add {
				call, verb = c.RemoveUsagePlanKey, "removed from"
			}
			p, err := call(cmd.Context(), args[0], args[1])
			if err != nil {
				return explain(c, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "api key %s %s usage plan %s (%d keys)\n", args[1], verb, p.ID, len(p.Keys))
			return nil
		},
	}
}
