package chain_test

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"ddn/adapters/chain"
	"ddn/adapters/memory"
	"ddn/domain"
	"ddn/ports"
	"ddn/ports/chaintest"
)

func TestContractOnSimulatedChainWithFourKeys(t *testing.T) {
	tc := newTestChain(t)
	chaintest.Run(t, func(t *testing.T) ports.Chain {
		return tc.adapter(t, tc.deploy(t), func(o *chain.Options) { o.PrivateKeys, o.CallTimeout = tc.poolKeys(4), 10*time.Second })
	})
}

// pendingPerKey is how many transactions of each key wait in the pool.
func (tc *testChain) pendingPerKey(t *testing.T, addrs []common.Address) []uint64 {
	t.Helper()
	out := make([]uint64, len(addrs))
	for i, a := range addrs {
		pending, err := tc.sim.Client().PendingNonceAt(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		mined, err := tc.sim.Client().NonceAt(ctx, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = pending - mined
	}
	return out
}

// burst sends n reports at once and returns their errors once all ended.
func burst(c *chain.Chain, n int, tp domain.ReportType) []error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			k := key
			k.MachineID = fmt.Sprintf("m-%03d", i)
			errs[i] = c.Report(ctx, tp, k, domain.StakingShortTerm)
		})
	}
	wg.Wait()
	return errs
}

// TestKeyPoolOneTransactionPerKeyInFlight holds blocks back while a burst
// is sent: with n keys, n transactions wait in the pool, one per key, and
// with one key a single one (the burst is serialised behind that account).
func TestKeyPoolOneTransactionPerKeyInFlight(t *testing.T) {
	for _, n := range []int{1, 4} {
		t.Run(fmt.Sprint(n, " keys"), func(t *testing.T) {
			tc := newTestChain(t)
			addr := tc.deploy(t)
			c := tc.adapter(t, addr, func(o *chain.Options) { o.PrivateKeys, o.CallTimeout = tc.poolKeys(n), 10*time.Second })
			if got := len(c.Senders()); got != n {
				t.Fatalf("%d senders, want %d", got, n)
			}
			tc.paused.Store(true)
			done := make(chan []error)
			go func() { done <- burst(c, 3*n, domain.ReportMachineRegister) }()
			var pending []uint64
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				pending = tc.pendingPerKey(t, c.Senders())
				var sum uint64
				for _, p := range pending {
					sum += p
				}
				if sum >= uint64(n) {
					break
				}
			}
			time.Sleep(100 * time.Millisecond) // room for a second transaction of a key, if one were sent
			pending = tc.pendingPerKey(t, c.Senders())
			for i, p := range pending {
				if p != 1 {
					t.Errorf("key %d has %d transactions pending (all: %v), want exactly 1", i, p, pending)
				}
			}
			tc.paused.Store(false)
			for _, err := range <-done {
				if err != nil {
					t.Fatal(err)
				}
			}
			if got := tc.call(t, addr, "callCount")[0].(*big.Int).Int64(); got != int64(3*n) {
				t.Fatalf("calls = %d, want %d", got, 3*n)
			}
		})
	}
}

