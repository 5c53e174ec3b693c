package sweep_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/app/outbox"
	"ddn/app/session"
	"ddn/app/sweep"
	"ddn/domain"
	"ddn/ports"
)

var (
	ctx  = context.Background()
	t0   = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	keyA = domain.MachineKey{MachineID: "a", Project: "deeplink"}
)

const (
	grace  = 5 * time.Minute
	expiry = 15 * time.Second
)

type direct struct{ store ports.ReportStore }

func (d direct) Append(ctx context.Context, r domain.Report) error {
	return d.store.AppendReports(ctx, []domain.Report{r})
}

type cluster struct {
	store  ports.Store
	clock  *memory.Clock
	events *memory.Events
}

func newCluster(store ports.Store) *cluster {
	return &cluster{store: store, clock: memory.NewClock(t0), events: &memory.Events{}}
}

func (c *cluster) node(t *testing.T, id string) *session.Service {
	t.Helper()
	svc, err := session.NewService(session.Config{NodeID: id, NodeExpiry: expiry}, c.store, direct{c.store}, c.clock, c.events.Observe)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.RenewLease(ctx); err != nil {
		t.Fatal(err)
	}
	return svc
}

func (c *cluster) sweeper(id string) *sweep.Sweeper {
	return sweep.New(sweep.Config{NodeID: id, Grace: grace, NodeExpiry: expiry}, c.store, c.clock, c.events.Observe)
}

func (c *cluster) count(kind domain.EventKind, key domain.MachineKey) int {
	n := 0
	for _, e := range c.events.All() {
		if e.Kind == kind && e.Key == key {
			n++
		}
	}
	return n
}

