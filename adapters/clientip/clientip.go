// Package clientip decides a request's client address: the socket peer, or,
// when the peer is a configured trusted proxy, the address the proxy reports
// in X-Forwarded-For / X-Real-IP. Anyone else's headers are ignored, so a
// client cannot choose the address its machine is stored and located under.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver knows the trusted proxies.
type Resolver struct {
	trusted []netip.Prefix
}

// New parses the trusted proxies: CIDRs ("10.0.0.0/8") or single addresses.
func New(proxies []string) (*Resolver, error) {
	r := &Resolver{}
	for _, p := range proxies {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if pfx, err := netip.ParsePrefix(p); err == nil {
			r.trusted = append(r.trusted, pfx.Masked())
			continue
		}
		addr, err := netip.ParseAddr(p)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is not a CIDR or an IP address", p)
		}
		addr = addr.Unmap()
		r.trusted = append(r.trusted, netip.PrefixFrom(addr, addr.BitLen()))
	}
	return r, nil
}

// Trusted reports whether addr is a trusted proxy.
func (r *Resolver) Trusted(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range r.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ClientIP returns the request's client address: the peer, unless the peer
// is a trusted proxy; then the rightmost X-Forwarded-For hop that is not a
// trusted proxy (the leftmost when all are), or X-Real-IP, or the peer when
// the headers hold no valid address.
func (r *Resolver) ClientIP(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || len(r.trusted) == 0 || !r.Trusted(peer) {
		return host
	}
	if hops := forwarded(req.Header.Values("X-Forwarded-For")); len(hops) > 0 {
		client := peer
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(hops[i])
			if err != nil {
				break // a garbled hop: keep the last address a trusted proxy gave
			}
			client = hop.Unmap()
			if !r.Trusted(client) {
				break
			}
		}
		return client.String()
	}
	if real, err := netip.ParseAddr(strings.TrimSpace(req.Header.Get("X-Real-IP"))); err == nil {
		return real.Unmap().String()
	}
	return host
}

// forwarded splits X-Forwarded-For values into hops, in order, without
// ports or brackets.
func forwarded(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, h := range strings.Split(v, ",") {
			h = strings.TrimSpace(h)
			if ap, err := netip.ParseAddrPort(h); err == nil {
				h = ap.Addr().String()
			}
			hops = append(hops, strings.Trim(h, "[]"))
		}
	}
	return hops
}
