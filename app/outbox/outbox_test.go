package outbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/domain"
	"ddn/ports"
)

var (
	ctx  = context.Background()
	t0   = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	keyA = domain.MachineKey{MachineID: "a", Project: "deeplink"}
)

// recorder is a target that records deliveries and fails while failing > 0.
type recorder struct {
	mu      sync.Mutex
	got     []domain.Event
	failing int
}

func (r *recorder) Deliver(_ context.Context, e domain.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing > 0 {
		r.failing--
		return errors.New("receiver unavailable")
	}
	r.got = append(r.got, e)
	return nil
}

func (r *recorder) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.got) }

type fixture struct {
	store *memory.Store
	clock *memory.Clock
	log   *recorder
	hook  *recorder
	ob    *Outbox
}

func newFixture(node string) *fixture {
	f := &fixture{store: memory.NewStore(), clock: memory.NewClock(t0), log: &recorder{}, hook: &recorder{}}
	f.ob = f.outbox(node)
	return f
}

func (f *fixture) outbox(node string) *Outbox {
	ob := New(Config{NodeID: node, Targets: []string{"log", "webhook"}, MaxAttempts: 3, BaseBackoff: time.Second, MaxBackoff: time.Minute},
		f.store, f.clock, map[string]ports.Deliverer{"log": f.log, "webhook": f.hook})
	ob.jitter = func() float64 { return 1 } // deterministic delays
	return ob
}

func offlineEvent(since time.Time) domain.Event {
	return domain.Event{Kind: domain.EventOffline, Key: keyA, At: since.Add(5 * time.Minute), Since: since, Previous: domain.StateDisconnected}
}

