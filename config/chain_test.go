package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestChainKeysValidatedWhenRpcIsSet(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"DDN_CHAIN_RPC": "ftp://x"}, "config: Chain.Rpc:"},
		{map[string]string{"DDN_CHAIN_RPC": "http://127.0.0.1:8545"}, "config: Chain.PrivateKey: is required"},
		{map[string]string{"DDN_CHAIN_RPC": "http://127.0.0.1:8545", "DDN_CHAIN_PRIVATEKEY": secretKey, "DDN_CHAIN_CHAINID": "-1"}, "config: Chain.ChainId:"},
		{map[string]string{"DDN_CHAIN_RPC": "http://127.0.0.1:8545", "DDN_CHAIN_PRIVATEKEY": secretKey, "DDN_CHAIN_CHAINID": "5",
			"DDN_CHAIN_REPORTCONTRACT_CONTRACTADDRESS": "0x1"}, "config: Chain.MachineInfoContract.ContractAddress: is required"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := Load("")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secretKey) {
				t.Fatalf("error leaks the private key: %v", err)
			}
		})
	}
}

// setChain sets the environment of a chain at rpc with chain id chainID
// (empty: not set), a key and both contracts.
func setChain(t *testing.T, rpc, chainID string) {
	t.Helper()
	t.Setenv("DDN_CHAIN_RPC", rpc)
	t.Setenv("DDN_CHAIN_PRIVATEKEY", secretKey)
	if chainID != "" {
		t.Setenv("DDN_CHAIN_CHAINID", chainID)
	}
	t.Setenv("DDN_CHAIN_REPORTCONTRACT_CONTRACTADDRESS", "0x1")
	t.Setenv("DDN_CHAIN_MACHINEINFOCONTRACT_CONTRACTADDRESS", "0x2")
}

func TestChainEndpointsStartWithRpc(t *testing.T) {
	setChain(t, "http://a:1", "7")
	t.Setenv("DDN_CHAIN_RPCENDPOINTS", "http://b:2,http://a:1,ws://c:3")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.ChainEndpoints(), []string{"http://a:1", "http://b:2", "ws://c:3"}; !slices.Equal(got, want) {
		t.Fatalf("endpoints = %v, want %v", got, want)
	}
	if !c.ChainEnabled() || c.Chain.ReceiptTimeout <= 0 || c.Chain.SenderLease <= 0 {
		t.Fatalf("chain config = %+v", c.Chain)
	}
	if strings.Contains(strings.Join(c.Warnings, " "), secretKey) {
		t.Fatal("warning leaks the key")
	}
}

func TestRPCURLsRedacted(t *testing.T) {
	c := &Config{}
	c.Chain.Rpc = "https://mainnet.provider.example/v3/0123456789abcdef"
	c.Chain.RpcEndpoints = []string{"wss://user:pw@backup.example/ws?apikey=xyz", "http://127.0.0.1:8545"}
	r := c.Redacted()
	want := []string{"https://mainnet.provider.example/REDACTED", "wss://backup.example/REDACTED", "http://127.0.0.1:8545"}
	if got := append([]string{r.Chain.Rpc}, r.Chain.RpcEndpoints...); !slices.Equal(got, want) {
		t.Fatalf("redacted = %v, want %v", got, want)
	}
	if c.Chain.RpcEndpoints[0] == want[1] {
		t.Fatal("Redacted changed the configuration itself")
	}
}

// ChainId 0 (what the original's files often hold) does not stop startup:
// the node asks the RPC endpoint (cmd/ddn).
func TestChainIDZeroIsAccepted(t *testing.T) {
	setChain(t, "http://127.0.0.1:8545", "")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Chain.ChainId != 0 || c.Chain.OfflineReport != "scored" {
		t.Fatalf("chain = %+v", c.Chain)
	}
}

