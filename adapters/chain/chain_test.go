package chain_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gethabi "github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"ddn/adapters/chain"
	"ddn/adapters/memory"
	"ddn/app/chainreport"
	"ddn/app/outbox"
	"ddn/domain"
	"ddn/ports"
	"ddn/ports/chaintest"
)

var (
	ctx = context.Background()
	key = domain.MachineKey{MachineID: "machine-42", Project: "deeplink", ContainerID: "container-7"}
)

func TestContractOnSimulatedChain(t *testing.T) {
	tc := newTestChain(t)
	chaintest.Run(t, func(t *testing.T) ports.Chain { return tc.adapter(t, tc.deploy(t), nil) })
}

type call struct {
	Tp          uint8
	ProjectName string
	StakingType uint8
	MachineId   string
	Sender      common.Address
}

func callAt(t *testing.T, tc *testChain, addr common.Address, i int64) call {
	t.Helper()
	v := tc.call(t, addr, "callAt", big.NewInt(i))[0]
	return *gethabi.ConvertType(v, new(call)).(*call)
}

func TestExactArgumentsArriveOnChain(t *testing.T) {
	tc := newTestChain(t)
	addr := tc.deploy(t)
	c := tc.adapter(t, addr, nil)
	st := domain.StakingLongTerm
	for _, tp := range []domain.ReportType{domain.ReportMachineRegister, domain.ReportMachineOnline} {
		if err := c.Report(ctx, tp, key, st); err != nil {
			t.Fatalf("report %d: %v", tp, err)
		}
	}
	s, err := c.MachineState(ctx, key, st)
	if err != nil || s != (domain.ChainState{Online: true, Registered: true}) {
		t.Fatalf("state after online = %+v, %v", s, err)
	}
	if err := c.Report(ctx, domain.ReportMachineOffline, key, st); err != nil {
		t.Fatal(err)
	}
	if s, _ := c.MachineState(ctx, key, st); s != (domain.ChainState{Registered: true}) {
		t.Fatalf("state after offline = %+v", s)
	}
	for i, want := range []call{
		{Tp: 1, ProjectName: "deeplink", StakingType: 1, MachineId: "machine-42", Sender: c.From()},
		{Tp: 3, ProjectName: "deeplink", StakingType: 1, MachineId: "machine-42", Sender: c.From()},
		{Tp: 4, ProjectName: "deeplink", StakingType: 1, MachineId: "machine-42", Sender: c.From()},
	} {
		if got := callAt(t, tc, addr, int64(i)); got != want {
			t.Fatalf("call %d = %+v, want %+v", i, got, want)
		}
	}

	wallet := "0x00000000000000000000000000000000000000Aa"
	info := domain.NewChainMachineInfo(key, domain.ShortTermInfo{GPUNames: []string{"NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4060"},
		GPUMemoryTotal: []int64{24, 8}, MemoryTotal: 64, CPUType: "AMD Ryzen 9 7950X", CPURate: 4500, Wallet: wallet,
		CalcPoint: 1234.56, Longitude: 116.3975, Latitude: -39.9, Region: "North China"})
	if err := c.SetMachineInfo(ctx, key.MachineID, info); err != nil {
		t.Fatal(err)
	}
	got := tc.call(t, addr, "machineInfo", key.MachineID)[0]
	want := fmt.Sprintf("{MachineOwner:%s CalcPoint:+12345600 CpuRate:+4500 GpuType:NVIDIA GeForce RTX 4090 GpuMem:+24 CpuType:AMD Ryzen 9 7950X GpuCount:+2 MachineId:container-7 Longitude:116.397499 Latitude:-39.900002 MachineMem:+64 Region:North China Model:}",
		common.HexToAddress(wallet).Hex())
	if s := fmt.Sprintf("%+v", got); s != want {
		t.Fatalf("machine info on chain:\n got %s\nwant %s", s, want)
	}

	bw := domain.NewChainBandwidthInfo(key, domain.BandwidthInfo{CPUCores: 8, MemoryTotal: 16, HDD: 2000, Bandwidth: 950.4, Wallet: wallet, Region: "Texas"})
	if err := c.SetBandwidthInfo(ctx, key.MachineID, bw); err != nil {
		t.Fatal(err)
	}
	gotBW := fmt.Sprintf("%+v", tc.call(t, addr, "bandwidthInfo", key.MachineID)[0])
	wantBW := fmt.Sprintf("{MachineOwner:%s MachineId:container-7 CpuCores:+8 MachineMem:+16 Region:Texas Hdd:+2000 Bandwidth:+950}", common.HexToAddress(wallet).Hex())
	if gotBW != wantBW {
		t.Fatalf("bandwidth info on chain:\n got %s\nwant %s", gotBW, wantBW)
	}
}

