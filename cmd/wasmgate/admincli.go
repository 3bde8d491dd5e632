package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wasmgate/wasmgate/host/admin"
	"github.com/wasmgate/wasmgate/host/deploy"
)

// defaultAdmin is the admin API's address when neither --admin nor
// WASMGATE_ADMIN says otherwise (serve's default admin_listen).
const defaultAdmin = "http://127.0.0.1:9901"

// adminConn holds the --admin and --token flags of a command that talks
// to the admin API.
type adminConn struct {
	url, token string
}

// adminFlags registers --admin and --token on cmd and its subcommands.
func adminFlags(cmd *cobra.Command) *adminConn {
	a := &adminConn{}
	f := cmd.PersistentFlags()
	f.StringVar(&a.url, "admin", "", "admin API URL (default $WASMGATE_ADMIN, else "+defaultAdmin+")")
	// The default is not shown: --help would print the token.
	f.StringVar(&a.token, "token", "", "admin API token (default $WASMGATE_ADMIN_TOKEN)")
	return a
}

// client returns a client for the admin API the flags and environment
// name; changes are recorded under $WASMGATE_AUTHOR, else $USER.
func (a *adminConn) client() *admin.Client {
	u, token := a.url, a.token
	if u == "" {
		u = os.Getenv("WASMGATE_ADMIN")
	}
	if u == "" {
		u = defaultAdmin
	}
	if token == "" {
		token = os.Getenv("WASMGATE_ADMIN_TOKEN")
	}
	c := admin.NewClient(u, token)
	c.Author = os.Getenv("WASMGATE_AUTHOR")
	if c.Author == "" {
		c.Author = os.Getenv("USER")
	}
	return c
}

// explain returns err as is when the admin API answered it (its message
// says what is wrong), else says which admin API could not be reached.
func explain(c *admin.Client, err error) error {
	var ae *admin.APIError
	if err == nil || errors.As(err, &ae) {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is said below
	}
	return fmt.Errorf("admin API at %s: %w (is `wasmgate serve` running with its admin API? point --admin or WASMGATE_ADMIN at it)", c.BaseURL(), err)
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// printTable writes rows under a header, aligned.
func printTable(w io.Writer, header []string, rows [][]string) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for line := range strings.Lines(buf.String()) {
		if _, err := fmt.Fprintln(w, strings.TrimRight(line, " \n")); err != nil {
			return err
		}
	}
	return nil
}

// shortDigest abbreviates "sha256:<hex>" to its first 8 hex digits.
func shortDigest(d string) string {
	if hex, ok := strings.CutPrefix(d, "sha256:"); ok && len(hex) > 8 {
		return "sha256:" + hex[:8] + "…"
	}
	return d
}

// parseVars turns NAME=VALUE flags into a map.
func parseVars(flag string, kvs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--%s %q: want NAME=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// canaryText is "10% → d-9" (with its stickiness).
func canaryText(c *deploy.Canary) string {
	if c == nil {
		return ""
	}
	s := fmt.Sprintf("%g%% → %s", c.Percent, c.Deployment)
	if c.Sticky != "" {
		s += " (sticky " + c.Sticky + ")"
	}
	return s
}

// pinsText is "a=sha256:1234abcd…, b=…", by plugin name.
func pinsText(pins map[string]string) string {
	var out []string
	for _, p := range slices.Sorted(maps.Keys(pins)) {
		out = append(out, p+"="+shortDigest(pins[p]))
	}
	return strings.Join(out, ", ")
}

// stageLine is a stage's one-line summary: "prod serves d-7, canary 10% →
// d-9, pins rate-limit=sha256:1234abcd…".
func stageLine(st deploy.Stage) string {
	s := st.Name + " serves " + st.Deployment
	if st.Canary != nil {
		s += ", canary " + canaryText(st.Canary)
	}
	if len(st.Pins) > 0 {
		s += ", pins " + pinsText(st.Pins)
	}
	switch c := st.Cache; {
	case c == nil:
	case !c.Enabled:
		s += ", cache off"
	case c.SizeMB > 0:
		s += fmt.Sprintf(", cache %d MB", c.SizeMB)
	}
	if st.RequireClientCert {
		s += ", client certificate required"
	}
	if th := st.Throttle; th != nil {
		s += fmt.Sprintf(", throttle %g/s burst %d", th.RateLimit, th.Burst)
	}
	if a := st.AccessLog; a != nil && a.Format != "" {
		f := a.Format
		if len(f) > 24 {
			f = "template"
		}
		s += ", access log " + f
		if a.Destination != "" {
			s += " → " + a.Destination
		}
	}
	if e := st.ExecLog; e != nil && e.Level != "" {
		s += ", exec log " + e.Level
	}
	if c := st.Capture; c != nil && c.SampleRate > 0 {
		s += fmt.Sprintf(", capture %g%%", c.SampleRate*100)
	}
	return s
}