func (f *fixture) entry(t *testing.T, id string) domain.OutboxEntry {
	t.Helper()
	e, err := f.store.GetOutbox(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// claim makes node the claimant of round 0 of entry id's current try, as
// another node that won it and is at it (or crashed) would be.
func (f *fixture) claim(t *testing.T, id, node string) {
	t.Helper()
	e := f.entry(t, id)
	if won, err := f.store.ClaimOutbox(ctx, e.ID, e.Attempts, tryOf(e).claimRound(0), node); err != nil || !won {
		t.Fatalf("%s's claim of %s: %v, %v", node, id, won, err)
	}
}

func dispatch(t *testing.T, ob *Outbox) Pass {
	t.Helper()
	p, err := ob.Dispatch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRecordConfirmDeliverOnce(t *testing.T) {
	f := newFixture("n1")
	ev := offlineEvent(t0)
	entry, err := f.ob.Record(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.outbox("n2").Record(ctx, ev); !errors.Is(err, domain.ErrDuplicate) {
		t.Fatalf("a second node recording the same transition: want ErrDuplicate, got %v", err)
	}
	if p := dispatch(t, f.ob); p.Delivered != 0 || f.log.count() != 0 {
		t.Fatalf("a pending entry was delivered: %+v", p)
	}
	if err := f.ob.Confirm(ctx, entry); err != nil {
		t.Fatal(err)
	}
	if p := dispatch(t, f.ob); p.Delivered != 1 {
		t.Fatalf("pass = %+v", p)
	}
	dispatch(t, f.ob)
	if f.log.count() != 1 || f.hook.count() != 1 || f.log.got[0].Key != keyA || f.log.got[0].Kind != domain.EventOffline {
		t.Fatalf("deliveries: log %d, webhook %d", f.log.count(), f.hook.count())
	}
	if e := f.entry(t, entry.ID); e.Status != domain.OutboxDone || !e.DoneAt.Equal(t0) || !slices.Equal(e.Delivered, []string{"log", "webhook"}) {
		t.Fatalf("entry = %+v", e)
	}
}

func TestRetriesOnlyTheFailingTargetWithBackoff(t *testing.T) {
	f := newFixture("n1")
	f.hook.failing = 2
	entry, _ := f.ob.Record(ctx, offlineEvent(t0))
	if err := f.ob.Confirm(ctx, entry); err != nil {
		t.Fatal(err)
	}
	if p := dispatch(t, f.ob); p.Retried != 1 {
		t.Fatalf("pass = %+v", p)
	}
	e := f.entry(t, entry.ID)
	if e.Attempts != 1 || !e.NextAttemptAt.Equal(t0.Add(time.Second)) || e.LastError != "webhook: receiver unavailable" || !slices.Equal(e.Delivered, []string{"log"}) {
		t.Fatalf("after the first failure: %+v", e)
	}
	dispatch(t, f.ob) // not due yet
	if f.hook.failing != 1 {
		t.Fatal("retried before the backoff elapsed")
	}
	f.clock.Advance(time.Second)
	dispatch(t, f.ob)
	if e := f.entry(t, entry.ID); e.Attempts != 2 || !e.NextAttemptAt.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("second backoff must double: %+v", e)
	}
	f.clock.Advance(2 * time.Second)
	if p := dispatch(t, f.ob); p.Delivered != 1 {
		t.Fatalf("pass = %+v", p)
	}
	if f.log.count() != 1 || f.hook.count() != 1 {
		t.Fatalf("log delivered %d times, webhook %d; want 1 and 1", f.log.count(), f.hook.count())
	}
}

func TestDeadLetterAfterMaxAttempts(t *testing.T) {
	f := newFixture("n1")
	f.hook.failing = 100
	entry, _ := f.ob.Record(ctx, offlineEvent(t0))
	_ = f.ob.Confirm(ctx, entry)
	for range 3 {
		dispatch(t, f.ob)
		f.clock.Advance(time.Minute)
	}
	e := f.entry(t, entry.ID)
	if e.Status != domain.OutboxDead || e.Attempts != 3 {
		t.Fatalf("entry = %+v", e)
	}
	dispatch(t, f.ob)
	if f.hook.failing != 97 {
		t.Fatalf("a dead entry was retried (%d attempts left)", f.hook.failing)
	}
}

func TestBackoffIsCappedAndJittered(t *testing.T) {
	ob := New(Config{BaseBackoff: time.Second, MaxBackoff: time.Minute}, nil, nil, nil)
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 6: 32 * time.Second, 7: time.Minute, 60: time.Minute} {
		for range 20 {
			if got := ob.backoff(n); got < want/2 || got > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, got, want/2, want)
			}
		}
	}
}

