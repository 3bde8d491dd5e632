package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"

	"github.com/quic-go/quic-go/http3"
	"github.com/spf13/cobra"
)

// requestCmd is a small HTTP client for trying the gateway, including over
// HTTP/3 where the machine's curl lacks --http3.
func requestCmd() *cobra.Command {
	var useH3, insecure bool
	var method string
	var headers []string
	cmd := &cobra.Command{
		Use:   "request URL",
		Short: "Send one HTTP request (HTTP/1.1, HTTP/2 or --http3) and print the response",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tlsCfg := &tls.Config{InsecureSkipVerify: insecure} //nolint:gosec // opt-in flag for self-signed dev certificates
			var rt http.RoundTripper = &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true}
			if useH3 {
				t := &http3.Transport{TLSClientConfig: tlsCfg}
				defer t.Close()
				rt = t
			}
			req, err := http.NewRequestWithContext(cmd.Context(), method, args[0], nil)
			if err != nil {
				return err
			}
			for _, h := range headers {
				k, v, ok := strings.Cut(h, ":")
				if !ok {
					return fmt.Errorf("header %q: want NAME: VALUE", h)
				}
				req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
			resp, err := rt.RoundTrip(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			fmt.Printf("%s %s\n", resp.Proto, resp.Status)
			keys := make([]string, 0, len(resp.Header))
			for k := range resp.Header {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				for _, v := range resp.Header[k] {
					fmt.Printf("%s: %s\n", k, v)
				}
			}
			fmt.Println()
			_, err = io.Copy(os.Stdout, resp.Body)
			return err
		},
	}
	cmd.Flags().BoolVar(&useH3, "http3", false, "use HTTP/3 (QUIC)")
	cmd.Flags().BoolVarP(&insecure, "insecure", "k", false, "accept any server certificate (self-signed development certificates)")
	cmd.Flags().StringVarP(&method, "request", "X", "GET", "method")
	cmd.Flags().StringArrayVarP(&headers, "header", "H", nil, "request header NAME: VALUE (repeatable)")
	return cmd
}