func TestConcurrentReportsLandWithConsecutiveNonces(t *testing.T) {
	tc := newTestChain(t)
	addr := tc.deploy(t)
	var resyncs int
	var mu sync.Mutex
	c := tc.adapter(t, addr, func(o *chain.Options) {
		o.OnResync = func(_, _ string, _ uint64) { mu.Lock(); resyncs++; mu.Unlock() }
	})
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			k := key
			k.MachineID = fmt.Sprintf("m-%02d", i)
			errs <- c.Report(ctx, domain.ReportMachineRegister, k, domain.StakingShortTerm)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	nonces := tc.senderNonces(t)
	slices.Sort(nonces)
	for i, got := range nonces {
		if got != uint64(i) {
			t.Fatalf("nonces = %v, want 0..%d each once", nonces, n-1)
		}
	}
	if len(nonces) != n {
		t.Fatalf("%d transactions mined, want %d", len(nonces), n)
	}
	if got := tc.call(t, addr, "callCount")[0].(*big.Int).Int64(); got != n {
		t.Fatalf("calls recorded = %d, want %d", got, n)
	}
	if resyncs != 1 {
		t.Fatalf("nonce read from the chain %d times, want once at start", resyncs)
	}
}

func TestNonceResyncAfterAnotherSenderUsedTheKey(t *testing.T) {
	tc := newTestChain(t)
	addr := tc.deploy(t)
	b := tc.adapter(t, addr, nil) // a second process with the same key, unaware of a
	var reasons []string
	a2 := tc.adapter(t, addr, func(o *chain.Options) {
		o.OnResync = func(_, why string, _ uint64) { reasons = append(reasons, why) }
	})
	k1, k2 := key, key
	k2.MachineID = "other"
	for _, step := range []struct {
		c *chain.Chain
		k domain.MachineKey
	}{{a2, k1}, {b, k2}, {b, k1}, {a2, k2}} {
		if err := step.c.Report(ctx, domain.ReportMachineRegister, step.k, 0); err != nil {
			t.Fatalf("report: %v", err)
		}
	}
	if len(reasons) != 2 || !strings.Contains(reasons[1], "nonce too low") {
		t.Fatalf("resyncs = %q, want the start and one after \"nonce too low\"", reasons)
	}
	if got := tc.call(t, addr, "callCount")[0].(*big.Int).Int64(); got != 4 {
		t.Fatalf("calls = %d, want 4", got)
	}
}

func TestFirstEndpointDownSecondUsed(t *testing.T) {
	tc := newTestChain(t)
	addr := tc.deploy(t)
	dead := "http://127.0.0.1:" + itoa(freePort(t)) // nothing listens there
	var failovers []string
	c := tc.adapter(t, addr, func(o *chain.Options) {
		o.OnFailover = func(from, to string, _ error) { failovers = append(failovers, from+" -> "+to) }
	}, dead, tc.proxy.URL())
	if err := c.Report(ctx, domain.ReportMachineRegister, key, 0); err != nil {
		t.Fatalf("report with the first endpoint down: %v", err)
	}
	if s, err := c.MachineState(ctx, key, 0); err != nil || !s.Registered {
		t.Fatalf("state = %+v, %v", s, err)
	}
	if len(failovers) != 1 || failovers[0] != dead+" -> "+tc.proxy.URL() {
		t.Fatalf("failovers = %q, want one from the dead endpoint to the live one", failovers)
	}
	// Both down: a chain error, not a hang.
	tc.proxy.Down()
	if _, err := c.MachineState(ctx, key, 0); err == nil || !strings.Contains(err.Error(), "no RPC endpoint answered") {
		t.Fatalf("state with every endpoint down: %v", err)
	}
}