func TestRecoverySettlesCrashLeftovers(t *testing.T) {
	f := newFixture("n1")
	since := t0
	if _, _, err := f.store.MarkOnline(ctx, keyA, 0, "n1", t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.store.MarkDisconnected(ctx, keyA, since, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// A node recorded the offline, then died before flipping the machine.
	flip, _ := f.ob.Record(ctx, offlineEvent(since))
	// A node recorded an online that never happened.
	ghost, _ := f.ob.Record(ctx, domain.Event{Kind: domain.EventOnline, Key: keyA, At: t0.Add(time.Second)})
	f.clock.Advance(29 * time.Second)
	if p := dispatch(t, f.ob); p.Recovered+p.Cancelled != 0 {
		t.Fatalf("settled a pending entry younger than PendingAfter: %+v", p)
	}
	f.clock.Advance(time.Second)
	if p := dispatch(t, f.ob); p.Recovered != 1 || p.Cancelled != 1 || p.Delivered != 1 {
		t.Fatalf("pass = %+v", p)
	}
	if m, _ := f.store.GetMachine(ctx, keyA); m.State != domain.StateOffline || !m.LastOfflineTime.Equal(flip.Event.At) {
		t.Fatalf("the recorded offline was not finished: %+v", m)
	}
	if e := f.entry(t, ghost.ID); e.Status != domain.OutboxCancelled {
		t.Fatalf("ghost online = %+v", e)
	}
	if e := f.entry(t, flip.ID); e.Status != domain.OutboxDone {
		t.Fatalf("recovered offline = %+v", e)
	}
}

func TestConcurrentDispatchersDeliverEachEntryOnce(t *testing.T) {
	f := newFixture("n0")
	for i := range 40 {
		e, err := f.ob.Record(ctx, domain.Event{Kind: domain.EventOnline, Key: domain.MachineKey{MachineID: fmt.Sprint(i), Project: "p"}, At: t0})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.ob.Confirm(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range 5 {
		ob := f.outbox(fmt.Sprint("n", i))
		wg.Go(func() {
			if _, err := ob.Dispatch(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if f.log.count() != 40 || f.hook.count() != 40 {
		t.Fatalf("deliveries: log %d, webhook %d; want 40 each", f.log.count(), f.hook.count())
	}
}

// TestABacklogDrainsInOneTick: with more entries due than a pass takes, the
// passes of one tick follow each other until the backlog is gone (not one
// batch an interval); a full batch that this node cannot settle ends them.
func TestABacklogDrainsInOneTick(t *testing.T) {
	f := newFixture("n1")
	ob := New(Config{NodeID: "n1", Targets: []string{"log"}, BatchSize: 2}, f.store, f.clock, map[string]ports.Deliverer{"log": f.log})
	for i := range 5 {
		confirmOnline(t, ob, fmt.Sprintf("m%d", i))
	}
	var passes []Pass
	ob.drain(ctx, true, func(p Pass, err error) {
		if err != nil {
			t.Fatal(err)
		}
		passes = append(passes, p)
	})
	want := []Pass{{Delivered: 2, Full: true}, {Delivered: 2, Full: true}, {Delivered: 1}}
	if !slices.Equal(passes, want) || f.log.count() != 5 {
		t.Fatalf("passes %+v (want %+v), %d delivered", passes, want, f.log.count())
	}

	// Two more due, both claimed by another node for this attempt: one
	// full pass that settles nothing, then the tick is over.
	for i := range 2 {
		e := confirmOnline(t, ob, fmt.Sprintf("busy%d", i))
		f.claim(t, e.ID, "n2")
	}
	passes = nil
	ob.drain(ctx, true, func(p Pass, _ error) { passes = append(passes, p) })
	if want := []Pass{{Full: true}}; !slices.Equal(passes, want) {
		t.Fatalf("passes over entries busy elsewhere: %+v, want %+v", passes, want)
	}
}

// confirmOnline records and confirms an online of machine id: an entry due now.
func confirmOnline(t *testing.T, ob *Outbox, id string) domain.OutboxEntry {
	t.Helper()
	return recordConfirmed(t, ob, domain.Event{Kind: domain.EventOnline, Key: domain.MachineKey{MachineID: id, Project: "deeplink"}, At: t0})
}

// TestRunAsksTheStoreOnlyWhenSomethingIsDue: an interval passes when an
// entry this node confirmed, retried or scheduled is due, and every
// pollEvery intervals in any case: the poll is how another node's entry
// is found, and the only pass that settles stale pending entries. An
// entry made due through Watch's store (the admin API's retry) goes at
// the next interval. The first interval polls.
func TestRunAsksTheStoreOnlyWhenSomethingIsDue(t *testing.T) {
	f := newFixture("n1")
	const every = time.Second
	passes := 0
	var settled Pass // what the passes settled, added up
	tick := func() int {
		t.Helper()
		before := passes
		f.ob.tick(ctx, every, func(p Pass, err error) {
			if err != nil {
				t.Fatal(err)
			}
			passes++
			settled.add(p)
		})
		f.clock.Advance(every)
		return passes - before
	}
	if tick() != 1 {
		t.Fatal("the first interval did not ask the store")
	}
	if tick() != 0 {
		t.Fatal("an interval with nothing due asked the store")
	}

	// Confirmed here: the next interval delivers it.
	confirmOnline(t, f.ob, "a")
	if tick() != 1 || f.log.count() != 1 {
		t.Fatalf("a confirmed entry: %d delivered", f.log.count())
	}

	// A webhook that fails once: retried when its backoff (1 s) is up.
	f.hook.mu.Lock()
	f.hook.failing = 1
	f.hook.mu.Unlock()
	confirmOnline(t, f.ob, "b")
	if tick() != 1 || f.hook.count() != 1 {
		t.Fatalf("first attempt: %d webhook deliveries", f.hook.count())
	}
	if tick() != 1 || f.hook.count() != 2 {
		t.Fatalf("retry: %d webhook deliveries", f.hook.count())
	}

	// Scheduled 3 s ahead: the intervals before it do not ask.
	if err := f.ob.Schedule(ctx, domain.Event{Kind: domain.EventOnline, Key: domain.MachineKey{MachineID: "c", Project: "deeplink"}, At: t0}, f.clock.Now().Add(3*every)); err != nil {
		t.Fatal(err)
	}
	if got := []int{tick(), tick(), tick(), tick()}; !slices.Equal(got, []int{0, 0, 0, 1}) || f.log.count() != 3 {
		t.Fatalf("scheduled: passes %v, %d delivered", got, f.log.count())
	}

	// The poll, pollEvery intervals after the first: it passes with nothing due.
	for f.clock.Now().Before(t0.Add(pollEvery * every)) {
		if tick() != 0 {
			t.Fatal("an interval with nothing due asked the store")
		}
	}
	if tick() != 1 {
		t.Fatal("no poll pollEvery intervals after the last")
	}

	// Written by another node: found by the next poll.
	other := domain.OutboxEntry{ID: "other", Event: domain.Event{Kind: domain.EventOnline, Key: domain.MachineKey{MachineID: "d", Project: "deeplink"}, At: t0},
		Targets: []string{"log"}, Status: domain.OutboxReady, CreatedAt: f.clock.Now(), NextAttemptAt: f.clock.Now()}
	if err := f.store.InsertOutbox(ctx, other); err != nil {
		t.Fatal(err)
	}
	var got []int
	for range pollEvery {
		got = append(got, tick())
	}
	if want := append(make([]int, pollEvery-1), 1); !slices.Equal(got, want) || f.log.count() != 4 {
		t.Fatalf("another node's entry: passes %v (want %v), %d delivered", got, want, f.log.count())
	}

	// An operator's retry through the watched store: the next interval.
	dead := other
	dead.ID, dead.Status, dead.Event.Key.MachineID = "dead", domain.OutboxDead, "e"
	if err := f.store.InsertOutbox(ctx, dead); err != nil {
		t.Fatal(err)
	}
	dead.Status, dead.NextAttemptAt = domain.OutboxReady, f.clock.Now()
	if err := f.ob.Watch(f.store).UpdateOutbox(ctx, dead); err != nil {
		t.Fatal(err)
	}
	if tick() != 1 || f.log.count() != 5 {
		t.Fatalf("an operator's retry: %d delivered", f.log.count())
	}

	// A stale pending entry (a crash's leftover; its transition never
	// happened): a pass for this node's own entry leaves it, the poll
	// cancels it.
	stale := domain.OutboxEntry{ID: "stale", Event: domain.Event{Kind: domain.EventOnline, Key: domain.MachineKey{MachineID: "f", Project: "deeplink"}, At: t0},
		Targets: []string{"log"}, Status: domain.OutboxPending, CreatedAt: f.clock.Now().Add(-time.Hour), NextAttemptAt: f.clock.Now().Add(-time.Hour)}
	if err := f.store.InsertOutbox(ctx, stale); err != nil {
		t.Fatal(err)
	}
	confirmOnline(t, f.ob, "g")
	if tick() != 1 || settled.Cancelled != 0 {
		t.Fatalf("a pass for this node's entry: %+v settled", settled)
	}
	for range pollEvery {
		tick()
	}
	if settled.Cancelled != 1 {
		t.Fatalf("the poll did not settle the stale pending entry: %+v", settled)
	}
}
