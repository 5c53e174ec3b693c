package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const secretKey = "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"

// original is a configuration file of the original node, with its key names.
const original = `{
  "Addr": "127.0.0.1:9600",
  "LogLevel": "debug",
  "LogFile": "./test.log",
  "MongoDB": {"URI": "mongodb://ddn:hunter2@127.0.0.1:27017/", "Database": "health_monitoring", "ExpireTime": 86400},
  "IP2LocationDB": {"DatabasePath": "./IP2LOCATION-LITE-DB5.BIN"},
  "Prometheus": {"JobName": "test"},
  "Chain": {"Rpc": "https://rpc-testnet.example", "ChainId": 19850818, "PrivateKey": "` + secretKey + `",
    "ReportContract": {"AbiFile": "./dbc/ai_abi.json", "ContractAddress": "0xb616A0dad9af4cA23234b65D27176be2c09c720c"},
    "MachineInfoContract": {"AbiFile": "./dbc/machine_infos.json", "ContractAddress": "0xE676096cA8B957e914094c5e044Fcf99f5dbf3C6"}},
  "Certificate": {"cert": "", "key": ""},
  "NotifyThirdParty": {"OfflineNotify": "https://backend.example/notify"}
}`

func writeFile(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsWithoutFile(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "0.0.0.0:9521" || c.StoreKind() != "embedded" || c.DataDir != "./ddn-data" || c.HeartbeatTimeout != 30*time.Second ||
		c.MaxMessageBytes != 65536 || c.OfflineGracePeriod != 5*time.Minute || c.MongoDB.Database != "health_monitoring" ||
		c.LogLevel != "info" || c.NodeID == "" || c.Chain.Rpc != "" || c.EffectiveSweepInterval() != 30*time.Second ||
		c.MinHeapBytes != 64<<20 {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestOriginalFileLoadsUnchanged(t *testing.T) {
	c, err := Load(writeFile(t, original, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9600" || c.LogLevel != "debug" || c.LogFile != "./test.log" || c.MongoDB.ExpireTime != 86400 ||
		c.MongoDB.URI != "mongodb://ddn:hunter2@127.0.0.1:27017/" || c.IP2LocationDB.DatabasePath != "./IP2LOCATION-LITE-DB5.BIN" ||
		c.Prometheus.JobName != "test" || c.Chain.ChainId != 19850818 || c.Chain.PrivateKey != secretKey ||
		c.Chain.ReportContract.ContractAddress != "0xb616A0dad9af4cA23234b65D27176be2c09c720c" ||
		c.Chain.MachineInfoContract.AbiFile != "./dbc/machine_infos.json" || c.NotifyThirdParty.OfflineNotify != "https://backend.example/notify" ||
		c.StoreKind() != "mongodb" || len(c.Warnings) != 0 {
		t.Fatalf("loaded = %+v", c)
	}
}

func TestOlderIP2LDBKey(t *testing.T) {
	c, err := Load(writeFile(t, `{"IP2LDB":{"DatabasePath":"/old.BIN"}}`, 0o600))
	if err != nil || c.IP2LocationDB.DatabasePath != "/old.BIN" {
		t.Fatalf("IP2LDB: %+v, %v", c, err)
	}
	c, err = Load(writeFile(t, `{"IP2LDB":{"DatabasePath":"/old.BIN"},"IP2LocationDB":{"DatabasePath":"/new.BIN"}}`, 0o600))
	if err != nil || c.IP2LocationDB.DatabasePath != "/new.BIN" {
		t.Fatalf("both keys: %+v, %v", c, err)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	t.Setenv("DDN_ADDR", "127.0.0.1:1234")
	t.Setenv("DDN_MONGODB_URI", "memory://")
	t.Setenv("DDN_MONGODB_EXPIRETIME", "60")
	t.Setenv("DDN_CHAIN_PRIVATEKEY", "from-env")
	t.Setenv("DDN_HEARTBEATTIMEOUT", "2s")
	t.Setenv("DDN_OFFLINEGRACEPERIOD", "90")
	t.Setenv("DDN_NODEID", "node-7")
	t.Setenv("DDN_ADMIN_TOKEN", "tok")
	t.Setenv("DDN_CHAIN_REPORTCONTRACT_CONTRACTADDRESS", "0xabc")
	c, err := Load(writeFile(t, original, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:1234" || c.StoreKind() != "memory" || c.MongoDB.ExpireTime != 60 || c.Chain.PrivateKey != "from-env" ||
		c.HeartbeatTimeout != 2*time.Second || c.OfflineGracePeriod != 90*time.Second || c.NodeID != "node-7" || c.Admin.Token != "tok" ||
		c.Chain.ReportContract.ContractAddress != "0xabc" || c.LogLevel != "debug" {
		t.Fatalf("overridden = %+v", c)
	}
}

func TestInvalidValuesNameTheirKey(t *testing.T) {
	tests := []struct{ env, value, key string }{
		{"DDN_ADDR", "abc", "Addr"},
		{"DDN_LOGLEVEL", "loud", "LogLevel"},
		{"DDN_HEARTBEATTIMEOUT", "-1s", "HeartbeatTimeout"},
		{"DDN_HEARTBEATTIMEOUT", "soon", "HeartbeatTimeout"},
		{"DDN_MAXMESSAGEBYTES", "10", "MaxMessageBytes"},
		{"DDN_NODELEASERENEW", "1m", "NodeLeaseRenew"},
		{"DDN_MONGODB_URI", "postgres://u:" + secretKey + "@h/db", "MongoDB.URI"},
		{"DDN_MONGODB_EXPIRETIME", "-5", "MongoDB.ExpireTime"},
		{"DDN_MONGODB_DATABASE", "a/b", "MongoDB.Database"},
		{"DDN_CERTIFICATE_CERT", "/tmp/cert.pem", "Certificate"},
		{"DDN_NOTIFYTHIRDPARTY_OFFLINENOTIFY", "ftp://x", "NotifyThirdParty.OfflineNotify"},
		{"DDN_REPORTBATCHSIZE", "0", "ReportBatchSize"},
		{"DDN_SWEEPINTERVAL", "-1s", "SweepInterval"},
		{"DDN_DUPLICATESESSION", "kick", "DuplicateSession"},
		{"DDN_PROMETHEUS_PUSHGATEWAYURL", "localhost:9091", "Prometheus.PushgatewayURL"},
		{"DDN_PROMETHEUS_FLEETREFRESH", "0s", "Prometheus.FleetRefresh"},
		{"DDN_OUTBOX_MAXATTEMPTS", "0", "Outbox.MaxAttempts"},
		{"DDN_OUTBOX_MAXBACKOFF", "1ms", "Outbox.MaxBackoff"},
		{"DDN_OUTBOX_KEEP", "-1h", "Outbox.Keep"},
		{"DDN_MINHEAPBYTES", "-1", "MinHeapBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			t.Setenv(tt.env, tt.value)
			t.Setenv("DDN_CHAIN_PRIVATEKEY", secretKey)
			_, err := Load("")
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "config: ") || !strings.Contains(msg, tt.key) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q must be one line naming %s", msg, tt.key)
			}
			if strings.Contains(msg, secretKey) {
				t.Fatalf("error leaks a secret: %q", msg)
			}
		})
	}
}

func TestBadFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := Load(writeFile(t, `{"Addr": `, 0o600)); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Fatalf("broken JSON: %v", err)
	}
}

func TestRedactedHidesSecrets(t *testing.T) {
	t.Setenv("DDN_ADMIN_TOKEN", "admin-secret")
	t.Setenv("DDN_ADMIN_READTOKEN", "read-secret")
	c, err := Load(writeFile(t, original, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Redacted()
	dump := fmt.Sprintf("%+v", r)
	for _, secret := range []string{secretKey, "hunter2", "admin-secret", "read-secret"} {
		if strings.Contains(dump, secret) {
			t.Fatalf("redacted config still holds %q: %s", secret, dump)
		}
	}
	logged := fmt.Sprint(c.LogFields())
	if strings.Contains(logged, secretKey) || !strings.Contains(logged, "HeartbeatTimeout:30s") {
		t.Fatalf("log fields = %s", logged)
	}
	if r.Chain.PrivateKey != "REDACTED" || !strings.Contains(r.MongoDB.URI, "ddn:REDACTED@") || c.Chain.PrivateKey != secretKey {
		t.Fatalf("redaction wrong or applied to the original: %+v", r)
	}
}

func TestReadableSecretFileWarns(t *testing.T) {
	c, err := Load(writeFile(t, original, 0o644))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "chmod 600") || strings.Contains(c.Warnings[0], secretKey) {
		t.Fatalf("warnings = %v", c.Warnings)
	}
}

// The log levels the original node accepted (logrus's names, any case)
// start ddn, mapped onto the levels it logs at.
func TestOriginalLogLevelsAccepted(t *testing.T) {
	for in, want := range map[string]string{"trace": "debug", "debug": "debug", "info": "info", "Warning": "warn",
		"warn": "warn", "ERROR": "error", "fatal": "fatal", "panic": "panic"} {
		t.Setenv("DDN_LOGLEVEL", in)
		c, err := Load("")
		if err != nil {
			t.Fatalf("LogLevel %q: %v", in, err)
		}
		if c.LogLevel != want {
			t.Errorf("LogLevel %q = %q, want %q", in, c.LogLevel, want)
		}
	}
}

// InternalSecret comes from the file or from DDN_INTERNAL_SECRET (the
// original's later versions' variable) and is redacted like every secret.
func TestInternalSecretFromEnvironmentAndRedacted(t *testing.T) {
	for _, env := range []string{"DDN_INTERNAL_SECRET", "DDN_INTERNALSECRET"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "s3cret-value")
			c, err := Load("")
			if err != nil {
				t.Fatal(err)
			}
			if c.InternalSecret != "s3cret-value" {
				t.Fatalf("InternalSecret = %q", c.InternalSecret)
			}
			if got := c.Redacted().InternalSecret; got != "REDACTED" {
				t.Fatalf("redacted InternalSecret = %q", got)
			}
			if strings.Contains(fmt.Sprint(c.LogFields()), "s3cret-value") {
				t.Fatal("the log fields leak the internal secret")
			}
		})
	}
}

// The original's rules are the defaults: report(4) only for scored
// machines, the webhook for DeepLinkEVM after the chain report, its CORS.
func TestOriginalBehaviourDefaults(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Chain.OfflineReport != "scored" || !c.NotifyThirdParty.AfterChainReport ||
		strings.Join(c.NotifyThirdParty.Projects, ",") != "DeepLinkEVM" || c.WebhookAllProjects() {
		t.Fatalf("chain/webhook defaults = %+v %+v", c.Chain, c.NotifyThirdParty)
	}
	if strings.Join(c.CORS.AllowOrigins, ",") != "*" || strings.Join(c.CORS.AllowMethods, ",") != "GET,POST" ||
		strings.Join(c.CORS.AllowHeaders, ",") != "Origin,Content-Length,Content-Type" || !c.CORS.AllowCredentials ||
		c.CORS.MaxAge != 12*time.Hour || len(c.Admin.OpenContractRoutes) != 0 {
		t.Fatalf("CORS defaults = %+v, open contract routes %v", c.CORS, c.Admin.OpenContractRoutes)
	}
	t.Setenv("DDN_NOTIFYTHIRDPARTY_PROJECTS", "*")
	t.Setenv("DDN_CHAIN_OFFLINEREPORT", "all")
	t.Setenv("DDN_ADMIN_OPENCONTRACTROUTES", "register,online")
	if c, err = Load(""); err != nil {
		t.Fatal(err)
	}
	if !c.WebhookAllProjects() || c.Chain.OfflineReport != "all" || strings.Join(c.Admin.OpenContractRoutes, ",") != "register,online" {
		t.Fatalf("overrides = %+v %+v %v", c.Chain, c.NotifyThirdParty, c.Admin.OpenContractRoutes)
	}
	for env, key := range map[string]string{"DDN_CHAIN_OFFLINEREPORT": "Chain.OfflineReport",
		"DDN_ADMIN_OPENCONTRACTROUTES": "Admin.OpenContractRoutes", "DDN_CORS_ALLOWORIGINS": "CORS.AllowOrigins"} {
		t.Run(key, func(t *testing.T) {
			t.Setenv(env, "bogus")
			if _, err := Load(""); err == nil || !strings.Contains(err.Error(), "config: "+key+":") {
				t.Fatalf("error = %v, want one naming %s", err, key)
			}
		})
	}
}

// TestOutboxKeepFollowsTheStore: finished outbox entries stay an hour on
// the embedded store, as long as the reports elsewhere, and Outbox.Keep
// when it is set.
func TestOutboxKeepFollowsTheStore(t *testing.T) {
	for _, tt := range []struct {
		uri, keep string
		want      time.Duration
	}{
		{"", "", time.Hour},
		{"memory://", "", 30 * 24 * time.Hour},
		{"mongodb://127.0.0.1:27017/", "", 30 * 24 * time.Hour},
		{"", "6h", 6 * time.Hour},
		{"mongodb://127.0.0.1:27017/", "48h", 48 * time.Hour},
	} {
		t.Setenv("DDN_MONGODB_URI", tt.uri)
		t.Setenv("DDN_OUTBOX_KEEP", tt.keep)
		c, err := Load("")
		if err != nil {
			t.Fatal(err)
		}
		if got := c.OutboxKeep(); got != tt.want {
			t.Errorf("URI %q, Outbox.Keep %q: OutboxKeep() = %s, want %s", tt.uri, tt.keep, got, tt.want)
		}
	}
}
