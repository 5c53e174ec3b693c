package outbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/domain"
	"ddn/ports"
)

// gathering is a target whose calls wait until `want` of them are in
// flight together (or a generous guard ends the wait with an error), and
// that notes every machine it was called for twice at once.
type gathering struct {
	want     int
	mu       sync.Mutex
	inFlight map[domain.MachineKey]int
	peak     int
	now      int
	overlap  []domain.MachineKey
	order    map[domain.MachineKey][]domain.EventKind
	all      chan struct{}
	once     sync.Once
}

func newGathering(want int) *gathering {
	return &gathering{want: want, inFlight: map[domain.MachineKey]int{}, order: map[domain.MachineKey][]domain.EventKind{}, all: make(chan struct{})}
}

func (g *gathering) Deliver(ctx context.Context, e domain.Event) error {
	g.mu.Lock()
	g.inFlight[e.Key]++
	if g.inFlight[e.Key] > 1 {
		g.overlap = append(g.overlap, e.Key)
	}
	g.order[e.Key] = append(g.order[e.Key], e.Kind)
	g.now++
	g.peak = max(g.peak, g.now)
	if g.now >= g.want {
		g.once.Do(func() { close(g.all) })
	}
	g.mu.Unlock()
	defer func() { g.mu.Lock(); g.inFlight[e.Key]--; g.now--; g.mu.Unlock() }()
	select {
	case <-g.all:
		return nil
	case <-time.After(10 * time.Second): // a guard against a hang, not a measurement
		return errors.New("the other deliveries never came")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// recordConfirmed records e and confirms it: an entry due now.
func recordConfirmed(t *testing.T, ob *Outbox, e domain.Event) domain.OutboxEntry {
	t.Helper()
	entry, err := ob.Record(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Confirm(ctx, entry); err != nil {
		t.Fatal(err)
	}
	return entry
}

func TestConcurrencyDeliversSeveralMachinesAtOnceAndOneMachineInOrder(t *testing.T) {
	f := newFixture("n1")
	g := newGathering(4)
	ob := New(Config{NodeID: "n1", Targets: []string{"chain"}, Concurrency: 4}, f.store, f.clock, map[string]ports.Deliverer{"chain": g})
	var ids []string
	for i := range 4 {
		k := domain.MachineKey{MachineID: fmt.Sprint("m", i), Project: "p"}
		ids = append(ids, recordConfirmed(t, ob, domain.Event{Kind: domain.EventOnline, Key: k, At: t0}).ID)
		f.clock.Advance(time.Millisecond)
		// the same machine's offline, due in the same pass
		ids = append(ids, recordConfirmed(t, ob, domain.Event{Kind: domain.EventOffline, Key: k, At: t0.Add(time.Minute), Since: t0.Add(time.Second)}).ID)
	}
	p := dispatch(t, ob)
	if p.Delivered != 8 {
		t.Fatalf("pass = %+v, want 8 delivered (4 machines at once, then their offlines)", p)
	}
	if g.peak < 4 {
		t.Fatalf("at most %d deliveries at once, want 4", g.peak)
	}
	if len(g.overlap) != 0 {
		t.Fatalf("machines delivered twice at once: %v", g.overlap)
	}
	for k, kinds := range g.order {
		if len(kinds) != 2 || kinds[0] != domain.EventOnline || kinds[1] != domain.EventOffline {
			t.Fatalf("%s delivered %v, want online then offline", k, kinds)
		}
	}
	for _, id := range ids {
		if e := f.entry(t, id); e.Status != domain.OutboxDone {
			t.Fatalf("entry %s = %+v", id, e)
		}
	}
}

// deadline is a target that notes how long its attempt may run and
// answers domain.ErrNotNow (another node's turn).
type deadline struct {
	left  time.Duration
	calls int
}

func (d *deadline) Deliver(ctx context.Context, _ domain.Event) error {
	d.calls++
	if dl, ok := ctx.Deadline(); ok {
		d.left = time.Until(dl)
	}
	return fmt.Errorf("busy: %w", domain.ErrNotNow)
}

func TestAnAttemptEndsWithItsClaim(t *testing.T) {
	for _, tt := range []struct {
		offset   time.Duration // into a 30 s claim epoch
		min, max time.Duration
	}{
		{5 * time.Second, 15 * time.Second, 25 * time.Second},  // the rest of this epoch: 25 s
		{20 * time.Second, 30 * time.Second, 40 * time.Second}, // and the next one: 40 s
	} {
		f := newFixture("n1")
		f.clock = memory.NewClock(t0.Add(tt.offset))
		d := &deadline{}
		targets := map[string]ports.Deliverer{"chain": d}
		ob := New(Config{NodeID: "n1", Targets: []string{"chain"}}, f.store, f.clock, targets)
		e := recordConfirmed(t, ob, domain.Event{Kind: domain.EventOnline, Key: keyA, At: t0})
		dispatch(t, ob)
		if d.left <= tt.min || d.left > tt.max {
			t.Fatalf("offset %s: the attempt may run %s, want in (%s, %s]", tt.offset, d.left, tt.min, tt.max)
		}
		// Another node, later in the hold, cannot run the same attempt.
		f.clock.Advance(tt.max - time.Second)
		other := New(Config{NodeID: "n2", Targets: []string{"chain"}}, f.store, f.clock, targets)
		cur := f.entry(t, e.ID)
		cur.NextAttemptAt = f.clock.Now()
		if err := f.store.UpdateOutbox(ctx, cur); err != nil {
			t.Fatal(err)
		}
		dispatch(t, other)
		if d.calls != 1 {
			t.Fatalf("offset %s: %d calls, want the attempt run once while n1 holds it", tt.offset, d.calls)
		}
	}
}