// TestQueuedReportsDeliveredWhenTheChainIsBack runs the real outbox with the
// chain target: online reports recorded while the chain is unreachable are
// all delivered, once each, when it comes back.
func TestQueuedReportsDeliveredWhenTheChainIsBack(t *testing.T) {
	tc := newTestChain(t)
	addr := tc.deploy(t)
	c := tc.adapter(t, addr, nil)
	const n = 6
	keys := make([]domain.MachineKey, n)
	for i := range keys {
		keys[i] = key
		keys[i].MachineID = fmt.Sprintf("m-%d", i)
		if err := c.Report(ctx, domain.ReportMachineRegister, keys[i], 0); err != nil {
			t.Fatal(err)
		}
	}
	store, clock := memory.NewStore(), memory.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	ob := outbox.New(outbox.Config{NodeID: "n1", Targets: []string{chainreport.Target}, MaxAttempts: 100}, store, clock,
		map[string]ports.Deliverer{chainreport.Target: chainreport.New(c)})
	tc.proxy.Down()
	for _, k := range keys {
		e, err := ob.Record(ctx, domain.Event{Kind: domain.EventOnline, Key: k, At: clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if err := ob.Confirm(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		p, _ := ob.Dispatch(ctx)
		if p.Delivered != 0 {
			t.Fatalf("delivered %d with the chain down", p.Delivered)
		}
		clock.Advance(10 * time.Minute)
	}
	tc.proxy.Up()
	delivered := 0
	for range 5 {
		p, err := ob.Dispatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		delivered += p.Delivered
		clock.Advance(10 * time.Minute)
	}
	if delivered != n {
		t.Fatalf("delivered %d entries after the chain came back, want %d", delivered, n)
	}
	for _, k := range keys {
		if s, err := c.MachineState(ctx, k, 0); err != nil || !s.Online {
			t.Fatalf("%s on chain = %+v, %v; want online", k, s, err)
		}
	}
	if got := tc.call(t, addr, "callCount")[0].(*big.Int).Int64(); got != 2*n {
		t.Fatalf("calls = %d, want %d registers and %d onlines, no duplicate", got, n, n)
	}
}

func TestOneSenderPerKeyAcrossTheCluster(t *testing.T) {
	tc := newTestChain(t)
	addr := tc.deploy(t)
	store := memory.NewStore()
	clock := memory.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	node := func(owner string) *chain.Chain {
		return tc.adapter(t, addr, func(o *chain.Options) {
			o.Leases, o.Owner, o.Clock, o.LeaseTTL = store, owner, clock, 30*time.Second
		})
	}
	n1, n2 := node("n1"), node("n2")
	if err := n1.Report(ctx, domain.ReportMachineRegister, key, 0); err != nil {
		t.Fatal(err)
	}
	if err := n2.Report(ctx, domain.ReportMachineOnline, key, 0); !errors.Is(err, chain.ErrLeaseHeld) {
		t.Fatalf("second node sending in the same slice: %v, want ErrLeaseHeld", err)
	}
	clock.Advance(time.Minute) // n1 idle for two slices: the key is free
	if err := n2.Report(ctx, domain.ReportMachineOnline, key, 0); err != nil {
		t.Fatalf("second node after the first went idle: %v", err)
	}
	if err := n1.Report(ctx, domain.ReportMachineOffline, key, 0); !errors.Is(err, chain.ErrLeaseHeld) {
		t.Fatalf("first node while the second holds the slice: %v", err)
	}
	clock.Advance(time.Minute)
	// n1's local nonce is stale (n2 sent one): it resyncs on taking the lease back.
	if err := n1.Report(ctx, domain.ReportMachineOffline, key, 0); err != nil {
		t.Fatalf("first node taking the key back: %v", err)
	}
	if got := tc.senderNonces(t); !slices.Equal(got, []uint64{0, 1, 2}) {
		t.Fatalf("nonces = %v", got)
	}
}

func TestStartupErrorsNameTheKeyAndNeverTheSecret(t *testing.T) {
	good, _ := crypto.GenerateKey()
	goodHex := hex.EncodeToString(crypto.FromECDSA(good))
	addr := "0x00000000000000000000000000000000000000a1"
	badABI := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(badABI, []byte(`[{"type":"function","name":"other","inputs":[]}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := "deadbeef" + strings.Repeat("0", 50) + "zz"
	base := func() chain.Options {
		return chain.Options{Endpoints: []*chain.Endpoint{{URL: "http://127.0.0.1:1"}}, ChainID: 1, PrivateKey: goodHex,
			ReportAddress: addr, MachineInfoAddress: addr}
	}
	for _, tt := range []struct {
		mod  func(*chain.Options)
		want string
	}{
		{func(o *chain.Options) { o.PrivateKey = secret }, "config: Chain.PrivateKey:"},
		{func(o *chain.Options) { o.ReportAddress = "0x12" }, "config: Chain.ReportContract.ContractAddress:"},
		{func(o *chain.Options) { o.MachineInfoAddress = "" }, "config: Chain.MachineInfoContract.ContractAddress:"},
		{func(o *chain.Options) { o.ReportABIFile = badABI }, "config: Chain.ReportContract.AbiFile: the ABI has no function report"},
		{func(o *chain.Options) { o.MachineInfoABIFile = "/nonexistent.json" }, "config: Chain.MachineInfoContract.AbiFile:"},
		{func(o *chain.Options) { o.ChainID = 0 }, "config: Chain.ChainId:"},
	} {
		o := base()
		tt.mod(&o)
		_, err := chain.New(o)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("error = %v, want it to start with %q", err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), goodHex) || strings.Contains(err.Error(), "\n") {
			t.Errorf("error leaks the key or spans lines: %v", err)
		}
	}
	if _, err := chain.New(base()); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	o := base() // ABI files that hold the functions (and more) replace the embedded ones
	o.ReportABIFile, o.MachineInfoABIFile = "testdata/TestRegistry.abi", "testdata/TestRegistry.abi"
	if _, err := chain.New(o); err != nil {
		t.Fatalf("ABI override: %v", err)
	}
}

func TestBusySenderKeepsTheNextSlice(t *testing.T) {
	tc := newTestChain(t)
	addr := tc.deploy(t)
	store := memory.NewStore()
	clock := memory.NewClock(time.Date(2026, 11, 24, 12, 0, 25, 0, time.UTC)) // the last third of a 30s slice
	resyncs := map[string]int{}
	node := func(owner string) *chain.Chain {
		return tc.adapter(t, addr, func(o *chain.Options) {
			o.Leases, o.Owner, o.Clock, o.LeaseTTL = store, owner, clock, 30*time.Second
			o.OnResync = func(_, _ string, _ uint64) { resyncs[owner]++ }
		})
	}
	n1, n2 := node("n1"), node("n2")
	if err := n1.Report(ctx, domain.ReportMachineRegister, key, 0); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Second) // the next slice, which n1 claimed while busy
	if err := n2.Report(ctx, domain.ReportMachineOnline, key, 0); !errors.Is(err, chain.ErrLeaseHeld) || !errors.Is(err, domain.ErrNotNow) {
		t.Fatalf("n2 in the slice n1 kept: %v, want ErrLeaseHeld (ErrNotNow)", err)
	}
	if err := n1.Report(ctx, domain.ReportMachineOnline, key, 0); err != nil {
		t.Fatal(err)
	}
	if resyncs["n1"] != 1 {
		t.Fatalf("n1 read its nonce %d times, want once (it held the key throughout)", resyncs["n1"])
	}
}

func TestRevertedTransactionIsAnError(t *testing.T) {
	tc := newTestChain(t)
	addr := tc.deploy(t)
	var results []string
	c := tc.adapter(t, addr, func(o *chain.Options) {
		o.GasLimit = 1_000_000 // skip estimation, which would refuse the call before sending
		o.OnTx = func(method, result string) { results = append(results, method+":"+result) }
	})
	err := c.Report(ctx, domain.ReportType(9), key, 0) // the test contract reverts unknown types
	if err == nil || !strings.Contains(err.Error(), "reverted") {
		t.Fatalf("report(9) = %v, want a reverted transaction", err)
	}
	if err := c.Report(ctx, domain.ReportMachineRegister, key, 0); err != nil {
		t.Fatalf("the next transaction after a revert: %v", err)
	}
	if want := []string{"report:reverted", "report:ok"}; !slices.Equal(results, want) {
		t.Fatalf("observed %v, want %v", results, want)
	}
}

// A transaction not mined within ReceiptTimeout is an error (the outbox
// retries); the sender then reads its nonce again, so the next transaction
// neither collides with nor leaves a gap after the pending one.
func TestReceiptTimeoutThenResync(t *testing.T) {
	tc := newTestChain(t)
	addr := tc.deploy(t)
	var results, reasons []string
	c := tc.adapter(t, addr, func(o *chain.Options) {
		o.ReceiptTimeout = 300 * time.Millisecond
		o.OnTx = func(method, result string) { results = append(results, result) }
		o.OnResync = func(_, why string, _ uint64) { reasons = append(reasons, why) }
	})
	tc.paused.Store(true)
	if err := c.Report(ctx, domain.ReportMachineRegister, key, 0); err == nil || !strings.Contains(err.Error(), "no receipt within") {
		t.Fatalf("report with no block sealed: %v, want a receipt timeout", err)
	}
	tc.paused.Store(false)
	if err := c.Report(ctx, domain.ReportMachineOnline, key, 0); err != nil {
		t.Fatalf("report after the timeout: %v", err)
	}
	if s, err := c.MachineState(ctx, key, 0); err != nil || s != (domain.ChainState{Registered: true, Online: true}) {
		t.Fatalf("state = %+v, %v: both transactions should have landed", s, err)
	}
	if got := tc.senderNonces(t); !slices.Equal(got, []uint64{0, 1}) {
		t.Fatalf("nonces = %v, want 0, 1", got)
	}
	if !slices.Equal(results, []string{"timeout", "ok"}) || !slices.Equal(reasons, []string{"start", "receipt timeout"}) {
		t.Fatalf("results %v, resyncs %q; want a timeout, an ok, and a resync at start and after the timeout", results, reasons)
	}
}

// batchCounter counts the reads per request (chain.Metrics).
type batchCounter struct {
	mu      sync.Mutex
	batches []int
	sent    int // requests sent
}

func (b *batchCounter) RequestsInFlight(d int) {
	if d > 0 {
		b.mu.Lock()
		b.sent++
		b.mu.Unlock()
	}
}
func (b *batchCounter) RequestsWaiting(int) {}
func (b *batchCounter) Refused()            {}
func (b *batchCounter) ReadsQueued(int)     {}
func (b *batchCounter) ReadsInFlight(int)   {}
func (b *batchCounter) ReadsRetried(int)    {}
func (b *batchCounter) ReadBatch(n int)     { b.mu.Lock(); b.batches = append(b.batches, n); b.mu.Unlock() }

// TestConcurrentReadsShareBatchRequests: 300 onlines' reads at once over
// real JSON-RPC, at 5 requests a second: each gets its own machine's
// state, and they cost a handful of batch requests.
func TestConcurrentReadsShareBatchRequests(t *testing.T) {
	tc := newTestChain(t)
	addr := tc.deploy(t)
	m := &batchCounter{}
	c := tc.adapter(t, addr, func(o *chain.Options) {
		// 100 eth_calls on the simulated chain under -race take seconds.
		o.MaxRequestsPerSecond, o.Metrics, o.CallTimeout, o.ReadTimeout = 5, m, 20*time.Second, time.Minute
	})
	registered := key
	registered.MachineID = "registered"
	if err := c.Report(ctx, domain.ReportMachineRegister, registered, 0); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	m.batches = nil
	m.mu.Unlock()
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			k := key
			if i%3 == 0 {
				k = registered
			} else {
				k.MachineID = fmt.Sprintf("unknown-%d", i)
			}
			s, err := c.MachineState(ctx, k, 0)
			if err == nil && s.Registered != (i%3 == 0) {
				err = fmt.Errorf("%s: %+v", k, s)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	total := 0
	for _, b := range m.batches {
		total += b
	}
	if total != n || len(m.batches) > 8 {
		t.Fatalf("%d reads in %d requests %v, want %d reads in a few batches", total, len(m.batches), m.batches, n)
	}
	t.Logf("%d reads in %d requests %v, %s", n, len(m.batches), m.batches, time.Since(start).Round(time.Millisecond))
}

// TestTransactionsKeepTheRateOnAClientEndpoint: on an endpoint that is not
// an http(s) URL (here the simulated chain's own client; a ws:// URL is
// the same), every call of a transaction waits for the endpoint's rate.
func TestTransactionsKeepTheRateOnAClientEndpoint(t *testing.T) {
	tc := newTestChain(t)
	addr := tc.deploy(t)
	m := &batchCounter{}
	c := tc.adapter(t, addr, func(o *chain.Options) {
		o.Endpoints = []*chain.Endpoint{{Client: tc.sim.Client()}}
		o.MaxRequestsPerSecond, o.Metrics = 4, m
	})
	start := time.Now()
	for i := range 2 {
		k := key
		k.MachineID = fmt.Sprintf("rate-%d", i)
		if err := c.Report(ctx, domain.ReportMachineRegister, k, 0); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	m.mu.Lock()
	sent := m.sent
	m.mu.Unlock()
	if sent < 8 {
		t.Fatalf("%d requests counted for two transactions, want each call counted", sent)
	}
	if min := time.Duration(sent-1) * time.Second / 4; elapsed < min {
		t.Fatalf("%d requests in %s at 4/s, want at least %s", sent, elapsed, min)
	}
	t.Logf("two transactions: %d requests in %s", sent, elapsed.Round(time.Millisecond))
}
