package chainreport_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/app/chainreport"
	"ddn/app/outbox"
	"ddn/app/session"
	"ddn/domain"
	"ddn/ports"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	key = domain.MachineKey{MachineID: "m-1", Project: "deeplink", ContainerID: "c-1"}
	gpu = domain.ShortTermInfo{CPUType: "i5-13400F", CPURate: 2500, GPUNames: []string{"NVIDIA GeForce RTX 4060", "NVIDIA GeForce RTX 3060"},
		GPUMemoryTotal: []int64{8, 12}, MemoryTotal: 16, Wallet: "0xabc", CalcPoint: 52.19, Longitude: 116.39, Latitude: -39.9, Region: "North China"}
	bw = domain.BandwidthInfo{CPUCores: 4, MemoryTotal: 8, HDD: 500, Bandwidth: 100, Wallet: "0xdef", Region: "Texas"}
)

func methods(calls []memory.ChainCall) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.Method
		if c.Method == "report" {
			out[i] += string(rune('0' + c.Type))
		}
	}
	return out
}

func TestOnlineAndOfflineFollowTheChainState(t *testing.T) {
	chain := memory.NewChain()
	d := chainreport.New(chain)
	on := domain.Event{Kind: domain.EventOnline, Key: key, StakingType: domain.StakingLongTerm}
	off := on
	off.Kind = domain.EventOffline

	// Not registered: nothing to report (settled, the webhook is not called).
	if err := d.Deliver(ctx, on); !errors.Is(err, domain.ErrNoEffect) {
		t.Fatalf("online of an unregistered machine: %v, want ErrNoEffect", err)
	}
	if got := chain.Calls(); len(got) != 0 {
		t.Fatalf("calls for an unregistered machine = %v", methods(got))
	}
	if err := chain.Report(ctx, domain.ReportMachineRegister, key, domain.StakingLongTerm); err != nil {
		t.Fatal(err)
	}
	for _, e := range []domain.Event{off, on, on, off, off} {
		if err := settled(d.Deliver(ctx, e)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"report1", "report3", "report4"}
	if got := methods(chain.Calls()); !slices.Equal(got, want) {
		t.Fatalf("calls = %v, want %v (a repeated online or offline is not re-reported)", got, want)
	}
	c := chain.Calls()[1]
	if c.Key != key || c.StakingType != domain.StakingLongTerm {
		t.Fatalf("online call = %+v", c)
	}
}

func TestUnreachableChainIsAChainErrorToRetry(t *testing.T) {
	chain := memory.NewChain()
	chain.FailWith(errors.New("dial tcp: connection refused"))
	err := chainreport.New(chain).Deliver(ctx, domain.Event{Kind: domain.EventOnline, Key: key})
	if !errors.Is(err, domain.ErrChain) {
		t.Fatalf("err = %v, want a chain error", err)
	}
}

func TestInfosMapOntoTheContractTuples(t *testing.T) {
	chain := memory.NewChain()
	d := chainreport.New(chain)
	g, b := gpu, bw
	if err := d.Deliver(ctx, domain.Event{Kind: domain.EventShortTermInfo, Key: key, ShortTerm: &g}); err != nil {
		t.Fatal(err)
	}
	if err := d.Deliver(ctx, domain.Event{Kind: domain.EventBandwidthInfo, Key: key, Bandwidth: &b}); err != nil {
		t.Fatal(err)
	}
	calls := chain.Calls()
	if len(calls) != 2 || calls[0].MachineID != "m-1" || calls[1].MachineID != "m-1" {
		t.Fatalf("calls = %+v", calls)
	}
	wantInfo := domain.ChainMachineInfo{MachineOwner: "0xabc", CalcPoint: 521900, CPURate: 2500, GPUType: "NVIDIA GeForce RTX 4060",
		GPUMem: 8, CPUType: "i5-13400F", GPUCount: 2, MachineID: "c-1", Longitude: "116.389999", Latitude: "-39.900002", MachineMem: 16, Region: "North China"}
	if *calls[0].Info != wantInfo {
		t.Fatalf("machine info = %+v\nwant %+v", *calls[0].Info, wantInfo)
	}
	wantBW := domain.ChainBandwidthInfo{MachineOwner: "0xdef", MachineID: "c-1", CPUCores: 4, MachineMem: 8, Region: "Texas", HDD: 500, Bandwidth: 100}
	if *calls[1].Bandwidth != wantBW {
		t.Fatalf("bandwidth info = %+v\nwant %+v", *calls[1].Bandwidth, wantBW)
	}
}

// node is one session service with the outbox and the chain target wired as
// cmd/ddn wires them, over fakes.
type node struct {
	store *memory.Store
	clock *memory.Clock
	chain *memory.Chain
	ob    *outbox.Outbox
	svc   *session.Service
}

func newNode(t *testing.T) *node {
	t.Helper()
	n := &node{store: memory.NewStore(), clock: memory.NewClock(t0), chain: memory.NewChain()}
	n.ob = outbox.New(outbox.Config{NodeID: "n1", Targets: []string{chainreport.Target}}, n.store, n.clock,
		map[string]ports.Deliverer{chainreport.Target: chainreport.New(n.chain)})
	svc, err := session.NewService(session.Config{NodeID: "n1", Effects: n.ob, Registry: n.chain},
		n.store, appender{n.store}, n.clock, new(memory.Events).Observe)
	if err != nil {
		t.Fatal(err)
	}
	n.svc = svc
	if err := svc.RenewLease(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

type appender struct{ s *memory.Store }

func (a appender) Append(ctx context.Context, r domain.Report) error {
	return a.s.AppendReports(ctx, []domain.Report{r})
}

func (n *node) dispatch(t *testing.T) {
	t.Helper()
	if _, err := n.ob.Dispatch(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestOnlineNeedsRegistrationWhenAChainIsConfigured(t *testing.T) {
	n := newNode(t)
	req := domain.OnlineRequest{Key: key, StakingType: domain.StakingShortTerm}
	err := n.svc.Open("203.0.113.1").Online(ctx, req)
	if domain.CodeOf(err) != domain.CodeOnline || !errors.Is(err, domain.ErrNotRegistered) {
		t.Fatalf("online of an unregistered machine: %v (code %d), want code 5 not registered", err, domain.CodeOf(err))
	}
	if _, err := n.store.GetConnection(ctx, key); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("an unregistered machine left a claim: %v", err)
	}
	n.chain.FailWith(errors.New("connection refused"))
	if err := n.svc.Open("203.0.113.1").Online(ctx, req); domain.CodeOf(err) != domain.CodeChain {
		t.Fatalf("online with the chain down: %v (code %d), want code 7", err, domain.CodeOf(err))
	}
	n.chain.FailWith(nil)
	if err := n.chain.Report(ctx, domain.ReportMachineRegister, key, domain.StakingShortTerm); err != nil {
		t.Fatal(err)
	}
	if err := n.svc.Open("203.0.113.1").Online(ctx, req); err != nil {
		t.Fatalf("online of a registered machine: %v", err)
	}
}

func TestFirstInfosAndPresenceReachTheChainThroughTheOutbox(t *testing.T) {
	n := newNode(t)
	if err := n.chain.Report(ctx, domain.ReportMachineRegister, key, domain.StakingShortTerm); err != nil {
		t.Fatal(err)
	}
	ss := n.svc.Open("203.0.113.1")
	if err := ss.Online(ctx, domain.OnlineRequest{Key: key, StakingType: domain.StakingShortTerm}); err != nil {
		t.Fatal(err)
	}
	// The chain is down when the first reports arrive: they are acknowledged
	// and wait in the outbox.
	n.chain.FailWith(errors.New("connection refused"))
	if err := ss.ReportShortTerm(ctx, gpu); err != nil {
		t.Fatal(err)
	}
	changed := gpu
	changed.MemoryTotal = 32
	n.clock.Advance(time.Second)
	if err := ss.ReportShortTerm(ctx, changed); err != nil {
		t.Fatal(err)
	}
	n.clock.Advance(time.Second)
	if err := ss.ReportBandwidth(ctx, bw); err != nil {
		t.Fatal(err)
	}
	n.dispatch(t)
	if got := n.chain.Calls(); len(got) != 1 {
		t.Fatalf("calls while the chain is down = %v", methods(got))
	}
	n.chain.FailWith(nil)
	for range 5 {
		n.clock.Advance(time.Minute)
		n.dispatch(t)
	}
	want := []string{"report1", "report3", "setMachineInfo", "setBandWidthInfos"}
	if got := methods(n.chain.Calls()); !slices.Equal(got, want) {
		t.Fatalf("calls = %v, want %v (only the first info of each kind)", got, want)
	}
	if got := n.chain.Calls()[2].Info.MachineMem; got != 16 {
		t.Fatalf("machine info memory = %d, want the first report's 16", got)
	}
	// A reconnect carries the stored content: no second machine info.
	if err := ss.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.svc.RenewLease(ctx); err != nil { // five minutes passed: a live node renewed meanwhile
		t.Fatal(err)
	}
	ss = n.svc.Open("203.0.113.1")
	if err := ss.Online(ctx, domain.OnlineRequest{Key: key, StakingType: domain.StakingShortTerm}); err != nil {
		t.Fatal(err)
	}
	changed.MemoryTotal = 64
	if err := ss.ReportShortTerm(ctx, changed); err != nil {
		t.Fatal(err)
	}
	n.clock.Advance(time.Minute)
	n.dispatch(t)
	if got := methods(n.chain.Calls()); !slices.Equal(got, want) {
		t.Fatalf("calls after reconnect = %v, want %v", got, want)
	}
}

func TestNoChainEveryMachineIsRegistered(t *testing.T) {
	store := memory.NewStore()
	svc, err := session.NewService(session.Config{NodeID: "n1"}, store, appender{store}, memory.NewClock(t0), new(memory.Events).Observe)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Open("").Online(ctx, domain.OnlineRequest{Key: key}); err != nil {
		t.Fatalf("online without a chain: %v", err)
	}
}

func TestLatePresenceReportsAreSkipped(t *testing.T) {
	store, chain := memory.NewStore(), memory.NewChain()
	d := chainreport.New(chain).WithMachines(store)
	if err := chain.Report(ctx, domain.ReportMachineRegister, key, 0); err != nil {
		t.Fatal(err)
	}
	onAt := t0
	if _, _, err := store.MarkOnline(ctx, key, 0, "n1", onAt); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkDisconnected(ctx, key, t0.Add(time.Minute), time.Time{}); err != nil {
		t.Fatal(err)
	}
	offAt := t0.Add(6 * time.Minute)
	if ok, err := store.MarkOffline(ctx, key, t0.Add(time.Minute), offAt); err != nil || !ok {
		t.Fatal(ok, err)
	}
	// The online's delivery failed and comes after the offline: stale.
	if err := settled(d.Deliver(ctx, domain.Event{Kind: domain.EventOffline, Key: key, At: offAt})); err != nil {
		t.Fatal(err)
	}
	if err := settled(d.Deliver(ctx, domain.Event{Kind: domain.EventOnline, Key: key, At: onAt})); err != nil {
		t.Fatal(err)
	}
	if got := methods(chain.Calls()); !slices.Equal(got, []string{"report1"}) {
		t.Fatalf("calls = %v, want only the register (the late online is stale)", got)
	}
	// Back online later: the offline of before is stale, the new online is not.
	backAt := t0.Add(10 * time.Minute)
	if _, _, err := store.MarkOnline(ctx, key, 0, "n1", backAt); err != nil {
		t.Fatal(err)
	}
	for _, e := range []domain.Event{{Kind: domain.EventOnline, Key: key, At: backAt}, {Kind: domain.EventOffline, Key: key, At: offAt}} {
		if err := settled(d.Deliver(ctx, e)); err != nil {
			t.Fatal(err)
		}
	}
	if got := methods(chain.Calls()); !slices.Equal(got, []string{"report1", "report3"}) {
		t.Fatalf("calls = %v, want register and the new online", got)
	}
}

// A machine that reconnects within the grace period makes no presence
// transition, but if the chain does not show it online (an operator's
// offline, a lost report) the online request still reports it online.
func TestReconnectCatchesTheChainUp(t *testing.T) {
	n := newNode(t)
	if err := n.chain.Report(ctx, domain.ReportMachineRegister, key, 0); err != nil {
		t.Fatal(err)
	}
	ss := n.svc.Open("")
	if err := ss.Online(ctx, domain.OnlineRequest{Key: key}); err != nil {
		t.Fatal(err)
	}
	n.dispatch(t)
	if err := ss.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The chain forgets the online (an operator's offline command).
	if err := n.chain.Report(ctx, domain.ReportMachineOffline, key, 0); err != nil {
		t.Fatal(err)
	}
	n.clock.Advance(time.Second)
	ss = n.svc.Open("")
	if err := ss.Online(ctx, domain.OnlineRequest{Key: key}); err != nil {
		t.Fatal(err)
	}
	n.clock.Advance(time.Second)
	n.dispatch(t)
	if got, want := methods(n.chain.Calls()), []string{"report1", "report3", "report4", "report3"}; !slices.Equal(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
	// A reconnect while the chain shows it online queues nothing.
	if err := ss.Close(ctx); err != nil {
		t.Fatal(err)
	}
	n.clock.Advance(time.Second)
	if err := n.svc.Open("").Online(ctx, domain.OnlineRequest{Key: key}); err != nil {
		t.Fatal(err)
	}
	n.dispatch(t)
	if got := len(n.chain.Calls()); got != 4 {
		t.Fatalf("calls after a plain reconnect = %v", methods(n.chain.Calls()))
	}
}

// settled treats "nothing to do" as done, as the outbox does.
func settled(err error) error {
	if errors.Is(err, domain.ErrNoEffect) {
		return nil
	}
	return err
}
