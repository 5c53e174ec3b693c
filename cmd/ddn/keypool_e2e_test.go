package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	gethabi "github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"ddn/internal/ddnproc"
)

// fundKeys makes n new keys, each sent 100 ether by geth's dev account.
func fundKeys(t testing.TB, c *testContract, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dev, _ := crypto.HexToECDSA(gethDevKey)
	nonce, err := c.client.PendingNonceAt(ctx, crypto.PubkeyToAddress(dev.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	price, err := c.client.SuggestGasPrice(ctx)
	if err != nil {
		t.Fatal(err)
	}
	amount := new(big.Int).Mul(big.NewInt(100), big.NewInt(1e18))
	var keys []string
	var txs []*types.Transaction
	for i := range n {
		k, _ := crypto.GenerateKey()
		keys = append(keys, hex.EncodeToString(crypto.FromECDSA(k)))
		to := crypto.PubkeyToAddress(k.PublicKey)
		tx, err := types.SignTx(types.NewTx(&types.LegacyTx{Nonce: nonce + uint64(i), GasPrice: new(big.Int).Mul(price, big.NewInt(2)), Gas: 21000, To: &to, Value: amount}),
			types.LatestSignerForChainID(big.NewInt(1337)), dev)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.client.SendTransaction(ctx, tx); err != nil {
			t.Fatalf("fund key %d: %v", i, err)
		}
		txs = append(txs, tx)
	}
	for _, tx := range txs {
		for {
			if r, err := c.client.TransactionReceipt(ctx, tx.Hash()); err == nil && r.Status == types.ReceiptStatusSuccessful {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("funding not mined: %v", ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return keys
}

// poolRun is what one burst through a node with a key pool gave.
type poolRun struct {
	// sent is from the first online to the last report(3) on chain.
	sent time.Duration
	// bySender counts the report(3) calls on chain by sending address.
	bySender map[common.Address]int
	// logs is what the node wrote.
	logs string
	keys []string
}

// reportCall is one call the test contract recorded.
type reportCall struct {
	Tp          uint8
	ProjectName string
	StakingType uint8
	MachineId   string
	Sender      common.Address
}

// burstThroughKeyPool starts geth --dev and a node sending from `keys`
// fresh keys, registers `machines` machines on the test contract, has them
// all go online at once and waits until every report(3) is on chain.
func burstThroughKeyPool(t testing.TB, bin string, keys, machines int) poolRun {
	t.Helper()
	url := startGeth(t)
	contract := deployTestContract(t, url)
	hexKeys := fundKeys(t, contract, keys)
	agents := registeredAgents(t, contract, "pool", machines)
	addr := ddnproc.FreeAddr(t)
	n := startNode(t, bin, t.TempDir(), addr,
		"DDN_MONGODB_URI=memory://", "DDN_ADMIN_TOKEN=pool-token", "DDN_HEARTBEATTIMEOUT=5m",
		"DDN_LIMITS_MAXCONNECTIONSPERIP=0", "DDN_LIMITS_MAXANONYMOUS=0",
		"DDN_OUTBOX_INTERVAL=100ms", "DDN_OUTBOX_BASEBACKOFF=200ms", "DDN_OUTBOX_MAXBACKOFF=1s",
		"DDN_CHAIN_RPC="+url, "DDN_CHAIN_CHAINID=1337", "DDN_CHAIN_PRIVATEKEYS="+strings.Join(hexKeys, ","),
		"DDN_CHAIN_REPORTCONTRACT_CONTRACTADDRESS="+contract.addr.Hex(), "DDN_CHAIN_MACHINEINFOCONTRACT_CONTRACTADDRESS="+contract.addr.Hex(),
		// geth on loopback: the endpoint's rate is not what is measured
		// (each transaction costs ~6 requests; at the default 10/s a node
		// sends under two transactions a second whatever its keys).
		"DDN_CHAIN_MAXREQUESTSPERSECOND=1000", "DDN_CHAIN_MAXCONCURRENTCALLS=16")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for _, a := range agents {
		wg.Go(func() { a.online(ctx, addr, start) })
	}
	wg.Wait()
	for _, a := range agents {
		if a.err != nil || a.code != 0 {
			t.Fatalf("online of %s: %v code %d %s", a.id, a.err, a.code, a.msg)
		}
	}
	count := func() int64 { return contract.call(t, "callCount")[0].(*big.Int).Int64() }
	if !ddnproc.Eventually(10*time.Minute, 100*time.Millisecond, func() bool { return count() >= int64(machines) }) {
		t.Fatalf("%d of %d report(3) on chain after 10 minutes", count(), machines)
	}
	run := poolRun{sent: time.Since(start), bySender: map[common.Address]int{}, keys: hexKeys}
	time.Sleep(time.Second) // a duplicate, if one were sent, has the time to land
	total := count()
	seen := map[string]bool{}
	for i := range total {
		v := contract.call(t, "callAt", big.NewInt(i))[0]
		c := *gethabi.ConvertType(v, new(reportCall)).(*reportCall)
		if c.Tp != 3 || seen[c.MachineId] {
			t.Fatalf("call %d on chain: %+v (a duplicate or not an online)", i, c)
		}
		seen[c.MachineId] = true
		run.bySender[c.Sender]++
	}
	if total != int64(machines) {
		t.Fatalf("%d report calls on chain, want %d", total, machines)
	}
	n.Stop(t)
	run.logs = n.Logs()
	return run
}

// TestKeyPoolOnGeth: a real node sending from one key and from four keys
// in front of geth --dev: a burst of onlines lands once each, spread over
// every key of the pool, and no key is logged.
func TestKeyPoolOnGeth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs geth and the binary")
	}
	bin := buildBinary(t)
	for _, keys := range []int{1, 4} {
		t.Run(fmt.Sprint(keys, " keys"), func(t *testing.T) {
			run := burstThroughKeyPool(t, bin, keys, 24)
			if len(run.bySender) != keys {
				t.Fatalf("report(3) by sender = %v, want every one of the %d keys used", run.bySender, keys)
			}
			for _, k := range run.keys {
				if strings.Contains(run.logs, k) {
					t.Fatal("the node logged a private key")
				}
				addr := crypto.PubkeyToAddress(mustKey(t, k).PublicKey).Hex()
				if !strings.Contains(run.logs, addr) {
					t.Fatalf("the node did not log its sender %s", addr)
				}
			}
			t.Logf("24 onlines on chain after %s, by sender %v", run.sent.Round(time.Millisecond), run.bySender)
		})
	}
}

func mustKey(t testing.TB, h string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.HexToECDSA(h)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// BenchmarkKeyPoolBurst measures docs/performance.md's key pool figures:
// 200 registered machines go online at once through a node sending from 1
// or 4 keys to geth --dev; the time is from the first online to the last
// report(3) on chain. Run it once per count:
//
//	PATH=$(go env GOPATH)/bin:$PATH go test -run '^$' -bench KeyPoolBurst -benchtime 1x -count 3 ./cmd/ddn/
func BenchmarkKeyPoolBurst(b *testing.B) {
	bin := buildBinary(b)
	for _, keys := range []int{1, 4} {
		b.Run(fmt.Sprint("keys=", keys), func(b *testing.B) {
			var sent []time.Duration
			for range b.N {
				run := burstThroughKeyPool(b, bin, keys, 200)
				sent = append(sent, run.sent)
				b.Logf("%d keys: 200 report(3) on chain %s after the first online, by sender %v", keys, run.sent.Round(time.Millisecond), run.bySender)
			}
			sort.Slice(sent, func(i, j int) bool { return sent[i] < sent[j] })
			med := sent[len(sent)/2]
			b.ReportMetric(med.Seconds(), "s/burst")
			b.ReportMetric(200/med.Seconds(), "tx/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
