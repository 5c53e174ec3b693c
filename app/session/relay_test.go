package session_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"ddn/app/outbox"
	"ddn/app/session"
	"ddn/domain"
)

// fakeLocal records what a node was asked to do to its connections.
type fakeLocal struct {
	mu       sync.Mutex
	notified []domain.MachineKey
	kicked   []string
	bound    map[domain.MachineKey]bool
}

func (l *fakeLocal) Notify(_ context.Context, key domain.MachineKey, _ []byte) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.bound[key] {
		return false
	}
	l.notified = append(l.notified, key)
	return true
}

func (l *fakeLocal) Kick(_ context.Context, _ domain.MachineKey, connID, _ string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.kicked = append(l.kicked, connID)
	return true
}

func TestNotifyReachesTheHoldingNode(t *testing.T) {
	f := newFixture(t, "node-a")
	nodeB := f.service(t, "node-b")
	localA, localB := &fakeLocal{bound: map[domain.MachineKey]bool{keyA: true}}, &fakeLocal{bound: map[domain.MachineKey]bool{keyB: true}}
	f.svc.SetLocal(localA)
	nodeB.SetLocal(localB)
	online(t, f.svc.Open("ip"), keyA)
	online(t, nodeB.Open("ip"), keyB)

	// Asked on node A for a machine held by node B: it goes through B's mailbox.
	holder, err := f.svc.Notify(ctx, keyB, session.UnregisterNotice)
	if err != nil || holder != "node-b" {
		t.Fatalf("notify = %q, %v", holder, err)
	}
	if len(localB.notified) != 0 {
		t.Fatal("delivered before node B read its mailbox")
	}
	if err := nodeB.ProcessMailbox(ctx); err != nil {
		t.Fatal(err)
	}
	if len(localB.notified) != 1 || localB.notified[0] != keyB || len(localA.notified) != 0 {
		t.Fatalf("node A notified %v, node B %v", localA.notified, localB.notified)
	}
	// Held locally: delivered at once.
	if holder, err := f.svc.Notify(ctx, keyA, session.UnregisterNotice); err != nil || holder != "node-a" || len(localA.notified) != 1 {
		t.Fatalf("local notify = %q, %v, %v", holder, err, localA.notified)
	}
	if _, err := f.svc.Notify(ctx, domain.MachineKey{MachineID: "x", Project: "p"}, nil); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("machine connected nowhere: want ErrNotFound, got %v", err)
	}
}

func TestReplaceDuplicatesMakesTheNewestConnectionWin(t *testing.T) {
	f := newFixture(t, "node-a")
	svcB, err := session.NewService(session.Config{NodeID: "node-b", NodeExpiry: 15 * time.Second, ReplaceDuplicates: true},
		f.store, storeAppender{f.store}, f.clock, f.events.Observe)
	if err != nil {
		t.Fatal(err)
	}
	if err := svcB.RenewLease(ctx); err != nil {
		t.Fatal(err)
	}
	localA := &fakeLocal{}
	f.svc.SetLocal(localA)
	svcB.SetLocal(&fakeLocal{})
	old := f.svc.Open("ip")
	online(t, old, keyA)
	newer := svcB.Open("ip")
	online(t, newer, keyA) // replaces the live holder on node A
	if c, _ := f.store.GetConnection(ctx, keyA); c.ConnID != newer.ConnID() {
		t.Fatalf("holder = %s, want the newer connection", c.ConnID)
	}
	if err := f.svc.ProcessMailbox(ctx); err != nil {
		t.Fatal(err)
	}
	if len(localA.kicked) != 1 || localA.kicked[0] != old.ConnID() {
		t.Fatalf("node A closed %v, want the replaced connection %s", localA.kicked, old.ConnID())
	}
	// The replaced connection ends without marking the machine disconnected.
	if err := old.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if m, _ := f.store.GetMachine(ctx, keyA); m.State != domain.StateOnline || m.NodeID != "node-b" {
		t.Fatalf("machine = %+v", m)
	}
	// Without the option the newcomer is still refused.
	if err := f.svc.Open("ip").Online(ctx, domain.OnlineRequest{Key: keyA}); !errors.Is(err, domain.ErrMachineHeld) {
		t.Fatalf("node A (reject): want ErrMachineHeld, got %v", err)
	}
}

func TestOnlineSideEffectsOnlyForRealTransitions(t *testing.T) {
	f := newFixture(t, "node-a")
	ob := outbox.New(outbox.Config{NodeID: "node-a", Targets: []string{"log"}}, f.store, f.clock, nil)
	svc, err := session.NewService(session.Config{NodeID: "node-a", Effects: ob}, f.store, storeAppender{f.store}, f.clock, f.events.Observe)
	if err != nil {
		t.Fatal(err)
	}
	statuses := func() []domain.OutboxStatus {
		es, err := f.store.ListOutbox(ctx, domain.OutboxFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var out []domain.OutboxStatus
		for _, e := range es {
			out = append(out, e.Status)
		}
		return out
	}
	first := svc.Open("ip")
	online(t, first, keyA) // a new machine goes online: delivered
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	online(t, svc.Open("ip"), keyA) // back within the grace period: not a transition
	want := []domain.OutboxStatus{domain.OutboxReady, domain.OutboxCancelled}
	if got := statuses(); !slices.Equal(got, want) {
		t.Fatalf("online entries = %v, want %v", got, want)
	}
}
