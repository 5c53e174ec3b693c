// Package storetest is the contract every ports.Store must honour. It runs
// against the in-memory fake and against the Mongo adapter (on the embedded
// store, and on a real MongoDB when one is configured), so they cannot drift.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"ddn/domain"
	"ddn/ports"
)

var (
	t0   = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	keyA = domain.MachineKey{MachineID: "m-a", Project: "deeplink"}
	keyB = domain.MachineKey{MachineID: "m-b", Project: "deeplink", ContainerID: "c-1"}
	keyC = domain.MachineKey{MachineID: "m-a", Project: "other"}
	gpu  = domain.ShortTermInfo{GPUNames: []string{"NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090"}, GPUMemoryTotal: []int64{24, 24},
		MemoryTotal: 64, CPUType: "AMD Ryzen 9 7950X", CPURate: 4500, Wallet: "0xabc", ClientIP: "203.0.113.9",
		CalcPoint: 1234.56, Longitude: 116.4, Latitude: 39.9, Region: "North China"}
	bw = domain.BandwidthInfo{CPUCores: 4, MemoryTotal: 8, HDD: 500, Bandwidth: 100.5, Wallet: "0xdef", ClientIP: "198.51.100.2", Region: "Texas"}
)

// Run runs the contract; open returns a fresh, empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) ports.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, ports.Store)
	}{
		{"ConnectionClaimIsUnique", connectionClaimIsUnique},
		{"ConnectionDeleteNeedsHolder", connectionDeleteNeedsHolder},
		{"ConnectionsListedByNode", connectionsListedByNode},
		{"ConcurrentClaimsHaveOneWinner", concurrentClaimsHaveOneWinner},
		{"NodesLeases", nodesLeases},
		{"MarkOnlineUpsertsAndReturnsPrevious", markOnlineUpsertsAndReturnsPrevious},
		{"MarkDisconnected", markDisconnected},
		{"TouchLastReportsRaisesKnownMachinesOnly", touchLastReports},
		{"MachineRecreatedAfterDelete", machineRecreatedAfterDelete},
		{"ConnectionDeleteNeedsItsKey", connectionDeleteNeedsItsKey},
		{"MarkDisconnectedByOnlyTheHoldingNode", markDisconnectedBy},
		{"MarkOfflineIsConditional", markOfflineIsConditional},
		{"ConcurrentOfflineHasOneWinner", concurrentOfflineHasOneWinner},
		{"InfosRoundTrip", infosRoundTrip},
		{"LocationRoundTrip", locationRoundTrip},
		{"ListMachinesFiltersAndOrders", listMachinesFiltersAndOrders},
		{"ReportsRoundTripNewestFirst", reportsRoundTripNewestFirst},
		{"PruneReports", pruneReports},
		{"OutboxRoundTrip", outboxRoundTrip},
		{"OutboxDueAndCounts", outboxDueAndCounts},
		{"OutboxClaimHasOneWinner", outboxClaimHasOneWinner},
		{"MailboxDeliversOnceToItsNode", mailboxDeliversOnce},
		{"PruneOutboxAndCommands", pruneOutboxAndCommands},
		{"LeaseHasOneHolder", leaseHasOneHolder},
		{"LegacyMachinesClassifiedOnce", legacyMachinesClassifiedOnce},
		{"LegacyClaimReleased", legacyClaimReleased},
		{"Ping", func(t *testing.T, s ports.Store) { must(t, s.Ping(context.Background())) }},
	}
	tests = append(tests, queryTests...)
	tests = append(tests, presenceTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

var ctx = context.Background()

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond))
}

func conn(key domain.MachineKey, node, id string) domain.Connection {
	return domain.Connection{Key: key, NodeID: node, ConnID: id, ClientIP: "192.0.2.1", AddTime: t0}
}

