package config

import (
	"strings"
	"testing"
	"time"
)

func TestSecurityDefaults(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	l := c.Limits
	if l.MaxConnections != 20000 || l.MaxConnectionsPerIP != 256 || l.MaxAnonymous != 2000 || l.OnlineDeadline != 15*time.Second ||
		l.MessageRate != 20 || l.MessageBurst != 50 || l.RateStrikes != 50 || l.HandshakeTimeout != 10*time.Second ||
		l.ReadTimeout != 30*time.Second || l.WriteTimeout != 10*time.Second || l.IdleTimeout != 2*time.Minute || l.MaxBodyBytes != 1<<20 {
		t.Fatalf("limit defaults: %+v", l)
	}
	if c.Security.VerifySignatures || c.Security.RequireSignatures || len(c.Security.AllowedOrigins) != 0 || len(c.Security.TrustedProxies) != 0 || c.AdminAddr != "" {
		t.Fatalf("security defaults: %+v %q", c.Security, c.AdminAddr)
	}
}

func TestSecurityFromFileAndEnvironment(t *testing.T) {
	t.Setenv("DDN_SECURITY_TRUSTEDPROXIES", "10.0.0.0/8,192.0.2.1")
	t.Setenv("DDN_LIMITS_MAXCONNECTIONSPERIP", "7")
	c, err := Load(writeFile(t, `{"AdminAddr":"127.0.0.1:9600","Security":{"VerifySignatures":true,"RequireSignatures":true,"AllowedOrigins":["*.example.com"]},"Limits":{"OnlineDeadline":5}}`, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminAddr != "127.0.0.1:9600" || !c.Security.VerifySignatures || !c.Security.RequireSignatures ||
		strings.Join(c.Security.AllowedOrigins, ",") != "*.example.com" || strings.Join(c.Security.TrustedProxies, ",") != "10.0.0.0/8,192.0.2.1" ||
		c.Limits.MaxConnectionsPerIP != 7 || c.Limits.OnlineDeadline != 5*time.Second {
		t.Fatalf("loaded: %q %+v %+v", c.AdminAddr, c.Security, c.Limits)
	}
}

func TestSecurityInvalidValuesNameTheirKey(t *testing.T) {
	for _, tt := range []struct{ env, value, key string }{
		{"DDN_LIMITS_MAXCONNECTIONS", "-1", "Limits.MaxConnections"},
		{"DDN_LIMITS_MAXCONNECTIONSPERIP", "-1", "Limits.MaxConnectionsPerIP"},
		{"DDN_LIMITS_MAXANONYMOUS", "-3", "Limits.MaxAnonymous"},
		{"DDN_LIMITS_ONLINEDEADLINE", "-1s", "Limits.OnlineDeadline"},
		{"DDN_LIMITS_MESSAGERATE", "-2", "Limits.MessageRate"},
		{"DDN_LIMITS_MESSAGEBURST", "0", "Limits.MessageBurst"},
		{"DDN_LIMITS_HANDSHAKETIMEOUT", "0s", "Limits.HandshakeTimeout"},
		{"DDN_LIMITS_IDLETIMEOUT", "0", "Limits.IdleTimeout"},
		{"DDN_LIMITS_MAXBODYBYTES", "10", "Limits.MaxBodyBytes"},
		{"DDN_SECURITY_REQUIRESIGNATURES", "true", "Security.RequireSignatures"},
		{"DDN_SECURITY_TRUSTEDPROXIES", "10.0.0.0/99", "Security.TrustedProxies"},
		{"DDN_SECURITY_ALLOWEDORIGINS", "https://example.com", "Security.AllowedOrigins"},
		{"DDN_ADMINADDR", "nope", "AdminAddr"},
		{"DDN_ADMINADDR", "0.0.0.0:9521", "AdminAddr"},
	} {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			t.Setenv(tt.env, tt.value)
			_, err := Load("")
			if err == nil {
				t.Fatal("accepted")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "config: ") || !strings.Contains(msg, tt.key) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q must be one line naming %s", msg, tt.key)
			}
		})
	}
}
