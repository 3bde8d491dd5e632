package admin

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// CheckListen refuses to expose the admin API without a token: it returns
// nil when addr's host is a loopback address (127.0.0.0/8, ::1,
// "localhost") or token is set, and an error telling what to do
// otherwise. An empty addr (the admin API off) is fine; a malformed one is
// an error either way.
func CheckListen(addr, token string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("admin_listen %s: want HOST:PORT (e.g. 127.0.0.1:9901): %v", addr, err)
	}
	if isLoopback(host) || token != "" {
		return nil
	}
	what := "is not a loopback address"
	if host == "" {
		what = "listens on every interface"
	}
	return fmt.Errorf("admin_listen %s %s: set admin_token (env WASMGATE_ADMIN_TOKEN) or bind 127.0.0.1", addr, what)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return ip.Unmap().IsLoopback()
}
