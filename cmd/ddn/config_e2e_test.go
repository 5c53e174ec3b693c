package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"ddn/internal/ddnproc"
)

// TestCurrentOriginalConfigFileStartsTheNode runs the binary on a
// configuration file in the current original's shape (its types/config.go:
// RpcEndpoints, PrivateKeys without PrivateKey, RentContract,
// FreeRentalContract, InternalSecret, IP2LDB, Prometheus.RemoteWriteURL):
// the node starts, /api/v0/admin/config shows every one of those keys with
// the secrets redacted, the log names the senders and never a key, and the
// contract routes take the InternalSecret.
func TestCurrentOriginalConfigFileStartsTheNode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := ddnproc.FreeAddr(t)
	keys := []string{
		"4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d",
		"8f2a55949038a9610f50fb23b5883af3b4ecb3c3bb792cbcefbd1542c692be63",
	}
	const secret = "the-internal-secret-4711"
	dead := "http://127.0.0.1:" + ddnproc.FreePort(t) // no chain there: the node starts while the chain is down
	file := fmt.Sprintf(`{
  "Addr": %q,
  "LogLevel": "info",
  "LogFile": "",
  "MongoDB": {"URI": "memory://", "Database": "health_monitoring", "ExpireTime": 86400},
  "IP2LDB": {"DatabasePath": ""},
  "Prometheus": {"JobName": "ddn", "RemoteWriteURL": ""},
  "Chain": {
    "Rpc": %q,
    "RpcEndpoints": [%q, "https://rpc.example/v1/provider-api-key"],
    "ChainId": 19850818,
    "PrivateKeys": [%q, %q],
    "ReportContract": {"AbiFile": "", "ContractAddress": "0xb616A0dad9af4cA23234b65D27176be2c09c720c"},
    "MachineInfoContract": {"AbiFile": "", "ContractAddress": "0xE676096cA8B957e914094c5e044Fcf99f5dbf3C0"},
    "RentContract": {"AbiFile": "./dbc/rent-abi.json", "ContractAddress": "0x00000000000000000000000000000000000000c1"},
    "FreeRentalContract": {"AbiFile": "./dbc/free-rental/free_rental_abi.json", "ContractAddress": "0x00000000000000000000000000000000000000c2"}
  },
  "Certificate": {"cert": "", "key": ""},
  "NotifyThirdParty": {"OfflineNotify": ""},
  "InternalSecret": %q
}`, addr, dead, dead, keys[0], keys[1], secret)
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	// The ABI files the original ships beside its config (ddn reads an
	// AbiFile that is set; its own copies of the functions it calls).
	for from, to := range map[string]string{"rent.json": "dbc/rent-abi.json", "freerental.json": "dbc/free-rental/free_rental_abi.json"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "abi", from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, to)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-config", path)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DDN_ADMIN_TOKEN=config-admin", "DDN_NODEID=config-node")
	p := ddnproc.StartProcess(t, cmd, ddnproc.ReadyAt(&http.Client{Timeout: 5 * time.Second}, "http://"+addr+"/readyz"), 60*time.Second)

	get := func(path, token string) (int, []byte) {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, raw := get("/api/v0/admin/config", "config-admin")
	if code != 200 {
		t.Fatalf("config: %d %s", code, raw)
	}
	for _, leak := range append([]string{secret, "provider-api-key"}, keys...) {
		if strings.Contains(string(raw), leak) {
			t.Fatalf("/api/v0/admin/config shows a secret (%.8s...): %s", leak, raw)
		}
	}
	var body struct {
		Config struct {
			Chain struct {
				Rpc                                 string
				RpcEndpoints                        []string
				ChainId                             int64
				PrivateKey                          string
				PrivateKeys                         []string
				RentContract, FreeRentalContract    struct{ AbiFile, ContractAddress string }
				ReportContract, MachineInfoContract struct{ AbiFile, ContractAddress string }
			}
			InternalSecret string
			IP2LocationDB  struct{ DatabasePath string }
			MongoDB        struct{ URI, Database string }
			Outbox         struct{ Concurrency int }
		} `json:"config"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("config %s: %v", raw, err)
	}
	ch := body.Config.Chain
	if ch.Rpc != dead || len(ch.RpcEndpoints) != 2 || ch.RpcEndpoints[1] != "https://rpc.example/REDACTED" || ch.ChainId != 19850818 ||
		len(ch.PrivateKeys) != 2 || ch.PrivateKeys[0] != "REDACTED" || ch.PrivateKeys[1] != "REDACTED" || ch.PrivateKey != "" ||
		ch.RentContract.ContractAddress != "0x00000000000000000000000000000000000000c1" || ch.RentContract.AbiFile != "./dbc/rent-abi.json" ||
		ch.FreeRentalContract.ContractAddress != "0x00000000000000000000000000000000000000c2" ||
		ch.FreeRentalContract.AbiFile != "./dbc/free-rental/free_rental_abi.json" ||
		ch.ReportContract.ContractAddress != "0xb616A0dad9af4cA23234b65D27176be2c09c720c" ||
		body.Config.InternalSecret != "REDACTED" || body.Config.MongoDB.URI != "memory://" || body.Config.Outbox.Concurrency != 0 {
		t.Fatalf("config shown = %s", raw)
	}

	// The contract routes take the InternalSecret of the file.
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/v0/contract/register",
		strings.NewReader(`{"project_name":"deeplink","staking_type":0,"machine_id":"m-1","container_id":""}`))
	req.Header.Set("X-Internal-Secret", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("contract register with the file's InternalSecret: %d", resp.StatusCode)
	}
	p.Stop(t)
	logs := p.Log.String()
	for _, leak := range append([]string{secret, "provider-api-key"}, keys...) {
		if strings.Contains(logs, leak) {
			t.Fatalf("the node logged a secret (%.8s...)", leak)
		}
	}
	for _, k := range keys {
		key, _ := crypto.HexToECDSA(k)
		if from := crypto.PubkeyToAddress(key.PublicKey).Hex(); !strings.Contains(logs, from) {
			t.Fatalf("the log does not name the sender %s:\n%s", from, logs)
		}
	}
}

// TestMinHeapBytesRaisesGOGCForASmallHeap runs the binary on the embedded
// store, whose start alone runs collections with a heap of a few MiB: with
// the default MinHeapBytes the GC percent it exposes rises above GOGC's 100
// (the goal held at 64 MiB); with 0 it stays at 100.
func TestMinHeapBytesRaisesGOGCForASmallHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin := buildBinary(t)
	gogc := func(addr string) string {
		for _, l := range strings.Split(getBody(t, "http://"+addr+"/metrics"), "\n") {
			if v, ok := strings.CutPrefix(l, "go_gc_gogc_percent "); ok {
				return v
			}
		}
		return ""
	}
	floored := ddnproc.FreeAddr(t)
	startNode(t, bin, t.TempDir(), floored, "GOGC=")
	var got string
	if !ddnproc.Eventually(10*time.Second, 50*time.Millisecond, func() bool { got = gogc(floored); return got != "" && got != "100" }) {
		t.Fatalf("go_gc_gogc_percent with the default MinHeapBytes = %q, want above 100", got)
	}
	plain := ddnproc.FreeAddr(t)
	startNode(t, bin, t.TempDir(), plain, "GOGC=", "DDN_MINHEAPBYTES=0")
	if got := gogc(plain); got != "100" {
		t.Fatalf("go_gc_gogc_percent with MinHeapBytes 0 = %q, want GOGC's 100", got)
	}
}
