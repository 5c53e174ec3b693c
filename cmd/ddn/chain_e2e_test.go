package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	gethabi "github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/coder/websocket"

	"ddn/internal/ddnproc"
)

// gethDevKey is the fixed, public key geth --dev funds (cmd/utils.DeveloperKey).
const gethDevKey = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291"

// startGeth runs geth --dev with JSON-RPC on loopback; without geth the
// test is skipped, unless DDN_REQUIRE_GETH=1 (CI) makes that a failure.
func startGeth(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("geth")
	if err != nil {
		if os.Getenv("DDN_REQUIRE_GETH") == "1" {
			t.Fatal("geth not found and DDN_REQUIRE_GETH=1 (.ci/run installs it)")
		}
		t.Skip("geth not installed (set DDN_REQUIRE_GETH=1 to fail instead)")
	}
	httpPort := ddnproc.FreePort(t)
	cmd := exec.Command(bin, "--dev", "--datadir", t.TempDir(), "--ipcdisable", "--nodiscover", "--maxpeers", "0", "--port", "0",
		"--http", "--http.addr", "127.0.0.1", "--http.port", httpPort, "--http.api", "eth,net,web3",
		"--authrpc.addr", "127.0.0.1", "--authrpc.port", ddnproc.FreePort(t), "--verbosity", "2")
	url := "http://127.0.0.1:" + httpPort
	ddnproc.StartProcess(t, cmd, func() error {
		c, err := ethclient.Dial(url)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.BlockNumber(context.Background())
		return err
	}, 60*time.Second)
	return url
}

// testContract is the deployed test contract (adapters/chain/testdata).
type testContract struct {
	client *ethclient.Client
	addr   common.Address
	abi    gethabi.ABI
}

func deployTestContract(t *testing.T, url string) *testContract {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "adapters", "chain", "testdata", "TestRegistry.abi"))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := gethabi.JSON(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(filepath.Join("..", "..", "adapters", "chain", "testdata", "TestRegistry.bin"))
	if err != nil {
		t.Fatal(err)
	}
	code, err := hex.DecodeString(strings.TrimSpace(string(bin)))
	if err != nil {
		t.Fatal(err)
	}
	client, err := ethclient.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	key, _ := crypto.HexToECDSA(gethDevKey)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := bind.NewKeyedTransactor(key, big.NewInt(1337))
	opts.Context = ctx
	addr, tx, err := bind.DeployContract(opts, code, client, nil)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if _, err := bind.WaitDeployed(ctx, client, tx.Hash()); err != nil {
		t.Fatalf("wait deployed: %v", err)
	}
	return &testContract{client: client, addr: addr, abi: parsed}
}

