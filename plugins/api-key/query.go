package main

import (
	"net/url"
	"strings"
)

// queryValue returns the first value of parameter name in the raw query
// q (percent-decoded), or "".
func queryValue(q, name string) string {
	for part := range strings.SplitSeq(q, "&") {
		k, v, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(k); err != nil || k != name {
			continue
		}
		if v, err := url.QueryUnescape(v); err == nil {
			return v
		}
		return ""
	}
	return ""
}

// withoutParam returns path with every name=... parameter removed from
// its query, the others kept as sent.
func withoutParam(path, name string) string {
	p, q, ok := strings.Cut(path, "?")
	if !ok {
		return path
	}
	var kept []string
	for part := range strings.SplitSeq(q, "&") {
		k, _, _ := strings.Cut(part, "=")
		if dk, err := url.QueryUnescape(k); err == nil && dk == name {
			continue
		}
		kept = append(kept, part)
	}
	if len(kept) == 0 {
		return p
	}
	return p + "?" + strings.Join(kept, "&")
}
