// Package config loads the node's configuration: the original node's JSON
// file unchanged, DDN_<SECTION>_<KEY> environment overrides, defaults, and
// validation that names the offending key in one line.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// Contract is one contract the node calls on chain.
type Contract struct {
	AbiFile         string
	ContractAddress string
}

// Config is everything the node can be told. Field names are the original
// node's JSON keys; ddn's additions are new keys with defaults.
type Config struct {
	Addr     string
	LogLevel string
	LogFile  string
	// NodeID names this node in the cluster; default hostname plus a random suffix.
	NodeID string
	// DataDir holds the embedded store when MongoDB.URI is empty.
	DataDir            string
	HeartbeatTimeout   time.Duration
	MaxMessageBytes    int64
	OfflineGracePeriod time.Duration
	// SweepInterval is how often the offline sweeper runs; 0 picks a tenth of
	// OfflineGracePeriod, between 1s and 30s.
	SweepInterval time.Duration
	// DuplicateSession decides a second connection for a machine held by a
	// live one: "reject" it (code 5, the original's rule) or "replace" the old one.
	DuplicateSession string
	// MailboxInterval is how often a node reads the commands other nodes send it.
	MailboxInterval time.Duration
	// InfoRequestInterval is how often each connected machine whose
	// short-term info was never scored is sent a type-5 request for its
	// machine info (the current original's 2 minutes); 0: never.
	InfoRequestInterval time.Duration
	ShutdownTimeout     time.Duration
	NodeLeaseExpiry     time.Duration
	NodeLeaseRenew      time.Duration
	ReportBatchSize     int
	ReportBatchDelay    time.Duration
	// MinHeapBytes is the heap size below which the Go garbage collector
	// does not start a cycle (0: the runtime's own pacing, GOGC alone).
	MinHeapBytes int64

	MongoDB struct {
		URI      string
		Database string
		// ExpireTime is how long reports are kept, in seconds (the original's unit).
		ExpireTime        int64
		RetentionInterval time.Duration
	}
	IP2LocationDB struct {
		DatabasePath string
	}
	Prometheus struct {
		// JobName is the job of metrics pushed to the Pushgateway.
		JobName string
		// FleetRefresh is how often the fleet snapshot is read from machine_info.
		FleetRefresh time.Duration
		// PushgatewayURL, when set, receives the metrics every PushInterval.
		PushgatewayURL string
		PushInterval   time.Duration
	}
	Chain struct {
		Rpc          string
		RpcEndpoints []string
		ChainId      int64
		PrivateKey   string
		// PrivateKeys, when not empty, replace PrivateKey (the current
		// original's rule): transactions are spread over these keys, each
		// with its own nonces and sender lease. Never logged.
		PrivateKeys         []string
		ReportContract      Contract
		MachineInfoContract Contract
		// RentContract (isRented) and FreeRentalContract (machines,
		// machineIsRented, notify) are the current original's optional
		// contracts: with either set, an offline costs a penalty only where
		// one is owed (docs/chain.md, "Offline penalties").
		RentContract       Contract
		FreeRentalContract Contract
		// RentRecheck is how long after an offline a machine found not
		// rented is asked again (the original's minute).
		RentRecheck time.Duration
		// ReceiptTimeout bounds the wait for a transaction to be mined.
		ReceiptTimeout time.Duration
		// CallTimeout bounds one RPC call on one endpoint.
		CallTimeout time.Duration
		// GasLimit, when non-zero, replaces gas estimation.
		GasLimit uint64
		// SenderLease is the time slice one node holds the key's sender lease.
		SenderLease time.Duration
		// BlockPoll is how often the latest block is read (metric, liveness).
		BlockPoll time.Duration
		// OfflineReport decides which machines get report(4) when they go
		// offline: "scored" (the original's rule: short-term machines with a
		// non-zero calc point), "all" (every machine the chain shows online)
		// or "none". machine_info, metrics and the API show every machine's
		// presence whatever it says.
		OfflineReport string
		// MaxConcurrentCalls bounds the RPC requests in flight, all
		// endpoints together; MaxRequestsPerSecond is each endpoint's rate
		// (the outbox's transactions included).
		MaxConcurrentCalls   int
		MaxRequestsPerSecond float64
		// MaxBatchSize is the most getMachineState calls in one JSON-RPC batch.
		MaxBatchSize int
		// ReadTimeout is how long an online waits for the chain (queued and
		// retried) before it is answered code 7.
		ReadTimeout time.Duration
		// RegistrationCacheTTL is how long a machine the chain said is
		// registered goes online without asking again (0: always ask).
		RegistrationCacheTTL time.Duration
	}
	Certificate struct {
		Cert string
		Key  string
	}
	NotifyThirdParty struct {
		// OfflineNotify receives {"machine_id", "is_online"} on online and offline transitions.
		OfflineNotify string
		// Projects limits the webhook to machines of these projects (the
		// original notified "DeepLinkEVM" only); "*" or an empty list: all.
		Projects []string
		// Timeout bounds one webhook call.
		Timeout time.Duration
		// AfterChainReport is the original's rule: an online notify only when
		// the chain's online report was sent, an offline notify only after
		// the offline report (Chain.OfflineReport decides which machines get
		// one). false: every online and offline transition is notified.
		AfterChainReport bool
		// GuardProjects are the projects whose machines' backend is asked
		// ({"check_only": true}) before an offline penalty under the rental
		// rules (the original's "DeepLinkEVM"); "*": all, empty: none.
		GuardProjects []string
	}
	// InternalSecret is accepted in the X-Internal-Secret header as the
	// credential of the contract routes (the original's later versions use
	// it); env DDN_INTERNAL_SECRET. Never logged.
	InternalSecret string
	Admin          struct {
		Token     string
		ReadToken string
		// OpenContractRoutes lists contract actions (register, unregister,
		// online, offline) served without any credential, as the original
		// did; empty (the default) requires one for every action.
		OpenContractRoutes []string
		// ImportMaxBytes caps the body of POST /api/v0/admin/import.
		ImportMaxBytes int64
	}
	// Score configures the calc point: GPUCatalog replaces the shipped GPU
	// catalog (ddn's format or the original's gpus.json) and is re-read
	// every CatalogReload when it changes; StrictInfo refuses reports the
	// original took (GPU lists of different lengths, zero or negative
	// numbers) with code 1.
	Score struct {
		GPUCatalog    string
		CatalogReload time.Duration
		StrictInfo    bool
	}
	// Outbox tunes the delivery of side effects (chain, webhook).
	Outbox struct {
		Interval    time.Duration
		MaxAttempts int
		BaseBackoff time.Duration
		MaxBackoff  time.Duration
		// Concurrency is how many entries a node delivers at once; 0: one
		// per chain key (Chain.PrivateKeys), 1 without a chain.
		Concurrency int
		// Keep is how long delivered and cancelled entries stay listed; 0:
		// see OutboxKeep.
		Keep time.Duration
	}

	// CORS are the cross-origin headers of the HTTP API (the original's by
	// default); an empty AllowOrigins sends none.
	CORS CORS

	// AdminAddr, when set, serves metrics and the admin API on a listener of
	// their own; the public Addr no longer serves them.
	AdminAddr string
	Limits    Limits
	Security  Security

	// Warnings are problems that do not stop startup (e.g. a readable secret file).
	Warnings []string `mapstructure:"-"`
}