// TestKeyPoolSpreadsTransactionsEachKeyWithItsOwnNonces: a burst over four
// keys uses every key, and each key's nonces run from 0 without a gap.
func TestKeyPoolSpreadsTransactionsEachKeyWithItsOwnNonces(t *testing.T) {
	tc := newTestChain(t)
	addr := tc.deploy(t)
	resyncs := map[string]int{}
	var mu sync.Mutex
	c := tc.adapter(t, addr, func(o *chain.Options) {
		o.PrivateKeys, o.CallTimeout = tc.poolKeys(4), 10*time.Second
		o.OnResync = func(from, _ string, _ uint64) { mu.Lock(); resyncs[from]++; mu.Unlock() }
	})
	const n = 40
	for _, err := range burst(c, n, domain.ReportMachineRegister) {
		if err != nil {
			t.Fatal(err)
		}
	}
	nonces := tc.noncesFrom(t, tc.pool[:4]...)
	total := 0
	for _, a := range c.Senders() {
		got := nonces[a]
		if len(got) == 0 {
			t.Fatalf("key %s sent nothing: %v", a.Hex(), nonces)
		}
		for i, nonce := range got {
			if nonce != uint64(i) {
				t.Fatalf("key %s nonces = %v, want 0..%d", a.Hex(), got, len(got)-1)
			}
		}
		total += len(got)
		if resyncs[a.Hex()] != 1 {
			t.Fatalf("key %s read its nonce %d times, want once at start", a.Hex(), resyncs[a.Hex()])
		}
	}
	if total != n {
		t.Fatalf("%d transactions mined, want %d", total, n)
	}
	if len(tc.noncesFrom(t, tc.sender)) != 0 {
		t.Fatal("the PrivateKey of the options was used although PrivateKeys replace it")
	}
}

// TestKeyPoolNonceRecoveryIsPerKey: a key used behind the node's back
// gets "nonce too low" and is read again; the other keys are not.
func TestKeyPoolNonceRecoveryIsPerKey(t *testing.T) {
	tc := newTestChain(t)
	addr := tc.deploy(t)
	var mu sync.Mutex
	var reasons []string
	c := tc.adapter(t, addr, func(o *chain.Options) {
		o.PrivateKeys, o.CallTimeout = tc.poolKeys(2), 10*time.Second
		o.OnResync = func(from, why string, _ uint64) { mu.Lock(); reasons = append(reasons, from+" "+why); mu.Unlock() }
	})
	for _, err := range burst(c, 2, domain.ReportMachineRegister) { // each key synced once
		if err != nil {
			t.Fatal(err)
		}
	}
	// Another process sends from the second key.
	other := tc.adapter(t, addr, func(o *chain.Options) { o.PrivateKeys = tc.poolKeys(2)[1:] })
	if err := other.Report(ctx, domain.ReportMachineOnline, key, 0); err != nil {
		t.Fatal(err)
	}
	for _, err := range burst(c, 4, domain.ReportMachineOnline) {
		if err != nil {
			t.Fatal(err)
		}
	}
	second := crypto.PubkeyToAddress(tc.pool[1].PublicKey).Hex()
	var again []string
	for _, r := range reasons[2:] {
		again = append(again, r)
	}
	if len(again) != 1 || !strings.HasPrefix(again[0], second+" ") || !strings.Contains(again[0], "nonce too low") {
		t.Fatalf("resyncs after the start = %q, want one, of %s after \"nonce too low\"", again, second)
	}
	nonces := tc.noncesFrom(t, tc.pool[1])[crypto.PubkeyToAddress(tc.pool[1].PublicKey)]
	for i, n := range nonces {
		if n != uint64(i) {
			t.Fatalf("second key's nonces = %v, want no gap", nonces)
		}
	}
}

