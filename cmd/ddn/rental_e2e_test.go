package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/crypto"

	"ddn/internal/ddnproc"
)

// rentalBackend is the operator's backend behind the webhook: it records
// every request and answers the guard's check_only question with
// false_offline_guard for the machines it sees online.
type rentalBackend struct {
	mu       sync.Mutex
	online   map[string]bool
	requests []map[string]any
}

func (b *rentalBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	b.mu.Lock()
	b.requests = append(b.requests, body)
	guard := body["check_only"] == true && b.online[fmt.Sprint(body["machine_id"])]
	b.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"code": 1, "msg": "ok", "success": true, "is_rented": true, "false_offline_guard": guard})
}

// got returns the requests about a machine: "check" for a guard question,
// "online", or "offline <report_tx_hash>" ("offline -" when the field is
// absent).
func (b *rentalBackend) got(machine string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, r := range b.requests {
		if r["machine_id"] != machine {
			continue
		}
		switch {
		case r["check_only"] == true:
			out = append(out, "check")
		case r["is_online"] == true:
			out = append(out, "online")
		default:
			h, ok := r["report_tx_hash"].(string)
			if !ok {
				h = "-"
			}
			out = append(out, "offline "+h)
		}
	}
	return out
}

// transact mines a transaction of geth's developer account to c.
func (c *testContract) transact(t *testing.T, method string, args ...any) {
	t.Helper()
	key, _ := crypto.HexToECDSA(gethDevKey)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := bind.NewKeyedTransactor(key, big.NewInt(1337))
	opts.Context = ctx
	tx, err := bind.NewBoundContract(c.addr, c.abi, c.client, c.client, c.client).Transact(opts, method, args...)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	if _, err := bind.WaitMined(ctx, c.client, tx.Hash()); err != nil {
		t.Fatalf("%s: wait mined: %v", method, err)
	}
}

// sentTxs lists the transactions of method to c as "<first argument
// that is a string> <hash>" with the uint8 type first ("4 m-1 0x…").
func sentTxs(t *testing.T, c *testContract, method string) []string {
	t.Helper()
	m := c.abi.Methods[method]
	var out []string
	ctx := context.Background()
	head, err := c.client.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for n := uint64(0); n <= head; n++ {
		b, err := c.client.BlockByNumber(ctx, new(big.Int).SetUint64(n))
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range b.Transactions() {
			if tx.To() == nil || *tx.To() != c.addr || len(tx.Data()) < 4 || string(tx.Data()[:4]) != string(m.ID) {
				continue
			}
			args, err := m.Inputs.Unpack(tx.Data()[4:])
			if err != nil {
				t.Fatal(err)
			}
			id := ""
			for _, a := range args[1:] {
				if s, ok := a.(string); ok && strings.HasPrefix(s, "m-") {
					id = s
				}
			}
			out = append(out, fmt.Sprintf("%d %s %s", args[0].(uint8), id, tx.Hash().Hex()))
		}
	}
	return out
}

