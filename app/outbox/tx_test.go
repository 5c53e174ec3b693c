package outbox

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/domain"
	"ddn/ports"
)

// txLead is a chain target that sends a transaction: it fails `failing`
// times, then answers hash.
type txLead struct {
	failing int
	hash    string
	calls   int
}

func (l *txLead) Deliver(ctx context.Context, e domain.Event) error {
	_, err := l.DeliverTx(ctx, e)
	return err
}

func (l *txLead) DeliverTx(context.Context, domain.Event) (string, error) {
	l.calls++
	if l.failing > 0 {
		l.failing--
		return "", errors.New("rpc down")
	}
	return l.hash, nil
}

func txOutbox(t *testing.T, chain *txLead, hook *recorder, maxAttempts int) (*Outbox, *memory.Store, *memory.Clock) {
	t.Helper()
	store, clock := memory.NewStore(), memory.NewClock(t0)
	ob := New(Config{NodeID: "n1", Targets: []string{"webhook", "chain"}, After: map[string]string{"webhook": "chain"},
		Regardless:  map[string][]domain.EventKind{"webhook": {domain.EventOffline}},
		MaxAttempts: maxAttempts, BaseBackoff: time.Second, MaxBackoff: time.Second},
		store, clock, map[string]ports.Deliverer{"chain": chain, "webhook": hook})
	ob.jitter = func() float64 { return 1 }
	return ob, store, clock
}

// The transaction the chain target sent reaches the webhook that follows
// it, also when the webhook is delivered in a later attempt (the hash is
// kept in the entry).
func TestFollowerGetsTheLeadsTransaction(t *testing.T) {
	chain, hook := &txLead{hash: "0xfeed"}, &recorder{failing: 1}
	ob, store, clock := txOutbox(t, chain, hook, 5)
	entry := recordConfirmed(t, ob, domain.Event{Kind: domain.EventOffline, Key: keyA, At: t0})
	for range 2 {
		if _, err := ob.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Second)
	}
	got, err := store.GetOutbox(ctx, entry.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != domain.OutboxDone || chain.calls != 1 || hook.count() != 1 || hook.got[0].ReportTxHash != "0xfeed" ||
		got.Event.ReportTxHash != "0xfeed" {
		t.Fatalf("entry %+v, chain called %d times, webhook got %+v; want done, one transaction, the hash handed on", got, chain.calls, hook.got)
	}
}

// A chain target that fails every attempt is given up and the webhook told
// regardless (offline only), without a hash; the entry ends dead. An
// online whose chain report fails is never told.
func TestFollowerToldRegardlessOnceTheLeadIsGivenUp(t *testing.T) {
	for _, tt := range []struct {
		kind      domain.EventKind
		hookCalls int
	}{{domain.EventOffline, 1}, {domain.EventOnline, 0}} {
		t.Run(string(tt.kind), func(t *testing.T) {
			chain, hook := &txLead{failing: 100, hash: "0xfeed"}, &recorder{}
			ob, store, clock := txOutbox(t, chain, hook, 3)
			entry := recordConfirmed(t, ob, domain.Event{Kind: tt.kind, Key: keyA, At: t0})
			for range 6 {
				if _, err := ob.Dispatch(ctx); err != nil {
					t.Fatal(err)
				}
				clock.Advance(2 * time.Second)
			}
			got, err := store.GetOutbox(ctx, entry.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != domain.OutboxDead || chain.calls != 3 || hook.count() != tt.hookCalls {
				t.Fatalf("entry %+v, chain called %d times, webhook %d; want dead, 3 chain attempts, %d webhook calls",
					got, chain.calls, hook.count(), tt.hookCalls)
			}
			if tt.hookCalls > 0 && (hook.got[0].ReportTxHash != "" || !slices.Equal(got.GaveUp, []string{"chain"}) ||
				!slices.Equal(got.Delivered, []string{"webhook"})) {
				t.Fatalf("entry %+v, webhook got %+v; want the chain given up and the webhook told without a hash", got, hook.got)
			}
		})
	}
}

// A webhook told regardless gets its own attempts after the chain was
// given up.
func TestFollowerToldRegardlessRetries(t *testing.T) {
	chain, hook := &txLead{failing: 100}, &recorder{failing: 1}
	ob, store, clock := txOutbox(t, chain, hook, 2)
	entry := recordConfirmed(t, ob, domain.Event{Kind: domain.EventOffline, Key: keyA, At: t0})
	for range 8 {
		if _, err := ob.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Advance(5 * time.Second)
	}
	got, err := store.GetOutbox(ctx, entry.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != domain.OutboxDead || chain.calls != 2 || hook.count() != 1 || got.Attempts != 3 {
		t.Fatalf("entry %+v, chain %d calls, webhook %d deliveries; want the webhook delivered on its second own attempt", got, chain.calls, hook.count())
	}
}

// Schedule records an entry due later: it is not delivered before then,
// and once at that time; scheduling it again is a duplicate.
func TestScheduleIsDueLater(t *testing.T) {
	chain, hook := &txLead{hash: "0x1"}, &recorder{}
	ob, _, clock := txOutbox(t, chain, hook, 3)
	e := domain.Event{Kind: domain.EventOfflineRentCheck, Key: keyA, At: t0}
	if err := ob.Schedule(ctx, e, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := ob.Schedule(ctx, e, t0.Add(time.Minute)); !errors.Is(err, domain.ErrDuplicate) {
		t.Fatalf("second schedule: %v, want ErrDuplicate", err)
	}
	if _, err := ob.Dispatch(ctx); err != nil {
		t.Fatal(err)
	}
	if chain.calls != 0 {
		t.Fatal("a scheduled entry was delivered before it was due")
	}
	clock.Advance(time.Minute)
	if _, err := ob.Dispatch(ctx); err != nil {
		t.Fatal(err)
	}
	if chain.calls != 1 || hook.count() != 1 || hook.got[0].ReportTxHash != "0x1" {
		t.Fatalf("chain %d calls, webhook %+v; want one delivery once due", chain.calls, hook.got)
	}
}