// TestKeyPoolLeasesPerKeyAcrossTheCluster: two nodes sharing a store and
// two keys send in turn, each from the key whose lease it holds; a third node
// finds both keys held (domain.ErrNotNow) until they go idle.
func TestKeyPoolLeasesPerKeyAcrossTheCluster(t *testing.T) {
	tc := newTestChain(t)
	addr := tc.deploy(t)
	store := memory.NewStore()
	clock := memory.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	node := func(owner string) *chain.Chain {
		return tc.adapter(t, addr, func(o *chain.Options) {
			o.PrivateKeys = tc.poolKeys(2)
			o.Leases, o.Owner, o.Clock, o.LeaseTTL = store, owner, clock, 30*time.Second
		})
	}
	n1, n2, n3 := node("n1"), node("n2"), node("n3")
	k := func(i int) domain.MachineKey { k := key; k.MachineID = fmt.Sprint("m-", i); return k }
	if err := n1.Report(ctx, domain.ReportMachineRegister, k(1), 0); err != nil {
		t.Fatal(err)
	}
	// n2 finds the first key held by n1 and sends from the second.
	if err := n2.Report(ctx, domain.ReportMachineRegister, k(2), 0); err != nil {
		t.Fatalf("second node with a key free: %v", err)
	}
	for i := 3; i < 7; i++ {
		c := []*chain.Chain{n1, n2}[i%2]
		if err := c.Report(ctx, domain.ReportMachineRegister, k(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	err := n3.Report(ctx, domain.ReportMachineRegister, k(9), 0)
	if !errors.Is(err, chain.ErrLeaseHeld) || !errors.Is(err, domain.ErrNotNow) {
		t.Fatalf("third node with both keys held: %v, want ErrLeaseHeld (ErrNotNow)", err)
	}
	senders := map[common.Address][]uint64{}
	for i := 1; i < 7; i++ {
		v := callAt(t, tc, addr, int64(i-1))
		senders[v.Sender] = append(senders[v.Sender], uint64(i))
	}
	if len(senders) != 2 {
		t.Fatalf("transactions by sender: %v, want both keys used", senders)
	}
	n1Keys, n2Keys := map[common.Address]bool{}, map[common.Address]bool{}
	for i := 1; i < 7; i++ {
		v := callAt(t, tc, addr, int64(i-1))
		if i == 1 || (i > 2 && i%2 == 0) { // n1 sent 1, 4 and 6
			n1Keys[v.Sender] = true
		} else {
			n2Keys[v.Sender] = true
		}
	}
	if len(n1Keys) != 1 || len(n2Keys) != 1 || slices.Equal(mapKeys(n1Keys), mapKeys(n2Keys)) {
		t.Fatalf("n1 sent from %v, n2 from %v: want one key each, not the same", mapKeys(n1Keys), mapKeys(n2Keys))
	}
	clock.Advance(time.Minute) // both idle for two slices: the keys are free
	if err := n3.Report(ctx, domain.ReportMachineRegister, k(9), 0); err != nil {
		t.Fatalf("third node once the keys are free: %v", err)
	}
	for a, nonces := range tc.noncesFrom(t, tc.pool[:2]...) {
		for i, n := range nonces {
			if n != uint64(i) {
				t.Fatalf("key %s nonces = %v, want no gap or repeat", a.Hex(), nonces)
			}
		}
	}
}

func mapKeys(m map[common.Address]bool) []common.Address {
	var out []common.Address
	for a := range m {
		out = append(out, a)
	}
	return out
}

func TestKeyPoolStartupErrorsNameThePlace(t *testing.T) {
	good, _ := crypto.GenerateKey()
	goodHex := fmt.Sprintf("%x", crypto.FromECDSA(good))
	addr := "0x00000000000000000000000000000000000000a1"
	base := chain.Options{Endpoints: []*chain.Endpoint{{URL: "http://127.0.0.1:1"}}, ChainID: 1, ReportAddress: addr, MachineInfoAddress: addr}
	for _, tt := range []struct {
		keys []string
		want string
	}{
		{[]string{goodHex, "zz" + goodHex[2:]}, "config: Chain.PrivateKeys[1]: not a hex"},
		{[]string{goodHex, "0x" + goodHex}, "config: Chain.PrivateKeys[1]: the same key as Chain.PrivateKeys[0]"},
	} {
		o := base
		o.PrivateKeys = tt.keys
		_, err := chain.New(o)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("error = %v, want it to start with %q", err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), goodHex) || strings.Contains(err.Error(), goodHex[2:]) {
			t.Errorf("error leaks a key: %v", err)
		}
	}
	o := base
	o.PrivateKeys = []string{goodHex} // PrivateKey may then be empty
	if _, err := chain.New(o); err != nil {
		t.Fatalf("PrivateKeys without PrivateKey: %v", err)
	}
}
