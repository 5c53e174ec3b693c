package session_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/app/chaincache"
	"ddn/app/session"
	"ddn/domain"
)

// gatedStore holds every MarkOnline until gate is closed, saying on entered
// that one arrived.
type gatedStore struct {
	*memory.Store
	entered chan domain.MachineKey
	gate    chan struct{}
}

func (g *gatedStore) MarkOnline(ctx context.Context, key domain.MachineKey, st domain.StakingType, nodeID string, at time.Time) (domain.Machine, bool, error) {
	g.entered <- key
	<-g.gate
	return g.Store.MarkOnline(ctx, key, st, nodeID, at)
}

// TestMaxConcurrentWritesQueuesOnlines: with two write slots, two onlines
// hold them; a third waits for a slot (here: gives up with its context, code
// 4, nothing claimed) and goes online once the slots are free.
func TestMaxConcurrentWritesQueuesOnlines(t *testing.T) {
	store := &gatedStore{Store: memory.NewStore(), entered: make(chan domain.MachineKey, 8), gate: make(chan struct{})}
	svc, err := session.NewService(session.Config{NodeID: "n1", MaxConcurrentWrites: 2},
		store, storeAppender{store}, memory.NewClock(t0), new(memory.Events).Observe)
	if err != nil {
		t.Fatal(err)
	}
	key := func(i int) domain.MachineKey {
		return domain.MachineKey{MachineID: "m" + string(rune('0'+i)), Project: "deeplink"}
	}
	errs := make(chan error, 2)
	for i := range 2 {
		ss := svc.Open("127.0.0.1")
		go func() { errs <- ss.Online(ctx, domain.OnlineRequest{Key: key(i)}) }()
	}
	<-store.entered
	<-store.entered

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	third := svc.Open("127.0.0.1")
	err = third.Online(cancelled, domain.OnlineRequest{Key: key(3)})
	if !errors.Is(err, domain.ErrStore) || !errors.Is(err, context.Canceled) {
		t.Fatalf("third online while both slots are held: %v; want a store error from waiting", err)
	}
	if _, bound := third.Machine(); bound {
		t.Fatal("the third session is bound although it never got a slot")
	}
	if conns, err := store.ListConnections(ctx, "n1"); err != nil || len(conns) != 2 {
		t.Fatalf("claims while two onlines hold the slots: %v %v; want exactly 2", conns, err)
	}

	close(store.gate)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		for range store.entered {
		}
	}()
	if err := third.Online(ctx, domain.OnlineRequest{Key: key(3)}); err != nil {
		t.Fatalf("third online after the slots were given back: %v", err)
	}
	close(store.entered)
}

// gatedRegistry holds every chain read until gate is closed.
type gatedRegistry struct {
	entered chan domain.MachineKey
	gate    chan struct{}
}

func (g *gatedRegistry) MachineState(ctx context.Context, key domain.MachineKey, _ domain.StakingType) (domain.ChainState, error) {
	g.entered <- key
	select {
	case <-g.gate:
		return domain.ChainState{Registered: true}, nil
	case <-ctx.Done():
		return domain.ChainState{}, ctx.Err()
	}
}

// TestOnlinesAskTheChainTogether: onlines waiting for the chain hold no
// write slot, so with one slot all of them are in the chain's queue at
// once (where they go out in one batch), and all go online after.
func TestOnlinesAskTheChainTogether(t *testing.T) {
	const n = 8
	reg := &gatedRegistry{entered: make(chan domain.MachineKey, n), gate: make(chan struct{})}
	store := memory.NewStore()
	svc, err := session.NewService(session.Config{NodeID: "n1", MaxConcurrentWrites: 1, Registry: reg},
		store, storeAppender{store}, memory.NewClock(t0), new(memory.Events).Observe)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, n)
	for i := range n {
		ss := svc.Open("127.0.0.1")
		go func() {
			errs <- ss.Online(ctx, domain.OnlineRequest{Key: domain.MachineKey{MachineID: "m" + string(rune('a'+i)), Project: "deeplink"}})
		}()
	}
	for i := range n {
		select {
		case <-reg.entered:
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d onlines reached the chain with one write slot; want all at once", i, n)
		}
	}
	close(reg.gate)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if conns, _ := store.ListConnections(ctx, "n1"); len(conns) != n {
		t.Fatalf("%d machines online, want %d", len(conns), n)
	}
}

// TestUnregisterForgetsTheRegistrationOnEveryNode: node B remembers a
// registration; an unregister through node A's API makes A forget at
// once and B when it reads its mailbox, so B's next online asks the chain.
func TestUnregisterForgetsTheRegistrationOnEveryNode(t *testing.T) {
	store, clock, chain := memory.NewStore(), memory.NewClock(t0), memory.NewChain()
	k := domain.MachineKey{MachineID: "m1", Project: "deeplink"}
	if err := chain.Report(ctx, domain.ReportMachineRegister, k, 0); err != nil {
		t.Fatal(err)
	}
	node := func(id string) (*session.Service, *chaincache.Cache) {
		cache := chaincache.New(chain, time.Hour, clock)
		svc, err := session.NewService(session.Config{NodeID: id, Registry: cache}, store, storeAppender{store}, clock, new(memory.Events).Observe)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.RenewLease(ctx); err != nil {
			t.Fatal(err)
		}
		return svc, cache
	}
	a, cacheA := node("node-a")
	b, cacheB := node("node-b")
	for _, c := range []*chaincache.Cache{cacheA, cacheB} {
		if s, err := c.MachineState(ctx, k, 0); err != nil || !s.Registered || c.Len() != 1 {
			t.Fatalf("remembered: %+v %v", s, err)
		}
	}
	if err := chain.Report(ctx, domain.ReportMachineUnregister, k, 0); err != nil {
		t.Fatal(err)
	}
	if err := a.ForgetRegistration(ctx, k); err != nil {
		t.Fatal(err)
	}
	if cacheA.Len() != 0 || cacheB.Len() != 1 {
		t.Fatalf("after the unregister on A: A remembers %d, B %d; want 0 and 1 (B has not read its mailbox)", cacheA.Len(), cacheB.Len())
	}
	if err := b.ProcessMailbox(ctx); err != nil {
		t.Fatal(err)
	}
	if cacheB.Len() != 0 {
		t.Fatal("node B still remembers the registration after reading its mailbox")
	}
	if err := b.Open("ip").Online(ctx, domain.OnlineRequest{Key: k}); !errors.Is(err, domain.ErrNotRegistered) {
		t.Fatalf("online on B after the unregister: %v, want not registered", err)
	}
}