func (c *cluster) state(t *testing.T, key domain.MachineKey) domain.Machine {
	t.Helper()
	m, err := c.store.GetMachine(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sweepOK(t *testing.T, s *sweep.Sweeper) sweep.Result {
	t.Helper()
	res, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestOfflineExactlyOnceAfterGrace(t *testing.T) {
	c := newCluster(memory.NewStore())
	ss := c.node(t, "n1").Open("ip")
	if err := ss.Online(ctx, domain.OnlineRequest{Key: keyA}); err != nil {
		t.Fatal(err)
	}
	if err := ss.Close(ctx); err != nil {
		t.Fatal(err)
	}
	sw := c.sweeper("n1")
	sweepOK(t, sw) // the sweeper sees the machine disconnected: its count starts
	c.clock.Advance(grace - time.Millisecond)
	if res := sweepOK(t, sw); res.Offline != 0 || c.state(t, keyA).State != domain.StateDisconnected {
		t.Fatalf("offline before the grace period ended: %+v", res)
	}
	c.clock.Advance(time.Millisecond)
	if res := sweepOK(t, sw); res.Offline != 1 {
		t.Fatalf("want one offline at the end of the grace period, got %+v", res)
	}
	m := c.state(t, keyA)
	if m.State != domain.StateOffline || !m.LastOfflineTime.Equal(t0.Add(grace)) {
		t.Fatalf("machine = %+v", m)
	}
	c.clock.Advance(time.Hour)
	sweepOK(t, sw)
	if n := c.count(domain.EventOffline, keyA); n != 1 {
		t.Fatalf("offline events = %d, want 1", n)
	}
}

func TestReconnectWithinGraceOnAnotherNodeCancelsOffline(t *testing.T) {
	c := newCluster(memory.NewStore())
	a, b := c.node(t, "n1"), c.node(t, "n2")
	ss := a.Open("ip")
	if err := ss.Online(ctx, domain.OnlineRequest{Key: keyA}); err != nil {
		t.Fatal(err)
	}
	if err := ss.Close(ctx); err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(grace - time.Second)
	if err := b.RenewLease(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Open("ip").Online(ctx, domain.OnlineRequest{Key: keyA}); err != nil {
		t.Fatal(err)
	}
	for range 12 { // an hour passes, both nodes alive
		c.clock.Advance(5 * time.Minute)
		for _, svc := range []*session.Service{a, b} {
			if err := svc.RenewLease(ctx); err != nil {
				t.Fatal(err)
			}
		}
		sweepOK(t, c.sweeper("n1"))
	}
	if n := c.count(domain.EventOffline, keyA); n != 0 || c.state(t, keyA).State != domain.StateOnline {
		t.Fatalf("hop within grace produced %d offline events, state %q", n, c.state(t, keyA).State)
	}
}

func TestDeadNodesMachinesGoOfflineAfterLeaseExpiryPlusGrace(t *testing.T) {
	c := newCluster(memory.NewStore())
	dead := c.node(t, "dead")
	alive := c.node(t, "alive")
	keyB := domain.MachineKey{MachineID: "b", Project: "deeplink"}
	for _, k := range []domain.MachineKey{keyA, keyB} {
		if err := dead.Open("ip").Online(ctx, domain.OnlineRequest{Key: k}); err != nil {
			t.Fatal(err)
		}
	}
	sw := c.sweeper("alive")
	renew := func() {
		if err := alive.RenewLease(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sweepOK(t, sw)          // the sweeper sees the dead node's lease record
	c.clock.Advance(expiry) // unchanged for exactly the expiry: still alive
	renew()
	if res := sweepOK(t, sw); res.Released != 0 {
		t.Fatalf("released a live node's machines: %+v", res)
	}
	c.clock.Advance(time.Second)
	renew()
	if res := sweepOK(t, sw); res.Released != 2 {
		t.Fatalf("want both machines of the dead node released, got %+v", res)
	}
	m := c.state(t, keyA)
	if m.State != domain.StateDisconnected || !m.LastDisconnectTime.Equal(t0.Add(expiry)) {
		t.Fatalf("released machine = %+v; want disconnected since the lease expired", m)
	}
	// keyB comes back on the live node within the grace period.
	if err := alive.Open("ip").Online(ctx, domain.OnlineRequest{Key: keyB}); err != nil {
		t.Fatal(err)
	}
	// The grace period runs on the sweeper's clock from the release it saw.
	c.clock.Advance(grace - time.Millisecond)
	renew()
	if res := sweepOK(t, sw); res.Offline != 0 {
		t.Fatalf("offline before grace: %+v", res)
	}
	c.clock.Advance(time.Millisecond)
	renew()
	if res := sweepOK(t, sw); res.Offline != 1 {
		t.Fatalf("want keyA offline, got %+v", res)
	}
	if c.count(domain.EventOffline, keyA) != 1 || c.count(domain.EventOffline, keyB) != 0 {
		t.Fatalf("offline events: a=%d b=%d", c.count(domain.EventOffline, keyA), c.count(domain.EventOffline, keyB))
	}
}

func TestOriginalNodesLeftoversAreReleased(t *testing.T) {
	c := newCluster(memory.NewStore())
	// A connection document without node, as the original node wrote it, and
	// its machine online on no known node.
	if err := c.store.InsertConnection(ctx, domain.Connection{Key: keyA, AddTime: t0.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.store.MarkOnline(ctx, keyA, 0, "", t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	c.node(t, "n1")
	if res := sweepOK(t, c.sweeper("n1")); res.Released != 1 {
		t.Fatalf("leftover not released: %+v", res)
	}
	if m := c.state(t, keyA); m.State != domain.StateDisconnected || !m.LastDisconnectTime.Equal(t0) {
		t.Fatalf("machine = %+v; the grace period must start now", m)
	}
}

func TestClaimInProgressIsNotSweptOffline(t *testing.T) {
	c := newCluster(memory.NewStore())
	n := c.node(t, "n1")
	ss := n.Open("ip")
	if err := ss.Online(ctx, domain.OnlineRequest{Key: keyA}); err != nil {
		t.Fatal(err)
	}
	if err := ss.Close(ctx); err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(grace)
	// A connection has claimed the machine but not yet marked it online.
	if err := c.store.InsertConnection(ctx, domain.Connection{Key: keyA, NodeID: "n1", ConnID: "x"}); err != nil {
		t.Fatal(err)
	}
	if res := sweepOK(t, c.sweeper("n1")); res.Offline != 0 {
		t.Fatalf("a machine being claimed went offline: %+v", res)
	}
}

// SweepConcurrently runs many sweepers at once over one store holding many
// expired machines and asserts exactly one offline transition per machine.
func SweepConcurrently(t *testing.T, store ports.Store, machines, sweepers int) {
	c := newCluster(store)
	n := c.node(t, "n0")
	keys := make([]domain.MachineKey, machines)
	for i := range keys {
		keys[i] = domain.MachineKey{MachineID: fmt.Sprint("m", i), Project: "deeplink"}
		ss := n.Open("ip")
		if err := ss.Online(ctx, domain.OnlineRequest{Key: keys[i]}); err != nil {
			t.Fatal(err)
		}
		if err := ss.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sws := make([]*sweep.Sweeper, sweepers)
	for i := range sweepers {
		id := fmt.Sprint("n", i)
		ob := outbox.New(outbox.Config{NodeID: id, Targets: []string{"log"}}, store, c.clock, nil)
		sws[i] = sweep.New(sweep.Config{NodeID: id, Grace: grace, NodeExpiry: expiry, Effects: ob}, store, c.clock, c.events.Observe)
		sweepOK(t, sws[i]) // each sweeper sees the machines disconnected
	}
	c.clock.Advance(grace)
	var wg sync.WaitGroup
	totals := make([]int, sweepers)
	for i, sw := range sws {
		wg.Go(func() {
			res, err := sw.Sweep(ctx)
			if err != nil {
				t.Error(err)
			}
			totals[i] = res.Offline
		})
	}
	wg.Wait()
	ready, err := store.ListOutbox(ctx, domain.OutboxFilter{Status: domain.OutboxReady})
	if err != nil {
		t.Fatal(err)
	}
	if len(ready) != machines {
		t.Fatalf("%d outbox entries ready, want one per machine (%d)", len(ready), machines)
	}
	if all, _ := store.ListOutbox(ctx, domain.OutboxFilter{}); len(all) != machines {
		t.Fatalf("%d outbox entries in all, want %d", len(all), machines)
	}
	sum := 0
	for _, n := range totals {
		sum += n
	}
	if sum != machines {
		t.Fatalf("%d sweepers flipped %d machines in all (%v), want %d", sweepers, sum, totals, machines)
	}
	for _, k := range keys {
		if got := c.count(domain.EventOffline, k); got != 1 {
			t.Fatalf("%s: %d offline events, want 1", k, got)
		}
	}
}

func TestConcurrentSweepersOnFake(t *testing.T) { SweepConcurrently(t, memory.NewStore(), 50, 8) }