func TestChainRequestDisciplineKeys(t *testing.T) {
	setChain(t, "http://a:1", "7")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	ch := c.Chain
	if ch.MaxConcurrentCalls != 4 || ch.MaxRequestsPerSecond != 10 || ch.MaxBatchSize != 100 || ch.ReadTimeout.String() != "20s" || ch.RegistrationCacheTTL.String() != "10m0s" {
		t.Fatalf("defaults: %d calls, %v/s, batches of %d, read timeout %s, cache %s", ch.MaxConcurrentCalls, ch.MaxRequestsPerSecond,
			ch.MaxBatchSize, ch.ReadTimeout, ch.RegistrationCacheTTL)
	}
	t.Setenv("DDN_CHAIN_MAXREQUESTSPERSECOND", "2.5")
	t.Setenv("DDN_CHAIN_REGISTRATIONCACHETTL", "0s")
	if c, err = Load(""); err != nil || c.Chain.MaxRequestsPerSecond != 2.5 || c.Chain.RegistrationCacheTTL != 0 {
		t.Fatalf("overrides: %+v, %v", c.Chain, err)
	}
	for key, bad := range map[string]string{"DDN_CHAIN_MAXCONCURRENTCALLS": "0", "DDN_CHAIN_MAXREQUESTSPERSECOND": "-1",
		"DDN_CHAIN_MAXBATCHSIZE": "0", "DDN_CHAIN_READTIMEOUT": "0s", "DDN_CHAIN_REGISTRATIONCACHETTL": "-1m"} {
		t.Run(key, func(t *testing.T) {
			t.Setenv(key, bad)
			if _, err := Load(""); err == nil || !strings.Contains(err.Error(), "Chain.") {
				t.Fatalf("%s=%s: %v, want a startup error naming the key", key, bad, err)
			}
		})
	}
}

// current is a configuration file in the current original's shape (its
// types/config.go at HEAD): RpcEndpoints, PrivateKeys without PrivateKey,
// the rent and free-rental contracts, InternalSecret, and its IP2LDB and
// Prometheus.RemoteWriteURL keys.
const current = `{
  "Addr": "127.0.0.1:9601",
  "LogLevel": "info",
  "LogFile": "",
  "MongoDB": {"URI": "memory://", "Database": "health_monitoring", "ExpireTime": 86400},
  "IP2LDB": {"DatabasePath": ""},
  "Prometheus": {"JobName": "ddn", "RemoteWriteURL": "http://prometheus.example/api/v1/write"},
  "Chain": {
    "Rpc": "http://127.0.0.1:8545",
    "RpcEndpoints": ["http://127.0.0.1:8546", "https://rpc.example/key/abc"],
    "ChainId": 19850818,
    "PrivateKeys": ["` + secretKey + `", "` + secretKey2 + `"],
    "ReportContract": {"AbiFile": "", "ContractAddress": "0xb616A0dad9af4cA23234b65D27176be2c09c720c"},
    "MachineInfoContract": {"AbiFile": "", "ContractAddress": "0xE676096cA8B957e914094c5e044Fcf99f5dbf3C6"},
    "RentContract": {"AbiFile": "./dbc/rent-abi.json", "ContractAddress": "0x00000000000000000000000000000000000000c1"},
    "FreeRentalContract": {"AbiFile": "./dbc/free-rental/free_rental_abi.json", "ContractAddress": "0x00000000000000000000000000000000000000c2"}
  },
  "Certificate": {"cert": "", "key": ""},
  "NotifyThirdParty": {"OfflineNotify": ""},
  "InternalSecret": "the-internal-secret"
}`

const secretKey2 = "8f2a55949038a9610f50fb23b5883af3b4ecb3c3bb792cbcefbd1542c692be63"

