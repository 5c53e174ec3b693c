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
// lock, so all of them are in the chain's queue at once (where they go out
// in one batch), and all go online after.
func TestOnlinesAskTheChainTogether(t *testing.T) {
	const n = 8
	reg := &gatedRegistry{entered: make(chan domain.MachineKey, n), gate: make(chan struct{})}
	store := memory.NewStore()
	svc, err := session.NewService(session.Config{NodeID: "n1", Registry: reg},
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
			t.Fatalf("%d of %d onlines reached the chain; want all at once", i, n)
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