// DefaultMinHeapBytes is MinHeapBytes' default, shared with ddn store's flag.
const DefaultMinHeapBytes = 64 << 20

// defaults of every key; registering each one is also what lets viper see
// its DDN_* environment variable.
var defaults = map[string]any{
	"Addr":                                      "0.0.0.0:9521",
	"LogLevel":                                  "info",
	"LogFile":                                   "",
	"NodeID":                                    "",
	"DataDir":                                   "./ddn-data",
	"HeartbeatTimeout":                          "30s",
	"MaxMessageBytes":                           65536,
	"OfflineGracePeriod":                        "5m",
	"SweepInterval":                             "0s",
	"DuplicateSession":                          "reject",
	"MailboxInterval":                           "250ms",
	"InfoRequestInterval":                       "2m",
	"ShutdownTimeout":                           "15s",
	"NodeLeaseExpiry":                           "15s",
	"NodeLeaseRenew":                            "5s",
	"ReportBatchSize":                           256,
	"ReportBatchDelay":                          "5ms",
	"MinHeapBytes":                              DefaultMinHeapBytes,
	"MongoDB.URI":                               "",
	"MongoDB.Database":                          "health_monitoring",
	"MongoDB.ExpireTime":                        30 * 24 * 3600,
	"MongoDB.RetentionInterval":                 "1h",
	"IP2LocationDB.DatabasePath":                "",
	"Prometheus.JobName":                        "ddn",
	"Prometheus.FleetRefresh":                   "15s",
	"Prometheus.PushgatewayURL":                 "",
	"Prometheus.PushInterval":                   "15s",
	"Chain.Rpc":                                 "",
	"Chain.RpcEndpoints":                        []string{},
	"Chain.ChainId":                             0,
	"Chain.PrivateKey":                          "",
	"Chain.ReportContract.AbiFile":              "",
	"Chain.ReportContract.ContractAddress":      "",
	"Chain.MachineInfoContract.AbiFile":         "",
	"Chain.MachineInfoContract.ContractAddress": "",
	"Chain.PrivateKeys":                         []string{},
	"Chain.RentContract.AbiFile":                "",
	"Chain.RentContract.ContractAddress":        "",
	"Chain.FreeRentalContract.AbiFile":          "",
	"Chain.FreeRentalContract.ContractAddress":  "",
	"Chain.RentRecheck":                         "1m",
	"Chain.ReceiptTimeout":                      "60s",
	"Chain.CallTimeout":                         "10s",
	"Chain.GasLimit":                            0,
	"Chain.SenderLease":                         "30s",
	"Chain.BlockPoll":                           "15s",
	"Chain.OfflineReport":                       "scored",
	"Chain.MaxConcurrentCalls":                  4,
	"Chain.MaxRequestsPerSecond":                10,
	"Chain.MaxBatchSize":                        100,
	"Chain.ReadTimeout":                         "20s",
	"Chain.RegistrationCacheTTL":                "10m",
	"Certificate.Cert":                          "",
	"Certificate.Key":                           "",
	"NotifyThirdParty.OfflineNotify":            "",
	"NotifyThirdParty.Projects":                 []string{"DeepLinkEVM"},
	"NotifyThirdParty.Timeout":                  "10s",
	"NotifyThirdParty.AfterChainReport":         true,
	"NotifyThirdParty.GuardProjects":            []string{"DeepLinkEVM"},
	"InternalSecret":                            "",
	"Admin.OpenContractRoutes":                  []string{},
	"CORS.AllowOrigins":                         []string{"*"},
	"CORS.AllowMethods":                         []string{"GET", "POST"},
	"CORS.AllowHeaders":                         []string{"Origin", "Content-Length", "Content-Type"},
	"CORS.AllowCredentials":                     true,
	"CORS.MaxAge":                               "12h",
	"Admin.Token":                               "",
	"Admin.ReadToken":                           "",
	"Score.GPUCatalog":                          "",
	"Score.CatalogReload":                       "5s",
	"Score.StrictInfo":                          false,
	"Admin.ImportMaxBytes":                      1 << 30,
	"Outbox.Interval":                           "1s",
	"Outbox.MaxAttempts":                        10,
	"Outbox.BaseBackoff":                        "1s",
	"Outbox.MaxBackoff":                         "5m",
	"Outbox.Concurrency":                        0,
	"Outbox.Keep":                               "0s",
}