func connectionClaimIsUnique(t *testing.T, s ports.Store) {
	must(t, s.InsertConnection(ctx, conn(keyA, "n1", "c1")))
	if err := s.InsertConnection(ctx, conn(keyA, "n2", "c2")); !errors.Is(err, domain.ErrMachineHeld) {
		t.Fatalf("second claim: want ErrMachineHeld, got %v", err)
	}
	// Another container or project is another machine.
	must(t, s.InsertConnection(ctx, conn(domain.MachineKey{MachineID: "m-a", Project: "deeplink", ContainerID: "x"}, "n2", "c3")))
	must(t, s.InsertConnection(ctx, conn(keyC, "n2", "c4")))
	got, err := s.GetConnection(ctx, keyA)
	must(t, err)
	want := conn(keyA, "n1", "c1")
	if got.Key != want.Key || got.NodeID != "n1" || got.ConnID != "c1" || got.ClientIP != want.ClientIP || !sameTime(got.AddTime, t0) {
		t.Fatalf("GetConnection = %+v, want %+v", got, want)
	}
	if _, err := s.GetConnection(ctx, keyB); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unknown connection: want ErrNotFound, got %v", err)
	}
}

func connectionDeleteNeedsHolder(t *testing.T, s ports.Store) {
	must(t, s.InsertConnection(ctx, conn(keyA, "n1", "c1")))
	deleted, err := s.DeleteConnection(ctx, keyA, "someone-else")
	must(t, err)
	if deleted {
		t.Fatal("deleted a claim held by another connection")
	}
	deleted, err = s.DeleteConnection(ctx, keyA, "c1")
	must(t, err)
	if !deleted {
		t.Fatal("holder could not delete its claim")
	}
	if deleted, _ := s.DeleteConnection(ctx, keyA, "c1"); deleted {
		t.Fatal("deleted twice")
	}
	must(t, s.InsertConnection(ctx, conn(keyA, "n2", "c2"))) // free again
}

func connectionsListedByNode(t *testing.T, s ports.Store) {
	must(t, s.InsertConnection(ctx, conn(keyB, "n1", "c1")))
	must(t, s.InsertConnection(ctx, conn(keyA, "n1", "c2")))
	must(t, s.InsertConnection(ctx, conn(keyC, "n2", "c3")))
	ids := func(cs []domain.Connection) []string {
		out := []string{}
		for _, c := range cs {
			out = append(out, c.ConnID)
		}
		return out
	}
	n1, err := s.ListConnections(ctx, "n1")
	must(t, err)
	if got := ids(n1); !slices.Equal(got, []string{"c2", "c1"}) { // ordered by key: m-a before m-b
		t.Fatalf("node n1 connections = %v", got)
	}
	all, err := s.ListConnections(ctx, "")
	must(t, err)
	if got := ids(all); !slices.Equal(got, []string{"c2", "c1", "c3"}) {
		t.Fatalf("all connections = %v", got)
	}
}