func (c *testContract) call(t *testing.T, method string, args ...any) []any {
	t.Helper()
	data, err := c.abi.Pack(method, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.client.CallContract(context.Background(), ethereum.CallMsg{To: &c.addr, Data: data}, nil)
	if err != nil {
		t.Fatalf("call %s: %v", method, err)
	}
	vals, err := c.abi.Unpack(method, out)
	if err != nil {
		t.Fatalf("unpack %s: %v", method, err)
	}
	return vals
}

// TestChainEndToEnd: a real ddn against a real geth --dev over JSON-RPC on
// loopback, with the test contract deployed. An unregistered machine is
// refused; the operator registers it through the contract endpoint; the
// agent goes online and reports; the contract shows it online with its
// machine info; the agent leaves past the grace period; the contract shows
// it offline.
func TestChainEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs geth and the binary")
	}
	url := startGeth(t)
	contract := deployTestContract(t, url)
	bin := buildBinary(t)
	addr := ddnproc.FreeAddr(t)
	n := startNode(t, bin, t.TempDir(), addr,
		"DDN_MONGODB_URI=memory://", "DDN_OFFLINEGRACEPERIOD=2s", "DDN_SWEEPINTERVAL=200ms", "DDN_OUTBOX_INTERVAL=100ms",
		"DDN_OUTBOX_BASEBACKOFF=200ms", "DDN_OUTBOX_MAXBACKOFF=1s", "DDN_ADMIN_TOKEN=e2e-token",
		"DDN_CHAIN_RPC="+url, "DDN_CHAIN_CHAINID=1337", "DDN_CHAIN_PRIVATEKEY="+gethDevKey,
		"DDN_CHAIN_REPORTCONTRACT_CONTRACTADDRESS="+contract.addr.Hex(), "DDN_CHAIN_MACHINEINFOCONTRACT_CONTRACTADDRESS="+contract.addr.Hex(),
		"DDN_CHAIN_BLOCKPOLL=500ms")
	if strings.Contains(n.Logs(), gethDevKey) {
		t.Fatal("the node logged the private key")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const machineID, wallet = "e2e-chain-machine", "0x00000000000000000000000000000000000000aa"
	online := fmt.Sprintf(`{"machine_id":%q,"project":"deeplink","container_id":"ctr-1","staking_type":0}`, machineID)
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := request(t, ctx, c, 1, 1, online); r.Code != 5 || r.Message != "machine not registered" {
		t.Fatalf("online of an unregistered machine answered %+v", r)
	}

	state := func() (bool, bool) {
		v := contract.call(t, "getMachineState", machineID, "deeplink", uint8(0))
		return v[0].(bool), v[1].(bool)
	}
	body := fmt.Sprintf(`{"project_name":"deeplink","staking_type":0,"machine_id":%q,"container_id":"ctr-1"}`, machineID)
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/v0/contract/register", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer e2e-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("register: %v %v", resp, err)
	}
	resp.Body.Close()
	waitFor(t, "machine registered on chain", func() bool { _, reg := state(); return reg })

	if r := request(t, ctx, c, 2, 1, online); r.Code != 0 {
		t.Fatalf("online of a registered machine answered %+v", r)
	}
	info := fmt.Sprintf(`{"cpu_type":"13th Gen Intel(R) Core(TM) i5-13400F","cpu_rate":2500,"gpu_names":["NVIDIA GeForce RTX 4060"],"gpu_memory_total":[8],"memory_total":16,"wallet":%q}`, wallet)
	if r := request(t, ctx, c, 3, 2, info); r.Code != 0 {
		t.Fatalf("report answered %+v", r)
	}
	waitFor(t, "machine online on chain", func() bool { on, _ := state(); return on })
	waitFor(t, "machine info on chain", func() bool {
		return contract.call(t, "machineInfoCalls")[0].(*big.Int).Int64() == 1
	})
	mi := fmt.Sprintf("%+v", contract.call(t, "machineInfo", machineID)[0])
	for _, want := range []string{"MachineOwner:" + common.HexToAddress(wallet).Hex(), "CpuRate:+2500", "GpuType:NVIDIA GeForce RTX 4060",
		"GpuMem:+8", "GpuCount:+1", "MachineId:ctr-1", "MachineMem:+16", "CpuType:13th Gen Intel(R) Core(TM) i5-13400F"} {
		if !strings.Contains(mi, want) {
			t.Fatalf("machine info on chain %s lacks %s", mi, want)
		}
	}

	_ = c.Close(websocket.StatusNormalClosure, "bye")
	waitFor(t, "machine offline on chain after the grace period", func() bool { on, _ := state(); return !on })
	var types []string
	count := contract.call(t, "callCount")[0].(*big.Int).Int64()
	for i := range count {
		v := contract.call(t, "callAt", big.NewInt(i))[0]
		types = append(types, strconv.Itoa(int(gethabi.ConvertType(v, new(struct {
			Tp          uint8
			ProjectName string
			StakingType uint8
			MachineId   string
			Sender      common.Address
		})).(*struct {
			Tp          uint8
			ProjectName string
			StakingType uint8
			MachineId   string
			Sender      common.Address
		}).Tp)))
	}
	if got := strings.Join(types, ","); got != "1,3,4" {
		t.Fatalf("report calls on chain = %s, want register, online, offline (1,3,4)", got)
	}
	// The receipt of the last transaction may still be awaited when the
	// contract already shows its effect: poll the node's metrics.
	nodeMetrics := func() string { return getBody(t, "http://"+addr+"/metrics") }
	for _, want := range []string{`ddn_chain_transactions_total{method="report",result="ok"} 3`,
		`ddn_chain_transactions_total{method="setMachineInfo",result="ok"} 1`, "ddn_chain_last_block "} {
		waitFor(t, "/metrics showing "+want, func() bool { return strings.Contains(nodeMetrics(), want) })
	}
	n.Stop(t)
	if strings.Contains(n.Logs(), gethDevKey) {
		t.Fatal("the node logged the private key")
	}
}