// Load reads path (none when "") and the environment, and validates.
func Load(path string) (*Config, error) {
	v := viper.New()
	for k, d := range defaults {
		v.SetDefault(k, d)
	}
	v.SetEnvPrefix("DDN")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	// The original's later versions read DDN_INTERNAL_SECRET.
	_ = v.BindEnv("InternalSecret", "DDN_INTERNALSECRET", "DDN_INTERNAL_SECRET")

	var warnings []string
	if path != "" {
		v.SetConfigFile(path)
		v.SetConfigType("json")
		if err := v.ReadInConfig(); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("config: file %s: %w", path, pe.Err)
			}
			return nil, fmt.Errorf("config: file %s is not valid JSON: %w", path, err)
		}
		// The original node's older key for the geolocation database.
		if !v.InConfig("ip2locationdb.databasepath") && v.IsSet("ip2ldb.databasepath") && os.Getenv("DDN_IP2LOCATIONDB_DATABASEPATH") == "" {
			v.Set("IP2LocationDB.DatabasePath", v.GetString("ip2ldb.databasepath"))
		}
	}
	var c Config
	err := v.Unmarshal(&c, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(secondsHook, mapstructure.StringToSliceHookFunc(","))))
	if err != nil {
		return nil, fmt.Errorf("config: %s", oneLine(err))
	}
	if c.NodeID == "" {
		c.NodeID = defaultNodeID()
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if path != "" && c.hasSecrets() {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			warnings = append(warnings, fmt.Sprintf("config file %s holds secrets and is readable by group or others (mode %04o): chmod 600 it", path, fi.Mode().Perm()))
		}
	}
	c.Warnings = warnings
	return &c, nil
}