// winners runs try n times at once and counts the calls that won; an error
// fails the test.
func winners(t *testing.T, n int, try func(i int) (bool, error)) int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range n {
		wg.Go(func() {
			won, err := try(i)
			if err != nil {
				t.Errorf("call %d: %v", i, err)
			}
			if won {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return wins
}

func concurrentClaimsHaveOneWinner(t *testing.T, s ports.Store) {
	wins := winners(t, 20, func(i int) (bool, error) {
		err := s.InsertConnection(ctx, conn(keyA, "n", fmt.Sprint(i)))
		if errors.Is(err, domain.ErrMachineHeld) {
			return false, nil
		}
		return err == nil, err
	})
	if wins != 1 {
		t.Fatalf("%d of 20 concurrent claims won, want 1", wins)
	}
}

func nodesLeases(t *testing.T, s ports.Store) {
	n := domain.Node{ID: "n1", Addr: "127.0.0.1:9521", Version: "v1", StartedAt: t0, HeartbeatAt: t0, BootID: "b1", Seq: 1}
	must(t, s.UpsertNode(ctx, n))
	n.HeartbeatAt, n.Seq = t0.Add(5*time.Second), 1<<40
	must(t, s.UpsertNode(ctx, n))
	must(t, s.UpsertNode(ctx, domain.Node{ID: "n0", StartedAt: t0, HeartbeatAt: t0}))
	got, err := s.GetNode(ctx, "n1")
	must(t, err)
	if got.ID != "n1" || got.Addr != n.Addr || got.Version != "v1" || !sameTime(got.StartedAt, t0) || !sameTime(got.HeartbeatAt, n.HeartbeatAt) ||
		got.BootID != "b1" || got.Seq != 1<<40 {
		t.Fatalf("GetNode = %+v", got)
	}
	all, err := s.ListNodes(ctx)
	must(t, err)
	if len(all) != 2 || all[0].ID != "n0" || all[1].ID != "n1" {
		t.Fatalf("ListNodes = %+v", all)
	}
	must(t, s.DeleteNode(ctx, "n1"))
	if _, err := s.GetNode(ctx, "n1"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("deleted node: want ErrNotFound, got %v", err)
	}
}

func markOnlineUpsertsAndReturnsPrevious(t *testing.T, s ports.Store) {
	prev, found, err := s.MarkOnline(ctx, keyA, domain.StakingLongTerm, "n1", t0)
	must(t, err)
	if found || prev.State != domain.StateUnknown {
		t.Fatalf("first online: found=%v prev=%+v", found, prev)
	}
	m, err := s.GetMachine(ctx, keyA)
	must(t, err)
	if m.Key != keyA || m.State != domain.StateOnline || m.NodeID != "n1" || m.StakingType != domain.StakingLongTerm ||
		!sameTime(m.RegisterTime, t0) || !sameTime(m.LastOnlineTime, t0) {
		t.Fatalf("after first online: %+v", m)
	}
	must(t, s.MarkDisconnected(ctx, keyA, t0.Add(time.Minute), time.Time{}))
	later := t0.Add(2 * time.Minute)
	prev, found, err = s.MarkOnline(ctx, keyA, domain.StakingFree, "n2", later)
	must(t, err)
	if !found || prev.State != domain.StateDisconnected || prev.NodeID != "n1" {
		t.Fatalf("second online: found=%v prev=%+v", found, prev)
	}
	m, err = s.GetMachine(ctx, keyA)
	must(t, err)
	if !sameTime(m.RegisterTime, t0) || !sameTime(m.LastOnlineTime, later) || m.NodeID != "n2" || m.StakingType != domain.StakingFree {
		t.Fatalf("register time must stay, the rest move: %+v", m)
	}
	if _, err := s.GetMachine(ctx, keyB); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unknown machine: want ErrNotFound, got %v", err)
	}
}

func markDisconnected(t *testing.T, s ports.Store) {
	_, _, err := s.MarkOnline(ctx, keyA, 0, "n1", t0)
	must(t, err)
	must(t, s.TouchLastReports(ctx, []domain.MachineKey{keyA}, t0.Add(time.Second)))
	must(t, s.MarkDisconnected(ctx, keyA, t0.Add(time.Minute), time.Time{}))
	m, err := s.GetMachine(ctx, keyA)
	must(t, err)
	if m.State != domain.StateDisconnected || !sameTime(m.LastDisconnectTime, t0.Add(time.Minute)) || !sameTime(m.LastReportTime, t0.Add(time.Second)) {
		t.Fatalf("zero last report must leave last_report_time alone: %+v", m)
	}
	must(t, s.MarkDisconnected(ctx, keyA, t0.Add(2*time.Minute), t0.Add(90*time.Second)))
	m, err = s.GetMachine(ctx, keyA)
	must(t, err)
	if !sameTime(m.LastReportTime, t0.Add(90*time.Second)) || !sameTime(m.LastDisconnectTime, t0.Add(2*time.Minute)) {
		t.Fatalf("after disconnect with last report: %+v", m)
	}
}

func infosRoundTrip(t *testing.T, s ports.Store) {
	_, _, err := s.MarkOnline(ctx, keyA, 0, "n1", t0)
	must(t, err)
	must(t, s.SetShortTermInfo(ctx, keyA, gpu, t0.Add(time.Second)))
	must(t, s.SetBandwidthInfo(ctx, keyA, bw, t0.Add(2*time.Second)))
	m, err := s.GetMachine(ctx, keyA)
	must(t, err)
	if m.ShortTerm == nil || !equalShortTerm(*m.ShortTerm, gpu) {
		t.Fatalf("short-term info = %+v, want %+v", m.ShortTerm, gpu)
	}
	if m.Bandwidth == nil || *m.Bandwidth != bw {
		t.Fatalf("bandwidth info = %+v, want %+v", m.Bandwidth, bw)
	}
	if !sameTime(m.LastReportTime, t0.Add(2*time.Second)) || m.State != domain.StateOnline {
		t.Fatalf("machine = %+v", m)
	}
	changed := gpu
	changed.GPUNames, changed.GPUMemoryTotal = []string{"NVIDIA H100"}, []int64{80}
	must(t, s.SetShortTermInfo(ctx, keyA, changed, t0.Add(3*time.Second)))
	m, err = s.GetMachine(ctx, keyA)
	must(t, err)
	if !equalShortTerm(*m.ShortTerm, changed) {
		t.Fatalf("short-term info not replaced: %+v", m.ShortTerm)
	}
}

func equalShortTerm(a, b domain.ShortTermInfo) bool {
	return a.SameReport(b) && a.CalcPoint == b.CalcPoint && a.Longitude == b.Longitude && a.Latitude == b.Latitude && a.Region == b.Region
}

func listMachinesFiltersAndOrders(t *testing.T, s ports.Store) {
	for _, k := range []domain.MachineKey{keyC, keyB, keyA} {
		_, _, err := s.MarkOnline(ctx, k, 0, "n1", t0)
		must(t, err)
	}
	must(t, s.MarkDisconnected(ctx, keyB, t0, time.Time{}))
	keys := func(ms []domain.Machine) []domain.MachineKey {
		out := []domain.MachineKey{}
		for _, m := range ms {
			out = append(out, m.Key)
		}
		return out
	}
	for _, tt := range []struct {
		f    domain.MachineFilter
		want []domain.MachineKey
	}{
		{domain.MachineFilter{}, []domain.MachineKey{keyA, keyB, keyC}},
		{domain.MachineFilter{Project: "deeplink"}, []domain.MachineKey{keyA, keyB}},
		{domain.MachineFilter{State: domain.StateOnline}, []domain.MachineKey{keyA, keyC}},
		{domain.MachineFilter{Project: "deeplink", State: domain.StateDisconnected}, []domain.MachineKey{keyB}},
		{domain.MachineFilter{Limit: 2}, []domain.MachineKey{keyA, keyB}},
		{domain.MachineFilter{Project: "none"}, []domain.MachineKey{}},
	} {
		ms, err := s.ListMachines(ctx, tt.f)
		must(t, err)
		if got := keys(ms); !slices.Equal(got, tt.want) {
			t.Errorf("ListMachines(%+v) = %v, want %v", tt.f, got, tt.want)
		}
	}
}

func reportsRoundTripNewestFirst(t *testing.T, s ports.Store) {
	var batch []domain.Report
	for i := range 5 {
		g, b := gpu, bw
		g.CPURate = int64(1000 + i)
		batch = append(batch, domain.Report{Key: keyA, Timestamp: t0.Add(time.Duration(i) * time.Minute), ShortTerm: &g})
		batch = append(batch, domain.Report{Key: keyB, Timestamp: t0.Add(time.Duration(i) * time.Minute), Bandwidth: &b})
	}
	must(t, s.AppendReports(ctx, batch))
	must(t, s.AppendReports(ctx, nil))

	all, err := s.ListReports(ctx, keyA, time.Time{}, time.Time{}, 0)
	must(t, err)
	if len(all) != 5 {
		t.Fatalf("want 5 reports of %s, got %d", keyA, len(all))
	}
	for i, r := range all {
		wantRate := int64(1004 - i)
		if r.Key != keyA || r.Bandwidth != nil || r.ShortTerm == nil || r.ShortTerm.CPURate != wantRate ||
			!sameTime(r.Timestamp, t0.Add(time.Duration(4-i)*time.Minute)) {
			t.Fatalf("report %d = %+v (short-term %+v)", i, r, r.ShortTerm)
		}
	}
	g := *all[0].ShortTerm
	g.CPURate = gpu.CPURate
	if !equalShortTerm(g, gpu) {
		t.Fatalf("short-term body did not round-trip: %+v", all[0].ShortTerm)
	}
	window, err := s.ListReports(ctx, keyA, t0.Add(time.Minute), t0.Add(3*time.Minute), 0)
	must(t, err)
	if len(window) != 2 || !sameTime(window[0].Timestamp, t0.Add(2*time.Minute)) || !sameTime(window[1].Timestamp, t0.Add(time.Minute)) {
		t.Fatalf("window [1m,3m) = %+v", window)
	}
	limited, err := s.ListReports(ctx, keyB, time.Time{}, time.Time{}, 2)
	must(t, err)
	if len(limited) != 2 || limited[0].Bandwidth == nil || *limited[0].Bandwidth != bw || !sameTime(limited[0].Timestamp, t0.Add(4*time.Minute)) {
		t.Fatalf("limit 2 of %s = %+v", keyB, limited)
	}
	none, err := s.ListReports(ctx, keyC, time.Time{}, time.Time{}, 0)
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("reports of a machine that never reported: %+v", none)
	}
}

func pruneReports(t *testing.T, s ports.Store) {
	var batch []domain.Report
	for i := range 4 {
		b := bw
		batch = append(batch, domain.Report{Key: keyB, Timestamp: t0.Add(time.Duration(i) * time.Hour), Bandwidth: &b})
	}
	must(t, s.AppendReports(ctx, batch))
	n, err := s.PruneReports(ctx, t0.Add(2*time.Hour))
	must(t, err)
	if n != 2 {
		t.Fatalf("pruned %d, want 2", n)
	}
	left, err := s.ListReports(ctx, keyB, time.Time{}, time.Time{}, 0)
	must(t, err)
	if len(left) != 2 || !sameTime(left[1].Timestamp, t0.Add(2*time.Hour)) {
		t.Fatalf("left after prune = %+v", left)
	}
}

func markDisconnectedBy(t *testing.T, s ports.Store) {
	_, _, err := s.MarkOnline(ctx, keyA, 0, "n1", t0)
	must(t, err)
	if ok, err := s.MarkDisconnectedBy(ctx, keyA, "n2", t0.Add(time.Second)); err != nil || ok {
		t.Fatalf("another node released the machine: %v, %v", ok, err)
	}
	if ok, err := s.MarkDisconnectedBy(ctx, keyB, "n1", t0); err != nil || ok {
		t.Fatalf("unknown machine released: %v, %v", ok, err)
	}
	ok, err := s.MarkDisconnectedBy(ctx, keyA, "n1", t0.Add(time.Minute))
	must(t, err)
	if !ok {
		t.Fatal("holding node could not release")
	}
	m, err := s.GetMachine(ctx, keyA)
	must(t, err)
	if m.State != domain.StateDisconnected || !sameTime(m.LastDisconnectTime, t0.Add(time.Minute)) {
		t.Fatalf("after release: %+v", m)
	}
	if ok, _ := s.MarkDisconnectedBy(ctx, keyA, "n1", t0.Add(2*time.Minute)); ok {
		t.Fatal("released twice")
	}
}

func markOfflineIsConditional(t *testing.T, s ports.Store) {
	_, _, err := s.MarkOnline(ctx, keyA, 0, "n1", t0)
	must(t, err)
	if ok, _ := s.MarkOffline(ctx, keyA, time.Time{}, t0); ok {
		t.Fatal("an online machine went offline")
	}
	since := t0.Add(time.Minute)
	must(t, s.MarkDisconnected(ctx, keyA, since, time.Time{}))
	m, err := s.GetMachine(ctx, keyA)
	must(t, err)
	if ok, _ := s.MarkOffline(ctx, keyA, since.Add(time.Second), t0.Add(time.Hour)); ok {
		t.Fatal("offline with a stale disconnect time")
	}
	at := t0.Add(10 * time.Minute)
	ok, err := s.MarkOffline(ctx, keyA, m.LastDisconnectTime, at)
	must(t, err)
	if !ok {
		t.Fatal("disconnected machine did not go offline")
	}
	m, err = s.GetMachine(ctx, keyA)
	must(t, err)
	if m.State != domain.StateOffline || !sameTime(m.LastOfflineTime, at) {
		t.Fatalf("after offline: %+v", m)
	}
	if ok, _ := s.MarkOffline(ctx, keyA, m.LastDisconnectTime, at); ok {
		t.Fatal("offline twice")
	}
}

func concurrentOfflineHasOneWinner(t *testing.T, s ports.Store) {
	_, _, err := s.MarkOnline(ctx, keyA, 0, "n1", t0)
	must(t, err)
	must(t, s.MarkDisconnected(ctx, keyA, t0, time.Time{}))
	m, err := s.GetMachine(ctx, keyA)
	must(t, err)
	wins := winners(t, 10, func(i int) (bool, error) {
		return s.MarkOffline(ctx, keyA, m.LastDisconnectTime, t0.Add(time.Duration(i)*time.Second))
	})
	if wins != 1 {
		t.Fatalf("%d sweepers won the same offline transition, want 1", wins)
	}
}

func entry(id string, status domain.OutboxStatus, created time.Time) domain.OutboxEntry {
	return domain.OutboxEntry{ID: id, Status: status, CreatedAt: created, NextAttemptAt: created, Targets: []string{"log", "webhook"},
		Event: domain.Event{Kind: domain.EventOffline, Key: keyB, StakingType: domain.StakingFree, NodeID: "n1", At: created, Previous: domain.StateDisconnected}}
}

func outboxRoundTrip(t *testing.T, s ports.Store) {
	e := entry("offline|b", domain.OutboxPending, t0)
	must(t, s.InsertOutbox(ctx, e))
	if err := s.InsertOutbox(ctx, e); !errors.Is(err, domain.ErrDuplicate) {
		t.Fatalf("second insert of the same transition: want ErrDuplicate, got %v", err)
	}
	got, err := s.GetOutbox(ctx, e.ID)
	must(t, err)
	if got.ID != e.ID || got.Status != domain.OutboxPending || got.Event.Kind != domain.EventOffline || got.Event.Key != keyB ||
		got.Event.StakingType != domain.StakingFree || got.Event.NodeID != "n1" || !sameTime(got.Event.At, t0) ||
		got.Event.Previous != domain.StateDisconnected || !slices.Equal(got.Targets, []string{"log", "webhook"}) || len(got.Delivered) != 0 {
		t.Fatalf("GetOutbox = %+v", got)
	}
	got.Status, got.Attempts, got.Delivered, got.LastError = domain.OutboxReady, 2, []string{"log"}, "webhook: timeout"
	got.Skipped, got.GaveUp, got.Event.ReportTxHash = []string{"chain"}, []string{"chain2"}, "0xabc"
	got.NextAttemptAt, got.DoneAt = t0.Add(time.Minute), t0.Add(time.Hour)
	must(t, s.UpdateOutbox(ctx, got))
	again, err := s.GetOutbox(ctx, e.ID)
	must(t, err)
	if again.Status != domain.OutboxReady || again.Attempts != 2 || !slices.Equal(again.Delivered, []string{"log"}) ||
		!slices.Equal(again.Skipped, []string{"chain"}) || !slices.Equal(again.GaveUp, []string{"chain2"}) || again.Event.ReportTxHash != "0xabc" ||
		again.LastError != "webhook: timeout" || !sameTime(again.NextAttemptAt, t0.Add(time.Minute)) || !sameTime(again.DoneAt, t0.Add(time.Hour)) {
		t.Fatalf("after update: %+v", again)
	}
	if _, err := s.GetOutbox(ctx, "nope"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unknown entry: want ErrNotFound, got %v", err)
	}
	if err := s.UpdateOutbox(ctx, entry("nope", domain.OutboxReady, t0)); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("update of unknown entry: want ErrNotFound, got %v", err)
	}
}

