package config

import (
	"net"
	"net/netip"
	"strings"
	"time"
)

// Limits bound what clients may hold of a node (connections, rates, request
// sizes and times), so a hostile or broken client cannot starve the others.
type Limits struct {
	// MaxConnections caps this node's WebSocket connections (503 beyond).
	MaxConnections int
	// MaxConnectionsPerIP caps one client IP's connections (429 beyond).
	MaxConnectionsPerIP int
	// MaxAnonymous caps connections that have not gone online yet (503 beyond).
	MaxAnonymous int
	// OnlineDeadline closes a connection with no successful online by then (1008); it pauses while an online is served.
	OnlineDeadline time.Duration
	// MessageRate and MessageBurst are one connection's token bucket, in
	// messages (ping frames included) per second; over it answers code 1.
	MessageRate  float64
	MessageBurst int
	// RateStrikes rate-limited messages in a row close the connection (1008).
	RateStrikes int
	// HandshakeTimeout bounds the request headers, the WebSocket handshake included.
	HandshakeTimeout time.Duration
	// ReadTimeout bounds a whole HTTP request; WriteTimeout one answer and
	// one WebSocket write (a client that does not read is dropped).
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// IdleTimeout closes idle HTTP keep-alive connections.
	IdleTimeout time.Duration
	// MaxBodyBytes caps every HTTP request body (413 beyond).
	MaxBodyBytes int64
}

// Security holds the checks on who may connect and what they may sign.
type Security struct {
	// VerifySignatures checks pub_key/sign on every message (code 3 when bad).
	VerifySignatures bool
	// RequireSignatures also refuses unsigned messages (code 3).
	RequireSignatures bool
	// AllowedOrigins are host patterns browsers may connect from; agents send
	// no Origin and are unaffected. Empty: any origin.
	AllowedOrigins []string
	// TrustedProxies are CIDRs (or addresses) whose X-Forwarded-For /
	// X-Real-IP name the client; anyone else's are ignored.
	TrustedProxies []string
}

func init() {
	for k, v := range map[string]any{
		"AdminAddr":                  "",
		"Limits.MaxConnections":      20000,
		"Limits.MaxConnectionsPerIP": 256,
		"Limits.MaxAnonymous":        2000,
		"Limits.OnlineDeadline":      "15s",
		"Limits.MessageRate":         20,
		"Limits.MessageBurst":        50,
		"Limits.RateStrikes":         50,
		"Limits.HandshakeTimeout":    "10s",
		"Limits.ReadTimeout":         "30s",
		"Limits.WriteTimeout":        "10s",
		"Limits.IdleTimeout":         "120s",
		"Limits.MaxBodyBytes":        1 << 20,
		"Security.VerifySignatures":  false,
		"Security.RequireSignatures": false,
		"Security.AllowedOrigins":    []string{},
		"Security.TrustedProxies":    []string{},
	} {
		defaults[k] = v
	}
}

// validateSecurity checks the Limits, Security and AdminAddr keys.
func (c *Config) validateSecurity(check func(ok bool, key, format string, args ...any)) {
	l := c.Limits
	check(l.MaxConnections >= 0, "Limits.MaxConnections", "must be >= 0 (0: no limit), got %d", l.MaxConnections)
	check(l.MaxConnectionsPerIP >= 0, "Limits.MaxConnectionsPerIP", "must be >= 0 (0: no limit), got %d", l.MaxConnectionsPerIP)
	check(l.MaxAnonymous >= 0, "Limits.MaxAnonymous", "must be >= 0 (0: no limit), got %d", l.MaxAnonymous)
	check(l.OnlineDeadline >= 0, "Limits.OnlineDeadline", "must not be negative (0: none), got %s", l.OnlineDeadline)
	check(l.MessageRate >= 0, "Limits.MessageRate", "must be >= 0 (0: no limit), got %g", l.MessageRate)
	check(l.MessageRate == 0 || l.MessageBurst >= 1, "Limits.MessageBurst", "must be at least 1, got %d", l.MessageBurst)
	check(l.RateStrikes >= 0, "Limits.RateStrikes", "must be >= 0 (0: never close), got %d", l.RateStrikes)
	for key, d := range map[string]time.Duration{"Limits.HandshakeTimeout": l.HandshakeTimeout, "Limits.ReadTimeout": l.ReadTimeout,
		"Limits.WriteTimeout": l.WriteTimeout, "Limits.IdleTimeout": l.IdleTimeout} {
		check(d > 0, key, "must be positive, got %q", d.String())
	}
	check(l.MaxBodyBytes >= 1024, "Limits.MaxBodyBytes", "must be at least 1024, got %d", l.MaxBodyBytes)
	check(!c.Security.RequireSignatures || c.Security.VerifySignatures, "Security.RequireSignatures", "needs Security.VerifySignatures")
	for _, p := range c.Security.TrustedProxies {
		p = strings.TrimSpace(p)
		_, perr := netip.ParsePrefix(p)
		_, aerr := netip.ParseAddr(p)
		check(p == "" || perr == nil || aerr == nil, "Security.TrustedProxies", "%q is not a CIDR or an IP address", p)
	}
	for _, o := range c.Security.AllowedOrigins {
		check(strings.TrimSpace(o) != "" && !strings.Contains(o, "://"), "Security.AllowedOrigins", "%q must be a host pattern like \"example.com\" or \"*.example.com\", without scheme", o)
	}
	if c.AdminAddr != "" {
		_, port, err := net.SplitHostPort(c.AdminAddr)
		check(err == nil && port != "", "AdminAddr", "%q is not host:port", c.AdminAddr)
		check(c.AdminAddr != c.Addr, "AdminAddr", "must differ from Addr (%s)", c.Addr)
	}
}