// TestRentalEndToEnd: a real ddn against geth --dev with the report,
// Rent and FreeRental test contracts and a webhook backend, under the
// current original's rental rules. Five machines go online and leave:
// a staked machine not rented gets no report(4) (the webhook hears of its
// offline with an empty report_tx_hash); a rented one exactly one (its
// hash in the webhook); a FreeRental machine that is rented exactly one
// notify(4) and no report(4) (its hash in the webhook); a rented machine
// the backend still sees online (the guard answers true) none, and no
// offline notification; a machine the report contract does not know but
// that is rented comes online without report(3) and gets its report(4).
func TestRentalEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs geth and the binary")
	}
	url := startGeth(t)
	registry := deployTestContract(t, url)
	rent := deployNamedContract(t, url, "TestRent")
	free := deployNamedContract(t, url, "TestFreeRental")
	const project = "DeepLinkEVM"
	for _, id := range []string{"m-idle", "m-rented", "m-free", "m-guarded"} {
		registry.transact(t, "report", uint8(1), project, uint8(0), id)
	}
	for _, id := range []string{"m-rented", "m-guarded", "m-blocked"} {
		rent.transact(t, "setRented", id, true)
	}
	free.transact(t, "register", "m-free", big.NewInt(2))
	free.transact(t, "setRented", "m-free", true)

	backend := &rentalBackend{online: map[string]bool{"m-guarded": true}}
	srv := httptest.NewServer(backend)
	defer srv.Close()
	bin := buildBinary(t)
	addr := ddnproc.FreeAddr(t)
	n := startNode(t, bin, t.TempDir(), addr,
		"DDN_MONGODB_URI=memory://", "DDN_OFFLINEGRACEPERIOD=2s", "DDN_SWEEPINTERVAL=200ms", "DDN_OUTBOX_INTERVAL=100ms",
		"DDN_OUTBOX_BASEBACKOFF=200ms", "DDN_OUTBOX_MAXBACKOFF=1s", "DDN_ADMIN_TOKEN=e2e-token",
		"DDN_CHAIN_RPC="+url, "DDN_CHAIN_CHAINID=1337", "DDN_CHAIN_PRIVATEKEY="+gethDevKey,
		"DDN_CHAIN_REPORTCONTRACT_CONTRACTADDRESS="+registry.addr.Hex(), "DDN_CHAIN_MACHINEINFOCONTRACT_CONTRACTADDRESS="+registry.addr.Hex(),
		"DDN_CHAIN_RENTCONTRACT_CONTRACTADDRESS="+rent.addr.Hex(), "DDN_CHAIN_FREERENTALCONTRACT_CONTRACTADDRESS="+free.addr.Hex(),
		"DDN_CHAIN_RENTRECHECK=1s", "DDN_CHAIN_BLOCKPOLL=500ms", "DDN_NOTIFYTHIRDPARTY_OFFLINENOTIFY="+srv.URL)

	// The served configuration shows the rental keys, the key redacted.
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v0/admin/config", nil)
	req.Header.Set("Authorization", "Bearer e2e-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var served struct {
		Config struct {
			Chain struct {
				PrivateKey         string
				RentRecheck        string
				RentContract       struct{ ContractAddress string }
				FreeRentalContract struct{ ContractAddress string }
			}
			NotifyThirdParty struct{ GuardProjects []string }
		} `json:"config"`
	}
	err = json.NewDecoder(resp.Body).Decode(&served)
	resp.Body.Close()
	if ch := served.Config.Chain; err != nil || ch.PrivateKey != "REDACTED" || ch.RentRecheck != "1s" ||
		ch.RentContract.ContractAddress != rent.addr.Hex() || ch.FreeRentalContract.ContractAddress != free.addr.Hex() ||
		!slices.Equal(served.Config.NotifyThirdParty.GuardProjects, []string{"DeepLinkEVM"}) {
		t.Fatalf("/api/v0/admin/config = %+v, %v", served.Config, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	machines := []string{"m-idle", "m-rented", "m-free", "m-guarded", "m-blocked"}
	var conns []*websocket.Conn
	for i, id := range machines {
		c, _, err := websocket.Dial(ctx, "ws://"+addr+"/websocket", nil)
		if err != nil {
			t.Fatal(err)
		}
		online := fmt.Sprintf(`{"machine_id":%q,"project":%q,"container_id":"","staking_type":0}`, id, project)
		if r := request(t, ctx, c, uint64(i+1), 1, online); r.Code != 0 {
			t.Fatalf("online of %s answered %+v", id, r)
		}
		conns = append(conns, c)
	}
	// Every registered machine is reported online; the one let in for its rent is not.
	waitFor(t, "the registered machines online on chain", func() bool {
		on := 0
		for _, tx := range sentTxs(t, registry, "report") {
			if strings.HasPrefix(tx, "3 ") {
				on++
			}
		}
		return on == 4
	})
	for _, c := range conns {
		_ = c.Close(websocket.StatusNormalClosure, "bye")
	}
	waitFor(t, "the offline notifications", func() bool {
		for _, id := range []string{"m-idle", "m-rented", "m-free", "m-blocked"} {
			if !slices.ContainsFunc(backend.got(id), func(s string) bool { return strings.HasPrefix(s, "offline ") }) {
				return false
			}
		}
		return true
	})
	// Every side effect settled, the re-check of the machine not rented included.
	waitFor(t, "the outbox settled", func() bool {
		var out struct {
			Counts  map[string]int `json:"counts"`
			Entries []struct {
				Kind string `json:"kind"`
			} `json:"entries"`
		}
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/v0/admin/outbox?limit=1000", nil)
		req.Header.Set("Authorization", "Bearer e2e-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if json.NewDecoder(resp.Body).Decode(&out) != nil {
			return false
		}
		rechecks := 0
		for _, e := range out.Entries {
			if e.Kind == "offline_rent_check" {
				rechecks++
			}
		}
		return rechecks == 1 && out.Counts["ready"] == 0 && out.Counts["pending"] == 0
	})

	var offline []string
	hashOf := map[string]string{}
	for _, tx := range sentTxs(t, registry, "report") {
		if f := strings.Fields(tx); f[0] == "4" {
			offline = append(offline, f[1])
			hashOf[f[1]] = f[2]
		}
	}
	slices.Sort(offline)
	if !slices.Equal(offline, []string{"m-blocked", "m-rented"}) {
		t.Fatalf("report(4) sent for %v, want exactly one each for the rented m-blocked and m-rented", offline)
	}
	notified := sentTxs(t, free, "notify")
	if len(notified) != 1 || !strings.HasPrefix(notified[0], "4 m-free ") {
		t.Fatalf("FreeRental notify transactions = %v, want exactly one notify(4, m-free)", notified)
	}
	want := map[string][]string{
		"m-idle":    {"online", "offline "},
		"m-rented":  {"online", "check", "offline " + hashOf["m-rented"]},
		"m-free":    {"online", "check", "offline " + strings.Fields(notified[0])[2]},
		"m-guarded": {"online", "check"},
		"m-blocked": {"check", "offline " + hashOf["m-blocked"]},
	}
	for id, w := range want {
		if got := backend.got(id); !slices.Equal(got, w) {
			t.Fatalf("backend requests about %s = %q, want %q", id, got, w)
		}
	}
	if strings.Contains(n.Logs(), gethDevKey) {
		t.Fatal("the node logged the private key")
	}
	n.Stop(t)
}