func TestCurrentOriginalFileLoads(t *testing.T) {
	c, err := Load(writeFile(t, current, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Chain.PrivateKeys, []string{secretKey, secretKey2}) || c.Chain.PrivateKey != "" ||
		!slices.Equal(c.ChainKeys(), []string{secretKey, secretKey2}) || c.OutboxConcurrency() != 2 {
		t.Fatalf("keys = %v / %q, pool %v, outbox concurrency %d", len(c.Chain.PrivateKeys), c.Chain.PrivateKey, len(c.ChainKeys()), c.OutboxConcurrency())
	}
	if got, want := c.ChainEndpoints(), []string{"http://127.0.0.1:8545", "http://127.0.0.1:8546", "https://rpc.example/key/abc"}; !slices.Equal(got, want) {
		t.Fatalf("endpoints = %v", got)
	}
	if c.Chain.RentContract != (Contract{AbiFile: "./dbc/rent-abi.json", ContractAddress: "0x00000000000000000000000000000000000000c1"}) ||
		c.Chain.FreeRentalContract != (Contract{AbiFile: "./dbc/free-rental/free_rental_abi.json", ContractAddress: "0x00000000000000000000000000000000000000c2"}) ||
		c.InternalSecret != "the-internal-secret" || c.StoreKind() != "memory" {
		t.Fatalf("loaded = %+v", c)
	}
	r := fmt.Sprintf("%+v %v", c.Redacted(), c.LogFields())
	for _, secret := range []string{secretKey, secretKey2, "the-internal-secret", "key/abc"} {
		if strings.Contains(r, secret) {
			t.Fatalf("redacted configuration shows %q: %s", secret, r)
		}
	}
	if !slices.Equal(c.Redacted().Chain.PrivateKeys, []string{"REDACTED", "REDACTED"}) || c.Chain.PrivateKeys[0] != secretKey {
		t.Fatalf("redacted keys = %v (or the original was changed)", c.Redacted().Chain.PrivateKeys)
	}
}

func TestPrivateKeysWinOverPrivateKeyAndComeFromTheEnvironment(t *testing.T) {
	setChain(t, "http://a:1", "7")
	t.Setenv("DDN_CHAIN_PRIVATEKEYS", secretKey2+","+secretKey)
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.ChainKeys(), []string{secretKey2, secretKey}) {
		t.Fatalf("pool = %d keys, want PrivateKeys' two in order", len(c.ChainKeys()))
	}
	t.Setenv("DDN_CHAIN_PRIVATEKEYS", "")
	if c, err = Load(""); err != nil || !slices.Equal(c.ChainKeys(), []string{secretKey}) || c.OutboxConcurrency() != 1 {
		t.Fatalf("PrivateKey alone: %v, %d keys", err, len(c.ChainKeys()))
	}
	t.Setenv("DDN_OUTBOX_CONCURRENCY", "8")
	if c, err = Load(""); err != nil || c.OutboxConcurrency() != 8 {
		t.Fatalf("Outbox.Concurrency set: %v", err)
	}
}

// The current original's rental keys load from its file unchanged, take
// the environment, default to its values and show in the served
// configuration.
func TestRentalKeys(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.RentalEnabled() || c.Chain.RentRecheck != time.Minute || strings.Join(c.NotifyThirdParty.GuardProjects, ",") != "DeepLinkEVM" {
		t.Fatalf("defaults: rental %v, recheck %s, guard projects %v", c.RentalEnabled(), c.Chain.RentRecheck, c.NotifyThirdParty.GuardProjects)
	}
	file := strings.Replace(original, `"MachineInfoContract":`, `"RentContract": {"AbiFile": "./dbc/rent-abi.json", "ContractAddress": "0x1111111111111111111111111111111111111111"},
    "FreeRentalContract": {"AbiFile": "./dbc/free-rental/free_rental_abi.json", "ContractAddress": "0x2222222222222222222222222222222222222222"},
    "MachineInfoContract":`, 1)
	if c, err = Load(writeFile(t, file, 0o600)); err != nil {
		t.Fatal(err)
	}
	if !c.RentalEnabled() || c.Chain.RentContract.AbiFile != "./dbc/rent-abi.json" ||
		c.Chain.RentContract.ContractAddress != "0x1111111111111111111111111111111111111111" ||
		c.Chain.FreeRentalContract.AbiFile != "./dbc/free-rental/free_rental_abi.json" ||
		c.Chain.FreeRentalContract.ContractAddress != "0x2222222222222222222222222222222222222222" {
		t.Fatalf("the original's rental keys: %+v", c.Chain)
	}
	fields := c.LogFields()["Chain"].(map[string]any)
	if fields["RentContract"].(map[string]any)["ContractAddress"] != "0x1111111111111111111111111111111111111111" || fields["RentRecheck"] != "1m0s" {
		t.Fatalf("served configuration: %v", fields)
	}
	t.Setenv("DDN_CHAIN_RENTRECHECK", "90s")
	t.Setenv("DDN_NOTIFYTHIRDPARTY_GUARDPROJECTS", "*")
	t.Setenv("DDN_CHAIN_FREERENTALCONTRACT_CONTRACTADDRESS", "0x3333333333333333333333333333333333333333")
	if c, err = Load(writeFile(t, file, 0o600)); err != nil {
		t.Fatal(err)
	}
	if c.Chain.RentRecheck != 90*time.Second || strings.Join(c.NotifyThirdParty.GuardProjects, ",") != "*" ||
		c.Chain.FreeRentalContract.ContractAddress != "0x3333333333333333333333333333333333333333" {
		t.Fatalf("environment: %+v %+v", c.Chain, c.NotifyThirdParty)
	}
	t.Setenv("DDN_CHAIN_RENTRECHECK", "0s")
	if _, err := Load(writeFile(t, file, 0o600)); err == nil || !strings.Contains(err.Error(), "Chain.RentRecheck") {
		t.Fatalf("RentRecheck 0: %v, want an error naming the key", err)
	}
}