func outboxDueAndCounts(t *testing.T, s ports.Store) {
	must(t, s.InsertOutbox(ctx, entry("e1", domain.OutboxReady, t0)))
	must(t, s.InsertOutbox(ctx, entry("e2", domain.OutboxPending, t0.Add(time.Second))))
	late := entry("e3", domain.OutboxReady, t0.Add(2*time.Second))
	late.NextAttemptAt = t0.Add(time.Hour)
	must(t, s.InsertOutbox(ctx, late))
	must(t, s.InsertOutbox(ctx, entry("e4", domain.OutboxReady, t0.Add(3*time.Second))))
	must(t, s.InsertOutbox(ctx, entry("e5", domain.OutboxDead, t0.Add(4*time.Second))))
	ids := func(es []domain.OutboxEntry) []string {
		out := []string{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	due, err := s.DueOutbox(ctx, t0.Add(time.Minute), 0)
	must(t, err)
	if got := ids(due); !slices.Equal(got, []string{"e1", "e4"}) {
		t.Fatalf("due = %v", got)
	}
	due, err = s.DueOutbox(ctx, t0.Add(2*time.Hour), 2)
	must(t, err)
	if got := ids(due); !slices.Equal(got, []string{"e1", "e3"}) {
		t.Fatalf("due with limit 2 = %v", got)
	}
	all, err := s.ListOutbox(ctx, domain.OutboxFilter{})
	must(t, err)
	if got := ids(all); !slices.Equal(got, []string{"e1", "e2", "e3", "e4", "e5"}) {
		t.Fatalf("all = %v", got)
	}
	dead, err := s.ListOutbox(ctx, domain.OutboxFilter{Status: domain.OutboxDead})
	must(t, err)
	if got := ids(dead); !slices.Equal(got, []string{"e5"}) {
		t.Fatalf("dead = %v", got)
	}
	counts, err := s.CountOutbox(ctx)
	must(t, err)
	if counts[domain.OutboxReady] != 3 || counts[domain.OutboxPending] != 1 || counts[domain.OutboxDead] != 1 || counts[domain.OutboxDone] != 0 {
		t.Fatalf("counts = %v", counts)
	}
}

func outboxClaimHasOneWinner(t *testing.T, s ports.Store) {
	wins := winners(t, 10, func(i int) (bool, error) { return s.ClaimOutbox(ctx, "e1", 0, 7, fmt.Sprint("node-", i)) })
	if wins != 1 {
		t.Fatalf("%d nodes claimed the same attempt, want 1", wins)
	}
	for _, c := range []struct {
		attempt int
		round   int64
	}{{1, 7}, {0, 8}} {
		if ok, err := s.ClaimOutbox(ctx, "e1", c.attempt, c.round, "n"); err != nil || !ok {
			t.Fatalf("attempt %d round %d not claimable: %v, %v", c.attempt, c.round, ok, err)
		}
		if ok, err := s.ClaimOutbox(ctx, "e1", c.attempt, c.round, "n"); err != nil || ok {
			t.Fatalf("attempt %d round %d claimed again by its owner: %v, %v", c.attempt, c.round, ok, err)
		}
	}
}

func mailboxDeliversOnce(t *testing.T, s ports.Store) {
	for i, c := range []domain.Command{
		{NodeID: "n1", Kind: domain.CommandNotify, Key: keyA, Body: []byte(`{"unregister":{}}`)},
		{NodeID: "n2", Kind: domain.CommandClose, Key: keyB, ConnID: "c9", Reason: "replaced"},
		{NodeID: "n1", Kind: domain.CommandClose, Key: keyC, ConnID: "c1", Reason: "replaced"},
	} {
		c.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		must(t, s.SendCommand(ctx, c))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []domain.Command
	for range 4 { // several pollers of the same node: each command runs once
		wg.Go(func() {
			cs, err := s.TakeCommands(ctx, "n1")
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			got = append(got, cs...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(got) != 2 {
		t.Fatalf("node n1 took %d commands, want 2: %+v", len(got), got)
	}
	slices.SortFunc(got, func(a, b domain.Command) int { return a.CreatedAt.Compare(b.CreatedAt) })
	if got[0].Kind != domain.CommandNotify || got[0].Key != keyA || string(got[0].Body) != `{"unregister":{}}` ||
		got[1].Kind != domain.CommandClose || got[1].Key != keyC || got[1].ConnID != "c1" || got[1].Reason != "replaced" {
		t.Fatalf("commands = %+v", got)
	}
	if again, _ := s.TakeCommands(ctx, "n1"); len(again) != 0 {
		t.Fatalf("commands taken twice: %+v", again)
	}
	n2, err := s.TakeCommands(ctx, "n2")
	must(t, err)
	if len(n2) != 1 || n2[0].ConnID != "c9" {
		t.Fatalf("node n2 commands = %+v", n2)
	}
}

func pruneOutboxAndCommands(t *testing.T, s ports.Store) {
	old := t0.Add(-48 * time.Hour)
	for id, st := range map[string]domain.OutboxStatus{"done-old": domain.OutboxDone, "cancelled-old": domain.OutboxCancelled,
		"dead-old": domain.OutboxDead, "ready-old": domain.OutboxReady, "done-new": domain.OutboxDone} {
		e := entry(id, st, old)
		e.DoneAt = old
		if id == "done-new" {
			e.DoneAt = t0
		}
		must(t, s.InsertOutbox(ctx, e))
	}
	n, err := s.PruneOutbox(ctx, t0.Add(-time.Hour))
	must(t, err)
	if n != 2 {
		t.Fatalf("pruned %d outbox entries, want 2 (old done and cancelled)", n)
	}
	left, err := s.ListOutbox(ctx, domain.OutboxFilter{})
	must(t, err)
	ids := []string{}
	for _, e := range left {
		ids = append(ids, e.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"dead-old", "done-new", "ready-old"}) {
		t.Fatalf("left after prune: %v", ids)
	}
	must(t, s.SendCommand(ctx, domain.Command{NodeID: "gone", Kind: domain.CommandNotify, Key: keyA, CreatedAt: old}))
	must(t, s.SendCommand(ctx, domain.Command{NodeID: "gone", Kind: domain.CommandNotify, Key: keyB, CreatedAt: t0}))
	n, err = s.PruneCommands(ctx, t0.Add(-time.Hour))
	must(t, err)
	if n != 1 {
		t.Fatalf("pruned %d commands, want 1", n)
	}
	cs, err := s.TakeCommands(ctx, "gone")
	must(t, err)
	if len(cs) != 1 || cs[0].Key != keyB {
		t.Fatalf("commands left = %+v", cs)
	}
}
