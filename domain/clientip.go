package domain

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseClientIP reads a client IP as connections and operators give it: an
// IPv4 or IPv6 address, optionally with a port ("1.2.3.4:5", "[::1]:5") and
// surrounding space; an IPv4-mapped IPv6 address is its IPv4 address and a
// zone is dropped, so every locator places the same address the same way.
// Anything else is a FieldError on "ip" (code 1).
func ParseClientIP(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	addr, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, &FieldError{Field: "ip", Reason: fmt.Sprintf("%q is not an IP address", truncate(s, 64))}
		}
		addr = ap.Addr()
	}
	return addr.Unmap().WithZone(""), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
