package chaincache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/app/chaincache"
	"ddn/domain"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	key = domain.MachineKey{MachineID: "m1", Project: "deeplink", ContainerID: "c1"}
)

// countingChain counts the reads that reach the fake chain.
type countingChain struct {
	*memory.Chain
	reads int
}

func (c *countingChain) MachineState(ctx context.Context, k domain.MachineKey, st domain.StakingType) (domain.ChainState, error) {
	c.reads++
	return c.Chain.MachineState(ctx, k, st)
}

func setup(t *testing.T) (*countingChain, *memory.Clock, *chaincache.Cache, *[]bool) {
	t.Helper()
	chain := &countingChain{Chain: memory.NewChain()}
	clock := memory.NewClock(t0)
	c := chaincache.New(chain, 10*time.Minute, clock)
	var lookups []bool
	c.OnLookup = func(hit bool) { lookups = append(lookups, hit) }
	return chain, clock, c, &lookups
}

func state(t *testing.T, c *chaincache.Cache, st domain.StakingType) domain.ChainState {
	t.Helper()
	s, err := c.MachineState(ctx, key, st)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRegistrationRememberedForTheTTL(t *testing.T) {
	chain, clock, c, lookups := setup(t)
	if err := chain.Report(ctx, domain.ReportMachineRegister, key, 0); err != nil {
		t.Fatal(err)
	}
	if s := state(t, c, 0); !s.Registered || chain.reads != 1 {
		t.Fatalf("first look: %+v after %d reads", s, chain.reads)
	}
	clock.Advance(9 * time.Minute)
	if s := state(t, c, 0); !s.Registered || chain.reads != 1 {
		t.Fatalf("within the TTL: %+v after %d reads, want no second read", s, chain.reads)
	}
	other := key
	other.ContainerID = "c2" // the chain knows machines by id, project and staking type
	if s, _ := c.MachineState(ctx, other, 0); !s.Registered || chain.reads != 1 {
		t.Fatalf("another container of the machine: %+v after %d reads", s, chain.reads)
	}
	if s := state(t, c, 1); s.Registered || chain.reads != 2 {
		t.Fatalf("another staking type: %+v after %d reads", s, chain.reads)
	}
	clock.Advance(time.Minute)
	if s := state(t, c, 0); !s.Registered || chain.reads != 3 {
		t.Fatalf("past the TTL: %+v after %d reads, want the chain asked again", s, chain.reads)
	}
	if want := []bool{false, true, true, false, false}; len(*lookups) != len(want) {
		t.Fatalf("lookups %v, want %v", *lookups, want)
	}
}

func TestNotRegisteredIsAskedEveryTime(t *testing.T) {
	chain, _, c, _ := setup(t)
	if s := state(t, c, 0); s.Registered {
		t.Fatal("unknown machine registered")
	}
	if err := chain.Report(ctx, domain.ReportMachineRegister, key, 0); err != nil {
		t.Fatal(err)
	}
	if s := state(t, c, 0); !s.Registered || chain.reads != 2 {
		t.Fatalf("registered a moment after a refusal: %+v after %d reads", s, chain.reads)
	}
}

func TestChainErrorsAreNotRemembered(t *testing.T) {
	chain, _, c, _ := setup(t)
	chain.FailWith(errors.New("down"))
	if _, err := c.MachineState(ctx, key, 0); err == nil {
		t.Fatal("no error from a chain that is down")
	}
	chain.FailWith(nil)
	_ = chain.Report(ctx, domain.ReportMachineRegister, key, 0)
	if s := state(t, c, 0); !s.Registered {
		t.Fatal("not registered after the chain came back")
	}
}

func TestUnregisterForgets(t *testing.T) {
	chain, _, c, _ := setup(t)
	_ = chain.Report(ctx, domain.ReportMachineRegister, key, 0)
	state(t, c, 0)
	// Through the API: the node forgets at once, before the transaction lands.
	c.Forget(key)
	state(t, c, 0)
	if chain.reads != 2 {
		t.Fatalf("%d reads, want the chain asked again after Forget", chain.reads)
	}
	// Sent to the chain by this node's outbox.
	if err := c.Fresh().Report(ctx, domain.ReportMachineUnregister, key, 0); err != nil {
		t.Fatal(err)
	}
	if s := state(t, c, 0); s.Registered || chain.reads != 3 {
		t.Fatalf("after the unregister transaction: %+v after %d reads", s, chain.reads)
	}
}

// The outbox reads the chain as it is, and what it reads and sends is
// what onlines are answered from.
func TestFreshReadsAndReportsUpdateTheCache(t *testing.T) {
	chain, clock, c, _ := setup(t)
	_ = chain.Report(ctx, domain.ReportMachineRegister, key, 0)
	state(t, c, 0)
	f := c.Fresh()
	if _, err := f.MachineState(ctx, key, 0); err != nil || chain.reads != 2 {
		t.Fatalf("a fresh read: %v after %d reads, want it to reach the chain", err, chain.reads)
	}
	if err := f.Report(ctx, domain.ReportMachineOnline, key, 0); err != nil {
		t.Fatal(err)
	}
	if s := state(t, c, 0); !s.Online || chain.reads != 2 {
		t.Fatalf("after the online report: %+v (%d reads), want online from memory", s, chain.reads)
	}
	_ = chain.Report(ctx, domain.ReportMachineUnregister, key, 0) // outside ddn
	clock.Advance(time.Minute)
	if s, _ := f.MachineState(ctx, key, 0); s.Registered {
		t.Fatal("fresh read shows the machine registered")
	}
	if s := state(t, c, 0); s.Registered || chain.reads != 4 {
		t.Fatalf("after a fresh read saw it unregistered: %+v after %d reads", s, chain.reads)
	}
}

func TestWarmFromMachineInfo(t *testing.T) {
	chain, clock, c, _ := setup(t)
	store := memory.NewStore()
	recent, old, gone := key, key, key
	recent.MachineID, old.MachineID, gone.MachineID = "recent", "old", "gone"
	for _, k := range []domain.MachineKey{recent, old, gone} {
		at := t0.Add(-time.Minute)
		if k == old {
			at = t0.Add(-time.Hour)
		}
		if _, _, err := store.MarkOnline(ctx, k, 1, "n1", at); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.MarkDisconnected(ctx, recent, t0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.DeleteMachine(ctx, gone); err != nil { // unregistered through the API
		t.Fatal(err)
	}
	n, err := c.Warm(ctx, store)
	if err != nil || n != 1 {
		t.Fatalf("warmed %d, %v; want the one machine online within the TTL", n, err)
	}
	if s, _ := c.MachineState(ctx, recent, 1); !s.Registered || !s.Online || chain.reads != 0 {
		t.Fatalf("warmed machine: %+v after %d reads", s, chain.reads)
	}
	if _, _ = c.MachineState(ctx, old, 1); chain.reads != 1 {
		t.Fatalf("a machine last online an hour ago: %d reads, want the chain asked", chain.reads)
	}
	clock.Advance(9 * time.Minute) // the TTL runs from its last online
	if _, _ = c.MachineState(ctx, recent, 1); chain.reads != 2 {
		t.Fatalf("warmed machine past its TTL: %d reads", chain.reads)
	}
}
