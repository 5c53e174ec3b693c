package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// keyError names the key a bad value sits under; it never includes a secret.
func keyError(key, format string, args ...any) error {
	return fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...))
}

// oneLine folds a multi-line decoding error into the one line startup prints.
func oneLine(err error) string {
	msg := strings.ReplaceAll(err.Error(), "decoding failed due to the following error(s):", "")
	fields := strings.FieldsFunc(msg, func(r rune) bool { return r == '\n' })
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	return strings.Join(fields, "; ")
}

func (c *Config) validate() error {
	var errs []error
	check := func(ok bool, key, format string, args ...any) {
		if !ok {
			errs = append(errs, keyError(key, format, args...))
		}
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		errs = append(errs, keyError("Addr", "%q is not host:port", c.Addr))
	}
	if lvl, ok := NormalizeLogLevel(c.LogLevel); ok {
		c.LogLevel = lvl
	} else {
		errs = append(errs, keyError("LogLevel", "%q is not one of trace, debug, info, warn, warning, error, fatal, panic", c.LogLevel))
	}
	positive := func(key string, d time.Duration) { check(d > 0, key, "must be positive, got %q", d.String()) }
	positive("HeartbeatTimeout", c.HeartbeatTimeout)
	positive("OfflineGracePeriod", c.OfflineGracePeriod)
	positive("ShutdownTimeout", c.ShutdownTimeout)
	positive("NodeLeaseExpiry", c.NodeLeaseExpiry)
	positive("NodeLeaseRenew", c.NodeLeaseRenew)
	positive("ReportBatchDelay", c.ReportBatchDelay)
	check(c.DuplicateSession == "reject" || c.DuplicateSession == "replace", "DuplicateSession", "%q is not one of reject, replace", c.DuplicateSession)
	positive("MailboxInterval", c.MailboxInterval)
	positive("NotifyThirdParty.Timeout", c.NotifyThirdParty.Timeout)
	positive("Prometheus.FleetRefresh", c.Prometheus.FleetRefresh)
	positive("Prometheus.PushInterval", c.Prometheus.PushInterval)
	if u := c.Prometheus.PushgatewayURL; u != "" {
		parsed, err := url.Parse(u)
		check(err == nil && (parsed.Scheme == "http" || parsed.Scheme == "https") && parsed.Host != "", "Prometheus.PushgatewayURL", "%q is not an http(s) URL", u)
	}
	check(c.SweepInterval >= 0, "SweepInterval", "must not be negative, got %q", c.SweepInterval.String())
	positive("Score.CatalogReload", c.Score.CatalogReload)
	positive("Outbox.Interval", c.Outbox.Interval)
	positive("Outbox.BaseBackoff", c.Outbox.BaseBackoff)
	check(c.Outbox.MaxBackoff >= c.Outbox.BaseBackoff, "Outbox.MaxBackoff", "must be at least Outbox.BaseBackoff (%s), got %s", c.Outbox.BaseBackoff, c.Outbox.MaxBackoff)
	check(c.Outbox.MaxAttempts >= 1, "Outbox.MaxAttempts", "must be at least 1, got %d", c.Outbox.MaxAttempts)
	check(c.InfoRequestInterval >= 0, "InfoRequestInterval", "must not be negative (0: never), got %s", c.InfoRequestInterval)
	check(c.Outbox.Keep >= 0, "Outbox.Keep", "must not be negative (0: an hour on the embedded store, else MongoDB.ExpireTime), got %s", c.Outbox.Keep)
	check(c.Outbox.Concurrency >= 0, "Outbox.Concurrency", "must not be negative (0: one per chain key), got %d", c.Outbox.Concurrency)
	check(c.NodeLeaseRenew < c.NodeLeaseExpiry, "NodeLeaseRenew", "must be shorter than NodeLeaseExpiry (%s), got %s", c.NodeLeaseExpiry, c.NodeLeaseRenew)
	check(c.MaxMessageBytes >= 1024 && c.MaxMessageBytes <= 16<<20, "MaxMessageBytes", "must be between 1024 and 16777216, got %d", c.MaxMessageBytes)
	check(c.Admin.ImportMaxBytes >= 1<<20, "Admin.ImportMaxBytes", "must be at least 1048576, got %d", c.Admin.ImportMaxBytes)
	check(c.MinHeapBytes >= 0, "MinHeapBytes", "must not be negative (0: the Go runtime's own pacing), got %d", c.MinHeapBytes)
	check(c.ReportBatchSize >= 1 && c.ReportBatchSize <= 10000, "ReportBatchSize", "must be between 1 and 10000, got %d", c.ReportBatchSize)
	check(c.MongoDB.ExpireTime >= 0, "MongoDB.ExpireTime", "must be a number of seconds >= 0, got %d", c.MongoDB.ExpireTime)
	check(c.MongoDB.RetentionInterval > 0, "MongoDB.RetentionInterval", "must be positive, got %q", c.MongoDB.RetentionInterval.String())
	check(c.MongoDB.Database != "" && !strings.ContainsAny(c.MongoDB.Database, `/\. "$`), "MongoDB.Database", "%q is not a valid database name", c.MongoDB.Database)
	if u := c.MongoDB.URI; u != "" && u != "memory://" {
		parsed, err := url.Parse(u)
		if err != nil || (parsed.Scheme != "mongodb" && parsed.Scheme != "mongodb+srv") || parsed.Host == "" {
			// The URI may hold a password: name the key, not the value.
			errs = append(errs, keyError("MongoDB.URI", "must be mongodb://host[:port]/..., mongodb+srv://... or memory://"))
		}
	}
	check(c.NodeID != "" && !strings.ContainsAny(c.NodeID, " \t\n"), "NodeID", "%q must be non-empty without spaces", c.NodeID)
	check((c.Certificate.Cert == "") == (c.Certificate.Key == ""), "Certificate", "cert and key must be set together")
	if u := c.NotifyThirdParty.OfflineNotify; u != "" {
		parsed, err := url.Parse(u)
		check(err == nil && (parsed.Scheme == "http" || parsed.Scheme == "https") && parsed.Host != "", "NotifyThirdParty.OfflineNotify", "%q is not an http(s) URL", u)
	}
	check(slices.Contains([]string{"scored", "all", "none"}, c.Chain.OfflineReport), "Chain.OfflineReport",
		"%q is not one of scored, all, none", c.Chain.OfflineReport)
	for _, a := range c.Admin.OpenContractRoutes {
		check(slices.Contains([]string{"register", "unregister", "online", "offline"}, a), "Admin.OpenContractRoutes",
			"%q is not one of register, unregister, online, offline", a)
	}
	for _, o := range c.CORS.AllowOrigins {
		check(o == "*" || strings.HasPrefix(o, "http://") || strings.HasPrefix(o, "https://"), "CORS.AllowOrigins",
			"%q must be \"*\" or an origin like \"https://console.example.com\"", o)
	}
	check(c.CORS.MaxAge >= 0, "CORS.MaxAge", "must not be negative, got %q", c.CORS.MaxAge.String())
	errs = append(errs, c.validateChain()...)
	c.validateSecurity(check)
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

// NormalizeLogLevel maps the level names the original node accepted (those
// of logrus, in any case: panic, fatal, error, warn, warning, info, debug,
// trace) onto the levels ddn logs at: trace is debug, warning is warn. An
// empty level is info.
func NormalizeLogLevel(s string) (string, bool) {
	switch l := strings.ToLower(strings.TrimSpace(s)); l {
	case "":
		return "info", true
	case "trace", "debug":
		return "debug", true
	case "warning", "warn":
		return "warn", true
	case "info", "error", "fatal", "panic":
		return l, true
	}
	return s, false
}
