package main

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ipSet is a compiled list of CIDRs: sorted, merged address ranges per
// family, searched with a binary search. Nothing is parsed per request.
type ipSet struct {
	v4, v6 []ipRange
}

type ipRange struct{ lo, hi netip.Addr }

// parsePrefix reads "10.0.0.0/8", "2001:db8::/32" or a bare address (a
// /32 or /128). IPv4-mapped IPv6 prefixes are stored as IPv4.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q: zones are not allowed", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR (%v)", s, err)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set; did you mean %s?", s, p.Masked())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p, nil
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func compile(prefixes []netip.Prefix) *ipSet {
	s := &ipSet{}
	for _, p := range prefixes {
		r := ipRange{p.Addr(), lastAddr(p)}
		if p.Addr().Is4() {
			s.v4 = append(s.v4, r)
		} else {
			s.v6 = append(s.v6, r)
		}
	}
	s.v4, s.v6 = merge(s.v4), merge(s.v6)
	return s
}

// merge sorts ranges and joins overlapping or adjacent ones.
func merge(rs []ipRange) []ipRange {
	slices.SortFunc(rs, func(a, b ipRange) int { return a.lo.Compare(b.lo) })
	var out []ipRange
	for _, r := range rs {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if next := last.hi.Next(); r.lo.Compare(last.hi) <= 0 || (next.IsValid() && r.lo == next) {
				if r.hi.Compare(last.hi) > 0 {
					last.hi = r.hi
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// contains reports whether a (unmapped, no zone) is in the set.
func (s *ipSet) contains(a netip.Addr) bool {
	if s == nil {
		return false
	}
	rs := s.v6
	if a.Is4() {
		rs = s.v4
	}
	// The last range starting at or below a.
	i, found := slices.BinarySearchFunc(rs, a, func(r ipRange, a netip.Addr) int { return r.lo.Compare(a) })
	if found {
		return true
	}
	return i > 0 && a.Compare(rs[i-1].hi) <= 0
}

func (s *ipSet) empty() bool { return s == nil || len(s.v4)+len(s.v6) == 0 }

// parseAddr reads a client address: "1.2.3.4", "1.2.3.4:80", "::1",
// "[::1]:80", "[::1]"; IPv4-mapped IPv6 becomes IPv4 and zones are
// dropped.
func parseAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}, false
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}
