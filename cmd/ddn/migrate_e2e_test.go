package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gethabi "github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/coder/websocket"

	"ddn/adapters/embedded"
	"ddn/internal/ddnproc"
)

// seedOriginalDatabase writes, into the embedded store of dataDir, the
// database the original node leaves when it stops: machines registered
// with `deeplink_st: {}` / `deeplink_bw: {}`, zero times, no state, the
// last_disconnect_time its shutdown writes, one machine key twice, and the
// claim of a machine that was connected when it stopped.
func seedOriginalDatabase(t *testing.T, dataDir string, shutdown time.Time) {
	t.Helper()
	ctx := context.Background()
	srv, err := embedded.Start(ctx, embedded.Options{Dir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	c, err := driver.Connect(options.Client().ApplyURI(srv.URI()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Disconnect(ctx) }()
	reg := shutdown.Add(-30 * 24 * time.Hour)
	doc := func(id string, disconnect time.Time, st any, bw any) bson.D {
		return bson.D{{Key: "machine_id", Value: id}, {Key: "project", Value: "DeepLinkEVM"}, {Key: "container_id", Value: ""},
			{Key: "stakingtype", Value: int32(0)}, {Key: "register_time", Value: reg}, {Key: "last_offline_time", Value: time.Time{}},
			{Key: "last_disconnect_time", Value: disconnect}, {Key: "deeplink_st", Value: st}, {Key: "deeplink_bw", Value: bw}}
	}
	scored := bson.D{{Key: "gpu_names", Value: bson.A{"NVIDIA GeForce RTX 4060"}}, {Key: "gpu_memory_total", Value: bson.A{int32(8188)}},
		{Key: "memory_total", Value: int32(16)}, {Key: "cpu_type", Value: "i5"}, {Key: "cpu_rate", Value: int32(2500)},
		{Key: "wallet", Value: "0x00000000000000000000000000000000000000bb"}, {Key: "calc_point", Value: 83.72}}
	if _, err := c.Database("health_monitoring").Collection("machine_info").InsertMany(ctx, []any{
		doc("fresh", time.Time{}, bson.D{}, bson.D{}),
		doc("down-scored", shutdown, scored, nil),
		doc("down-unscored", shutdown, bson.D{}, bson.D{}),
		doc("dup", shutdown, bson.D{}, bson.D{}),
		doc("dup", time.Time{}, bson.D{}, bson.D{}),
		doc("crashed", time.Time{}, scored, nil),
	}); err != nil {
		t.Fatal(err)
	}
	// A claim the original left behind (it stopped without cleaning up).
	if _, err := c.Database("health_monitoring").Collection("machine_connection").InsertOne(ctx, bson.D{
		{Key: "machine_id", Value: "crashed"}, {Key: "project", Value: "DeepLinkEVM"}, {Key: "container_id", Value: ""},
		{Key: "add_time", Value: shutdown}}); err != nil {
		t.Fatal(err)
	}
}

// hookCalls records the webhook calls.
type hookCalls struct {
	mu    sync.Mutex
	calls []string
}

func (h *hookCalls) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		MachineID string `json:"machine_id"`
		IsOnline  bool   `json:"is_online"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	h.mu.Lock()
	h.calls = append(h.calls, fmt.Sprintf("%s %v", body.MachineID, body.IsOnline))
	h.mu.Unlock()
	_, _ = w.Write([]byte(`{"code":1,"msg":"ok","success":true,"is_rented":false}`))
}

func (h *hookCalls) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := slices.Clone(h.calls)
	slices.Sort(out)
	return out
}

// TestSwitchFromTheOriginalNode: ddn starts on a database in the original's
// shapes (empty subdocuments, no states, a duplicate key) with the
// original's ChainId 0, against geth --dev. The machine registered with
// `deeplink_st: {}` gets setMachineInfo on its first report; of the two
// machines down at the switch, the scored one is reported offline once the
// grace period has passed and the unscored one is not (the original's
// rule), as is the scored one whose claim the original left behind; the
// webhook hears of the scored one's offline and the fresh one's
// online, as the original would have told it.
func TestSwitchFromTheOriginalNode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs geth and the binary")
	}
	url := startGeth(t)
	contract := deployTestContract(t, url)
	dir := t.TempDir()
	seedOriginalDatabase(t, filepath.Join(dir, "ddn-data"), time.Now().Add(-time.Hour))

	// The chain as the original left it: all registered, the two machines
	// that were down at the switch still online (their offline pending).
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	key, _ := crypto.HexToECDSA(gethDevKey)
	opts := bind.NewKeyedTransactor(key, big.NewInt(1337))
	opts.Context = ctx
	bound := bind.NewBoundContract(contract.addr, contract.abi, contract.client, contract.client, contract.client)
	for _, c := range []struct {
		tp uint8
		id string
	}{{1, "fresh"}, {1, "down-scored"}, {1, "down-unscored"}, {1, "crashed"}, {3, "down-scored"}, {3, "down-unscored"}, {3, "crashed"}} {
		tx, err := bound.Transact(opts, "report", c.tp, "DeepLinkEVM", uint8(0), c.id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bind.WaitMined(ctx, contract.client, tx.Hash()); err != nil {
			t.Fatal(err)
		}
	}
	seeded := contract.call(t, "callCount")[0].(*big.Int).Int64()

	hook := &hookCalls{}
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)
	bin := buildBinary(t)
	addr := ddnproc.FreeAddr(t)
	n := startNode(t, bin, dir, addr,
		"DDN_OFFLINEGRACEPERIOD=2s", "DDN_SWEEPINTERVAL=200ms", "DDN_OUTBOX_INTERVAL=100ms",
		"DDN_OUTBOX_BASEBACKOFF=200ms", "DDN_OUTBOX_MAXBACKOFF=1s", "DDN_ADMIN_TOKEN=e2e-token",
		"DDN_CHAIN_RPC="+url, "DDN_CHAIN_CHAINID=0", "DDN_CHAIN_PRIVATEKEY="+gethDevKey,
		"DDN_CHAIN_REPORTCONTRACT_CONTRACTADDRESS="+contract.addr.Hex(), "DDN_CHAIN_MACHINEINFOCONTRACT_CONTRACTADDRESS="+contract.addr.Hex(),
		"DDN_NOTIFYTHIRDPARTY_OFFLINENOTIFY="+hookSrv.URL, "DDN_LOGLEVEL=trace")
	for _, want := range []string{"chain id read from the RPC", "duplicate machine keys", "machines without a state classified"} {
		if !strings.Contains(n.Logs(), want) {
			t.Fatalf("the node did not log %q:\n%s", want, n.Logs())
		}
	}

	state := func(id string) (bool, bool) {
		v := contract.call(t, "getMachineState", id, "DeepLinkEVM", uint8(0))
		return v[0].(bool), v[1].(bool)
	}
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.CloseNow() }()
	if r := request(t, ctx, c, 1, 1, `{"machine_id":"fresh","project":"DeepLinkEVM","container_id":"","staking_type":0}`); r.Code != 0 {
		t.Fatalf("online answered %+v", r)
	}
	info := `{"cpu_type":"13th Gen Intel(R) Core(TM) i5-13400F","cpu_rate":2500,"gpu_names":["NVIDIA GeForce RTX 4060"],` +
		`"gpu_memory_total":[8188],"memory_total":16,"wallet":"0x00000000000000000000000000000000000000aa"}`
	if r := request(t, ctx, c, 2, 2, info); r.Code != 0 {
		t.Fatalf("report answered %+v", r)
	}
	waitFor(t, "setMachineInfo of the machine registered with deeplink_st: {}", func() bool {
		return contract.call(t, "machineInfoCalls")[0].(*big.Int).Int64() == 1
	})
	mi := fmt.Sprintf("%+v", contract.call(t, "machineInfo", "fresh")[0])
	if !strings.Contains(mi, "GpuType:NVIDIA GeForce RTX 4060") || !strings.Contains(mi, "MachineOwner:"+common.HexToAddress("0xaa").Hex()) {
		t.Fatalf("machine info on chain = %s", mi)
	}
	waitFor(t, "the machines down at the switch reported offline after the grace period", func() bool {
		on, _ := state("down-scored")
		crashedOn, _ := state("crashed")
		return !on && !crashedOn
	})
	// The unscored machine's offline is settled without a transaction.
	waitFor(t, "the unscored machine's offline settled", func() bool {
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/v0/admin/outbox?status=done&limit=1000", nil)
		req.Header.Set("Authorization", "Bearer e2e-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var body struct {
			Entries []struct {
				Kind      string   `json:"kind"`
				MachineID string   `json:"machine_id"`
				Skipped   []string `json:"skipped"`
			} `json:"entries"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		for _, e := range body.Entries {
			if e.Kind == "offline" && e.MachineID == "down-unscored" && slices.Contains(e.Skipped, "chain") {
				return true
			}
		}
		return false
	})
	if on, _ := state("down-unscored"); !on {
		t.Fatal("the unscored machine was reported offline (the original reports only scored machines)")
	}
	var reports []string
	count := contract.call(t, "callCount")[0].(*big.Int).Int64()
	for i := seeded; i < count; i++ {
		v := contract.call(t, "callAt", big.NewInt(i))[0]
		call := gethabi.ConvertType(v, new(struct {
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
		})
		reports = append(reports, fmt.Sprintf("%d %s", call.Tp, call.MachineId))
	}
	slices.Sort(reports)
	if want := []string{"3 fresh", "4 crashed", "4 down-scored"}; !slices.Equal(reports, want) {
		t.Fatalf("reports by ddn = %v, want %v", reports, want)
	}
	waitFor(t, "the webhook told of the online and the offlines", func() bool { return len(hook.got()) >= 3 })
	if got, want := hook.got(), []string{"crashed false", "down-scored false", "fresh true"}; !slices.Equal(got, want) {
		t.Fatalf("webhook calls = %v, want %v", got, want)
	}
	n.Stop(t)
}
