package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	ethereum "github.com/ethereum/go-ethereum"
	gethabi "github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"ddn/adapters/geo/ip2ltest"
	"ddn/internal/ddnproc"
	"ddn/internal/parity"
)

// gethDevKey is the fixed, public key geth --dev funds (cmd/utils.DeveloperKey).
const gethDevKey = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291"

// startGeth runs geth --dev with JSON-RPC on loopback; without geth the
// test is skipped, unless DDN_REQUIRE_GETH=1 (CI) makes that a failure.
func startGeth(t testing.TB) string {
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

func deployTestContract(t testing.TB, url string) *testContract {
	t.Helper()
	return deployNamedContract(t, url, "TestRegistry")
}

// deployNamedContract deploys the test contract adapters/chain/testdata/<name>.
func deployNamedContract(t testing.TB, url, name string) *testContract {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "adapters", "chain", "testdata", name+".abi"))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := gethabi.JSON(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(filepath.Join("..", "..", "adapters", "chain", "testdata", name+".bin"))
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

// sentCalldata returns the input of every transaction to the contract whose
// selector is sel, from the chain's blocks.
func sentCalldata(t *testing.T, c *testContract, sel []byte) [][]byte {
	t.Helper()
	ctx := context.Background()
	head, err := c.client.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for n := uint64(0); n <= head; n++ {
		b, err := c.client.BlockByNumber(ctx, new(big.Int).SetUint64(n))
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range b.Transactions() {
			if tx.To() != nil && *tx.To() == c.addr && bytes.HasPrefix(tx.Data(), sel) {
				out = append(out, tx.Data())
			}
		}
	}
	return out
}

// parityCase is the parity score case id (internal/parity).
func parityCase(t *testing.T, id string) parity.ScoreCase {
	t.Helper()
	cases, err := parity.Score()
	if err != nil {
		t.Fatal(err)
	}
	for _, pc := range cases {
		if pc.ID == id {
			return pc
		}
	}
	t.Fatalf("no parity case %s", id)
	return parity.ScoreCase{}
}

func (c *testContract) call(t testing.TB, method string, args ...any) []any {
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
	// The agent connects from 127.0.0.1, placed where the parity cases'
	// fixed context is: Guangdong, at the same float32 coordinates.
	dir := t.TempDir()
	geoDB := filepath.Join(dir, "IP2LOCATION-LITE-DB5.BIN")
	if err := ip2ltest.WriteDB5(geoDB, []ip2ltest.Range{{From: netip.MustParseAddr("127.0.0.0"), To: netip.MustParseAddr("127.255.255.255"),
		CountryCode: "CN", Country: "China", Region: parity.Region, City: "Shenzhen", Latitude: parity.Latitude, Longitude: parity.Longitude}}); err != nil {
		t.Fatal(err)
	}
	pc := parityCase(t, "score-4463") // RTX 4060 reported as 8188 MiB, as nvidia-smi prints it
	n := startNode(t, bin, dir, addr, "DDN_IP2LOCATIONDB_DATABASEPATH="+geoDB,
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
	const machineID = parity.MachineID
	online := fmt.Sprintf(`{"machine_id":%q,"project":%q,"container_id":%q,"staking_type":0}`, machineID, parity.Project, parity.ContainerID)
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := request(t, ctx, c, 1, 1, online); r.Code != 5 || r.Message != "machine not registered" {
		t.Fatalf("online of an unregistered machine answered %+v", r)
	}

	state := func() (bool, bool) {
		v := contract.call(t, "getMachineState", machineID, parity.Project, uint8(0))
		return v[0].(bool), v[1].(bool)
	}
	body := fmt.Sprintf(`{"project_name":%q,"staking_type":0,"machine_id":%q,"container_id":%q}`, parity.Project, machineID, parity.ContainerID)
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
	if r := request(t, ctx, c, 3, 2, string(pc.Body())); r.Code != 0 || r.Message != "add machine tm success" {
		t.Fatalf("report answered %+v", r)
	}
	waitFor(t, "machine online on chain", func() bool { on, _ := state(); return on })
	waitFor(t, "machine info on chain", func() bool {
		return contract.call(t, "machineInfoCalls")[0].(*big.Int).Int64() == 1
	})
	// The transaction's calldata is the original's for this input, byte for byte.
	ch := pc.Chain
	want, err := contract.abi.Pack("setMachineInfo", ch.ID, ch.Tuple())
	if err != nil {
		t.Fatal(err)
	}
	if got := sentCalldata(t, contract, want[:4]); len(got) != 1 || !bytes.Equal(got[0], want) {
		t.Fatalf("setMachineInfo calldata sent:\n%x\nwant the original's (%s):\n%x", got, pc.ID, want)
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
