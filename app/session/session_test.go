package session_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/app/session"
	"ddn/domain"
	"ddn/ports"
)

var (
	ctx   = context.Background()
	t0    = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	keyA  = domain.MachineKey{MachineID: "123456789", Project: "deeplink"}
	keyB  = domain.MachineKey{MachineID: "987654321", Project: "deeplink", ContainerID: "c1"}
	gpuPC = domain.ShortTermInfo{CPUType: "i5-13400F", CPURate: 2500, GPUNames: []string{"NVIDIA GeForce RTX 4060"},
		GPUMemoryTotal: []int64{8}, MemoryTotal: 16, Wallet: "0xabc"}
)

// storeAppender stores reports directly, so tests need no batcher goroutine.
type storeAppender struct{ store ports.ReportStore }

func (a storeAppender) Append(ctx context.Context, r domain.Report) error {
	if err := a.store.AppendReports(ctx, []domain.Report{r}); err != nil {
		return errors.Join(domain.ErrStore, err)
	}
	return nil
}

type fixture struct {
	store  *memory.Store
	clock  *memory.Clock
	events *memory.Events
	svc    *session.Service
}

func newFixture(t *testing.T, nodeID string) *fixture {
	t.Helper()
	f := &fixture{store: memory.NewStore(), clock: memory.NewClock(t0), events: &memory.Events{}}
	f.svc = f.service(t, nodeID)
	return f
}

// service builds another node over the same store and clock.
func (f *fixture) service(t *testing.T, nodeID string) *session.Service {
	t.Helper()
	return f.serviceOver(t, nodeID, f.store)
}

// serviceOver builds another node over store (a wrapper of the fixture's).
func (f *fixture) serviceOver(t *testing.T, nodeID string, store ports.Store) *session.Service {
	t.Helper()
	svc, err := session.NewService(session.Config{NodeID: nodeID, NodeExpiry: 15 * time.Second, TouchInterval: time.Minute},
		store, storeAppender{store}, f.clock, f.events.Observe)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.RenewLease(ctx); err != nil {
		t.Fatal(err)
	}
	return svc
}

