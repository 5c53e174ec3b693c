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

// awaitInFlight waits until n calls are in flight.
func (g *gathering) awaitInFlight(t *testing.T, n int) {
	t.Helper()
	guard := time.Now().Add(10 * time.Second) // a guard against a hang, not a measurement
	for {
		g.mu.Lock()
		now := g.now
		g.mu.Unlock()
		if now >= n {
			return
		}
		if time.Now().After(guard) {
			t.Fatalf("%d calls in flight, want %d", now, n)
		}
		time.Sleep(time.Millisecond)
	}
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

// An attempt may run one ClaimLease from its claim. A node that finds the
// try claimed runs it only once it has seen the claim taken for a whole
// ClaimLease on its own clock (the claimant crashed mid-way), whatever its
// clock reads against the claimant's, and then only once.
func TestAnAttemptEndsWithItsClaim(t *testing.T) {
	for _, skew := range []time.Duration{0, 20 * time.Second, time.Hour} {
		f := newFixture("n1")
		d := &deadline{}
		targets := map[string]ports.Deliverer{"chain": d}
		ob := New(Config{NodeID: "n1", Targets: []string{"chain"}}, f.store, f.clock, targets)
		e := recordConfirmed(t, ob, domain.Event{Kind: domain.EventOnline, Key: keyA, At: t0})
		// n1 claims the try and crashes: its claim stays, the entry does not change.
		f.claim(t, e.ID, "n1")
		clock := memory.NewClock(t0.Add(skew))
		other := New(Config{NodeID: "n2", Targets: []string{"chain"}}, f.store, clock, targets)
		dispatch(t, other)
		clock.Advance(30*time.Second - time.Millisecond)
		dispatch(t, other)
		if d.calls != 0 {
			t.Fatalf("clock %s ahead: n2 ran the try %d times within a lease of seeing n1's claim", skew, d.calls)
		}
		clock.Advance(time.Millisecond)
		dispatch(t, other)
		if d.calls != 1 {
			t.Fatalf("clock %s ahead: %d calls a lease after n2 saw n1's claim, want 1", skew, d.calls)
		}
		if d.left <= 29*time.Second || d.left > 30*time.Second {
			t.Fatalf("the attempt may run %s, want its claim lease of 30s", d.left)
		}
		// Its attempt was put off (ErrNotNow): a new try, due a lease later.
		if cur := f.entry(t, e.ID); cur.Attempts != 0 || !cur.NextAttemptAt.Equal(clock.Now().Add(30*time.Second)) {
			t.Fatalf("entry after the put-off attempt = %+v", cur)
		}
	}
}

// Two nodes whose clocks disagree by more than a claim lease, at every
// point of a lease: while one runs a try, the other does not run it too.
func TestClocksThatDisagreeRunATryOnce(t *testing.T) {
	for _, skew := range []time.Duration{20 * time.Second, 40 * time.Second, time.Hour} {
		for _, at := range []time.Duration{0, 10 * time.Second, 20 * time.Second, 29 * time.Second} {
			f := newFixture("n1")
			f.clock = memory.NewClock(t0.Add(at))
			g := newGathering(2)
			targets := map[string]ports.Deliverer{"chain": g}
			first := New(Config{NodeID: "n1", Targets: []string{"chain"}}, f.store, f.clock, targets)
			second := New(Config{NodeID: "n2", Targets: []string{"chain"}}, f.store, memory.NewClock(t0.Add(at+skew)), targets)
			recordConfirmed(t, first, domain.Event{Kind: domain.EventOnline, Key: keyA, At: t0})
			done := make(chan Pass)
			go func() {
				p, _ := first.Dispatch(ctx)
				done <- p
			}()
			g.awaitInFlight(t, 1)
			dispatch(t, second)
			g.once.Do(func() { close(g.all) }) // n1's call returns
			if p := <-done; p.Delivered != 1 {
				t.Fatalf("skew %s at %s: n1's pass = %+v, want its delivery", skew, at, p)
			}
			if n := len(g.order[keyA]); n != 1 || len(g.overlap) != 0 {
				t.Fatalf("skew %s at %s: the try ran %d times (at once for %v), want once", skew, at, n, g.overlap)
			}
		}
	}
}

// A node forgets, once a lease, the claimed tries it met more than four
// leases ago; one still due then waits a lease again before taking over.
func TestClaimsMetLongAgoAreForgotten(t *testing.T) {
	f := newFixture("n1")
	d := &deadline{}
	targets := map[string]ports.Deliverer{"chain": d}
	ob := New(Config{NodeID: "n1", Targets: []string{"chain"}}, f.store, f.clock, targets)
	var entries []domain.OutboxEntry
	for i := range 3 {
		e := confirmOnline(t, ob, fmt.Sprint("held", i))
		f.claim(t, e.ID, "n2")
		entries = append(entries, e)
	}
	dispatch(t, ob)
	if len(ob.seen) != 3 || d.calls != 0 {
		t.Fatalf("after one pass: %d tries met claimed, %d calls; want 3 and none", len(ob.seen), d.calls)
	}
	f.clock.Advance(4*30*time.Second + time.Second)
	ob.taken(tryKey{id: "another entry"}, 0, f.clock.Now())
	if len(ob.seen) != 1 {
		t.Fatalf("%d tries remembered four leases on, want only the one just met", len(ob.seen))
	}
	dispatch(t, ob) // met again: a lease to wait
	if d.calls != 0 {
		t.Fatalf("%d calls right after forgetting, want none", d.calls)
	}
	f.clock.Advance(30 * time.Second)
	dispatch(t, ob)
	if d.calls != len(entries) {
		t.Fatalf("%d calls a lease later, want %d", d.calls, len(entries))
	}
}