// secondsHook reads durations as Go duration strings ("30s") or plain
// numbers of seconds.
func secondsHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf(time.Duration(0)) {
		return data, nil
	}
	switch d := data.(type) {
	case string:
		if dur, err := time.ParseDuration(d); err == nil {
			return dur, nil
		}
		var secs float64
		if _, err := fmt.Sscanf(d, "%g", &secs); err == nil && fmt.Sprint(secs) == strings.TrimSpace(d) {
			return time.Duration(secs * float64(time.Second)), nil
		}
		return nil, fmt.Errorf("%q is not a duration like \"30s\" or a number of seconds", d)
	case int, int32, int64, float32, float64:
		secs := reflect.ValueOf(d).Convert(reflect.TypeOf(float64(0))).Float()
		return time.Duration(secs * float64(time.Second)), nil
	}
	return data, nil
}

func defaultNodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "ddn"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

// StoreKind names the store MongoDB.URI selects: "embedded", "memory" or "mongodb".
func (c *Config) StoreKind() string {
	switch {
	case c.MongoDB.URI == "":
		return "embedded"
	case c.MongoDB.URI == "memory://":
		return "memory"
	}
	return "mongodb"
}

func (c *Config) hasSecrets() bool {
	return c.Chain.PrivateKey != "" || len(c.Chain.PrivateKeys) > 0 || c.Admin.Token != "" || c.Admin.ReadToken != "" || c.InternalSecret != ""
}

// OutboxKeep is Outbox.Keep, or when it is 0: an hour on the embedded
// store, whose engine reads every outbox entry for each dispatch pass (a
// month of them would make each pass take seconds), else as long as the
// reports (MongoDB.ExpireTime; 0 keeps them for ever).
func (c *Config) OutboxKeep() time.Duration {
	switch {
	case c.Outbox.Keep > 0:
		return c.Outbox.Keep
	case c.StoreKind() == "embedded":
		return time.Hour
	}
	return time.Duration(c.MongoDB.ExpireTime) * time.Second
}

// EffectiveSweepInterval is SweepInterval, or a tenth of the grace period
// between 1s and 30s when it is 0.
func (c *Config) EffectiveSweepInterval() time.Duration {
	if c.SweepInterval > 0 {
		return c.SweepInterval
	}
	return min(max(c.OfflineGracePeriod/10, time.Second), 30*time.Second)
}

// CORS configures the cross-origin headers of the HTTP API. The defaults
// are what the original node sent (gin-contrib/cors with every origin,
// GET and POST, credentials allowed, preflights cached 12 hours).
type CORS struct {
	// AllowOrigins are the origins answered ("*": any); empty turns CORS off.
	AllowOrigins []string
	// AllowMethods and AllowHeaders are announced to preflight requests.
	AllowMethods []string
	AllowHeaders []string
	// AllowCredentials sends Access-Control-Allow-Credentials: true.
	AllowCredentials bool
	// MaxAge is how long a browser may cache a preflight answer.
	MaxAge time.Duration
}

// WebhookAllProjects tells whether NotifyThirdParty.Projects names every project.
func (c *Config) WebhookAllProjects() bool {
	return len(c.NotifyThirdParty.Projects) == 0 || slices.Contains(c.NotifyThirdParty.Projects, "*")
}