func (f *fixture) machine(t *testing.T, key domain.MachineKey) domain.Machine {
	t.Helper()
	m, err := f.store.GetMachine(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func online(t *testing.T, ss *session.Session, key domain.MachineKey) {
	t.Helper()
	if err := ss.Online(ctx, domain.OnlineRequest{Key: key, StakingType: domain.StakingLongTerm}); err != nil {
		t.Fatalf("online %s: %v", key, err)
	}
}

func TestOnlineClaimsMachineAndMarksItOnline(t *testing.T) {
	f := newFixture(t, "node-a")
	ss := f.svc.Open("203.0.113.7")
	online(t, ss, keyA)

	c, err := f.store.GetConnection(ctx, keyA)
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeID != "node-a" || c.ConnID != ss.ConnID() || c.ClientIP != "203.0.113.7" || !c.AddTime.Equal(t0) {
		t.Fatalf("connection document = %+v", c)
	}
	m := f.machine(t, keyA)
	if m.State != domain.StateOnline || m.NodeID != "node-a" || m.StakingType != domain.StakingLongTerm ||
		!m.LastOnlineTime.Equal(t0) || !m.RegisterTime.Equal(t0) {
		t.Fatalf("machine = %+v", m)
	}
	evs := f.events.All()
	if len(evs) != 1 || evs[0].Kind != domain.EventOnline || evs[0].Key != keyA || evs[0].Previous != domain.StateUnknown {
		t.Fatalf("events = %+v", evs)
	}
	if key, bound := ss.Machine(); !bound || key != keyA {
		t.Fatalf("session bound to %v, %v", key, bound)
	}
}

func TestOnlineRejectsInvalidRequests(t *testing.T) {
	f := newFixture(t, "node-a")
	ss := f.svc.Open("ip")
	for _, req := range []domain.OnlineRequest{
		{Key: domain.MachineKey{Project: "p"}},
		{Key: keyA, StakingType: 7},
	} {
		if err := ss.Online(ctx, req); domain.CodeOf(err) != domain.CodeParameter {
			t.Errorf("online %+v: want code 1, got %v", req, err)
		}
	}
	if _, bound := ss.Machine(); bound {
		t.Fatal("an invalid online bound the session")
	}
}

func TestSecondOnlineOnBoundConnectionIsRefused(t *testing.T) {
	f := newFixture(t, "node-a")
	ss := f.svc.Open("ip")
	online(t, ss, keyA)
	err := ss.Online(ctx, domain.OnlineRequest{Key: keyB})
	if !errors.Is(err, domain.ErrAlreadyBound) || domain.CodeOf(err) != domain.CodeOnline {
		t.Fatalf("want ErrAlreadyBound (code 5), got %v", err)
	}
	if key, _ := ss.Machine(); key != keyA {
		t.Fatalf("session moved to %v", key)
	}
	if _, err := f.store.GetConnection(ctx, keyB); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("second machine was claimed: %v", err)
	}
}

func TestMachineHeldByLiveConnectionIsRefused(t *testing.T) {
	f := newFixture(t, "node-a")
	first := f.svc.Open("ip1")
	online(t, first, keyA)

	// Same node, second connection.
	second := f.svc.Open("ip2")
	if err := second.Online(ctx, domain.OnlineRequest{Key: keyA}); !errors.Is(err, domain.ErrMachineHeld) {
		t.Fatalf("same node: want ErrMachineHeld, got %v", err)
	}
	if _, bound := second.Machine(); bound {
		t.Fatal("refused connection must stay anonymous")
	}
	online(t, second, keyB) // still usable for another machine

	// Another node whose lease is fresh.
	other := f.service(t, "node-b").Open("ip3")
	if err := other.Online(ctx, domain.OnlineRequest{Key: keyA}); !errors.Is(err, domain.ErrMachineHeld) {
		t.Fatalf("other node: want ErrMachineHeld, got %v", err)
	}
	if c, _ := f.store.GetConnection(ctx, keyA); c.ConnID != first.ConnID() {
		t.Fatalf("holder changed to %s", c.ConnID)
	}
}

func TestClaimOfDeadNodeIsTakenOver(t *testing.T) {
	f := newFixture(t, "node-a")
	online(t, f.svc.Open("ip1"), keyA)

	nodeB := f.service(t, "node-b")
	// node-b sees node-a's lease record (a refused online reads it), then
	// node-a stops renewing: its record stays as it was.
	if err := nodeB.Open("ip2").Online(ctx, domain.OnlineRequest{Key: keyA}); !errors.Is(err, domain.ErrMachineHeld) {
		t.Fatalf("live holder: want ErrMachineHeld, got %v", err)
	}
	f.clock.Advance(15 * time.Second) // unchanged for exactly the expiry: still live
	renew(t, nodeB)
	if err := nodeB.Open("ip2").Online(ctx, domain.OnlineRequest{Key: keyA}); !errors.Is(err, domain.ErrMachineHeld) {
		t.Fatalf("at expiry: want ErrMachineHeld, got %v", err)
	}
	f.clock.Advance(time.Millisecond)
	taker := nodeB.Open("ip2")
	online(t, taker, keyA)
	if c, _ := f.store.GetConnection(ctx, keyA); c.NodeID != "node-b" || c.ConnID != taker.ConnID() {
		t.Fatalf("claim not taken over: %+v", c)
	}
	if m := f.machine(t, keyA); m.NodeID != "node-b" || m.State != domain.StateOnline {
		t.Fatalf("machine = %+v", m)
	}
}

func renew(t *testing.T, svcs ...*session.Service) {
	t.Helper()
	for _, s := range svcs {
		if err := s.RenewLease(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestClaimOfVanishedNodeOrClosedLocalConnectionIsTakenOver(t *testing.T) {
	f := newFixture(t, "node-a")
	// Left behind by a node that is gone from the nodes collection.
	if err := f.store.InsertConnection(ctx, domain.Connection{Key: keyA, NodeID: "ghost", ConnID: "ghost-1"}); err != nil {
		t.Fatal(err)
	}
	// Left behind by this node id in an earlier life (the connection is not live here).
	if err := f.store.InsertConnection(ctx, domain.Connection{Key: keyB, NodeID: "node-a", ConnID: "node-a-old-1"}); err != nil {
		t.Fatal(err)
	}
	online(t, f.svc.Open("ip"), keyA)
	online(t, f.svc.Open("ip"), keyB)
}

func TestReportBeforeOnlineIsRefused(t *testing.T) {
	f := newFixture(t, "node-a")
	ss := f.svc.Open("ip")
	if err := ss.ReportShortTerm(ctx, gpuPC); !errors.Is(err, domain.ErrNotOnline) || domain.CodeOf(err) != domain.CodeInvalidInfo {
		t.Fatalf("short-term: want ErrNotOnline (code 6), got %v", err)
	}
	if err := ss.ReportBandwidth(ctx, domain.BandwidthInfo{}); !errors.Is(err, domain.ErrNotOnline) {
		t.Fatalf("bandwidth: want ErrNotOnline, got %v", err)
	}
}

func TestInvalidReportStoresNothing(t *testing.T) {
	f := newFixture(t, "node-a")
	ss := f.svc.Open("ip")
	online(t, ss, keyA)
	bad := gpuPC
	bad.CPURate = 0
	var te *domain.TextError
	if err := ss.ReportShortTerm(ctx, bad); domain.CodeOf(err) != domain.CodeParameter || !errors.As(err, &te) || te.Text != "invalid cpu rate" {
		t.Fatalf("want code 1 \"invalid cpu rate\", got %v", err)
	}
	if rs, _ := f.store.ListReports(ctx, keyA, time.Time{}, time.Time{}, 0); len(rs) != 0 {
		t.Fatalf("invalid report stored: %+v", rs)
	}
}

func TestReportsAppendAndMachineInfoChangesOnlyWithContent(t *testing.T) {
	f := newFixture(t, "node-a")
	ss := f.svc.Open("198.51.100.1")
	online(t, ss, keyA)

	if err := ss.ReportShortTerm(ctx, gpuPC); err != nil {
		t.Fatal(err)
	}
	m := f.machine(t, keyA)
	if m.ShortTerm == nil || m.ShortTerm.ClientIP != "198.51.100.1" || !m.ShortTerm.SameReport(withIP(gpuPC, "198.51.100.1")) || !m.LastReportTime.Equal(t0) {
		t.Fatalf("first report not copied into machine info: %+v", m)
	}

	// Same content 30 s later: time series grows, machine_info untouched.
	f.clock.Advance(30 * time.Second)
	if err := ss.ReportShortTerm(ctx, gpuPC); err != nil {
		t.Fatal(err)
	}
	if m := f.machine(t, keyA); !m.LastReportTime.Equal(t0) {
		t.Fatalf("machine info rewritten for unchanged content: last report %v", m.LastReportTime)
	}
	// A minute after the last write, last_report_time is refreshed.
	f.clock.Advance(30 * time.Second)
	if err := ss.ReportShortTerm(ctx, gpuPC); err != nil {
		t.Fatal(err)
	}
	if m := f.machine(t, keyA); !m.LastReportTime.Equal(t0.Add(time.Minute)) {
		t.Fatalf("last report time not refreshed after a minute: %v", m.LastReportTime)
	}
	// Changed content is written at once.
	f.clock.Advance(time.Second)
	changed := gpuPC
	changed.MemoryTotal = 32
	if err := ss.ReportShortTerm(ctx, changed); err != nil {
		t.Fatal(err)
	}
	if m := f.machine(t, keyA); m.ShortTerm.MemoryTotal != 32 || !m.LastReportTime.Equal(t0.Add(61*time.Second)) {
		t.Fatalf("changed content not written: %+v", m)
	}

	rs, err := f.store.ListReports(ctx, keyA, time.Time{}, time.Time{}, 0)
	if err != nil || len(rs) != 4 {
		t.Fatalf("want 4 reports in the time series, got %d (%v)", len(rs), err)
	}
	if rs[0].ShortTerm.MemoryTotal != 32 || !rs[0].Timestamp.Equal(t0.Add(61*time.Second)) {
		t.Fatalf("newest report = %+v", rs[0])
	}
	if got := f.events.Kinds(); !slices.Equal(got, []domain.EventKind{domain.EventOnline, domain.EventShortTermInfo, domain.EventShortTermInfo}) {
		t.Fatalf("events = %v", got)
	}
}

func TestBandwidthReport(t *testing.T) {
	f := newFixture(t, "node-a")
	ss := f.svc.Open("ip")
	online(t, ss, keyB)
	bw := domain.BandwidthInfo{CPUCores: 1, MemoryTotal: 2, HDD: 50, Bandwidth: 10, Wallet: "0xabc"}
	if err := ss.ReportBandwidth(ctx, bw); err != nil {
		t.Fatal(err)
	}
	if m := f.machine(t, keyB); m.Bandwidth == nil || m.Bandwidth.HDD != 50 || m.Bandwidth.ClientIP != "ip" {
		t.Fatalf("machine = %+v", m)
	}
	if rs, _ := f.store.ListReports(ctx, keyB, time.Time{}, time.Time{}, 0); len(rs) != 1 || rs[0].Bandwidth == nil {
		t.Fatalf("reports = %+v", rs)
	}
}

func TestReconnectWithSameContentDoesNotRewriteMachineInfo(t *testing.T) {
	f := newFixture(t, "node-a")
	ss := f.svc.Open("ip")
	online(t, ss, keyA)
	if err := ss.ReportShortTerm(ctx, gpuPC); err != nil {
		t.Fatal(err)
	}
	if err := ss.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Second)
	again := f.svc.Open("ip")
	online(t, again, keyA)
	if err := again.ReportShortTerm(ctx, gpuPC); err != nil {
		t.Fatal(err)
	}
	want := []domain.EventKind{domain.EventOnline, domain.EventShortTermInfo, domain.EventDisconnected, domain.EventOnline}
	if got := f.events.Kinds(); !slices.Equal(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	if evs := f.events.All(); evs[3].Previous != domain.StateDisconnected {
		t.Fatalf("reconnect previous state = %q", evs[3].Previous)
	}
}

func TestCloseReleasesClaimAndMarksDisconnected(t *testing.T) {
	f := newFixture(t, "node-a")
	ss := f.svc.Open("ip")
	online(t, ss, keyA)
	f.clock.Advance(5 * time.Second)
	if err := ss.ReportShortTerm(ctx, gpuPC); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(20 * time.Second) // unchanged content within the minute: only disconnect writes the time
	if err := ss.ReportShortTerm(ctx, gpuPC); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	if err := ss.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.GetConnection(ctx, keyA); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("claim not released: %v", err)
	}
	m := f.machine(t, keyA)
	if m.State != domain.StateDisconnected || !m.LastDisconnectTime.Equal(t0.Add(26*time.Second)) || !m.LastReportTime.Equal(t0.Add(25*time.Second)) {
		t.Fatalf("machine = %+v", m)
	}
	if f.svc.Live() != 0 {
		t.Fatalf("live sessions = %d", f.svc.Live())
	}
	if got := f.events.Kinds(); got[len(got)-1] != domain.EventDisconnected {
		t.Fatalf("events = %v", got)
	}
}

func TestCloseAfterTakeoverLeavesNewHolderAlone(t *testing.T) {
	f := newFixture(t, "node-a")
	old := f.svc.Open("ip")
	online(t, old, keyA)
	nodeB := f.service(t, "node-b")
	if _, err := nodeB.ClusterNodes(ctx); err != nil { // node-b sees node-a's lease
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute) // node-a's lease expires
	renew(t, nodeB)
	online(t, nodeB.Open("ip"), keyA)
	if err := old.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err := f.store.GetConnection(ctx, keyA); err != nil || c.NodeID != "node-b" {
		t.Fatalf("new holder lost its claim: %+v, %v", c, err)
	}
	if m := f.machine(t, keyA); m.State != domain.StateOnline {
		t.Fatalf("machine state = %q, want online", m.State)
	}
}

func TestStoreDownAnswersDatabaseErrorAndRecovers(t *testing.T) {
	f := newFixture(t, "node-a")
	ss := f.svc.Open("ip")
	f.store.FailWith(errors.New("connection refused"))
	if err := ss.Online(ctx, domain.OnlineRequest{Key: keyA}); domain.CodeOf(err) != domain.CodeDatabase {
		t.Fatalf("online with store down: want code 4, got %v", err)
	}
	if _, bound := ss.Machine(); bound {
		t.Fatal("bound although the store failed")
	}
	f.store.FailWith(nil)
	online(t, ss, keyA)
	f.store.FailWith(errors.New("connection refused"))
	if err := ss.ReportShortTerm(ctx, gpuPC); domain.CodeOf(err) != domain.CodeDatabase {
		t.Fatalf("report with store down: want code 4, got %v", err)
	}
	f.store.FailWith(nil)
	if err := ss.ReportShortTerm(ctx, gpuPC); err != nil {
		t.Fatalf("report after recovery: %v", err)
	}
	if rs, _ := f.store.ListReports(ctx, keyA, time.Time{}, time.Time{}, 0); len(rs) != 1 {
		t.Fatalf("want exactly the acknowledged report stored, got %d", len(rs))
	}
}

func TestLeaseRenewAndRelease(t *testing.T) {
	f := newFixture(t, "node-a")
	f.clock.Advance(3 * time.Second)
	if err := f.svc.RenewLease(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := f.store.GetNode(ctx, "node-a")
	if err != nil || !n.HeartbeatAt.Equal(t0.Add(3*time.Second)) || !n.StartedAt.Equal(t0) {
		t.Fatalf("node = %+v, %v", n, err)
	}
	if err := f.svc.ReleaseLease(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.GetNode(ctx, "node-a"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("lease not released: %v", err)
	}
}

func withIP(i domain.ShortTermInfo, ip string) domain.ShortTermInfo {
	i.ClientIP = ip
	return i
}

func TestClusterNodes(t *testing.T) {
	f := newFixture(t, "node-a")
	nodeB := f.service(t, "node-b")
	online(t, f.svc.Open("ip"), keyA)
	online(t, nodeB.Open("ip"), keyB)
	if _, err := f.svc.ClusterNodes(ctx); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(16 * time.Second) // node-b stops renewing
	if err := f.svc.RenewLease(ctx); err != nil {
		t.Fatal(err)
	}
	nodes, err := f.svc.ClusterNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].ID != "node-a" || !nodes[0].Alive || nodes[0].Connections != 1 ||
		nodes[1].ID != "node-b" || nodes[1].Alive || nodes[1].Connections != 1 {
		t.Fatalf("nodes = %+v", nodes)
	}
}
