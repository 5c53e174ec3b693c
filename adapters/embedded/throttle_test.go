package embedded

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"ddn/adapters/memory"
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

// TestThrottleQueuesWrites: with two slots, two onlines' writes hold them; a
// third waits for a slot (here: gives up with its context, a store error,
// nothing written) and is written once the slots are free.
func TestThrottleQueuesWrites(t *testing.T) {
	ctx := context.Background()
	gated := &gatedStore{Store: memory.NewStore(), entered: make(chan domain.MachineKey, 8), gate: make(chan struct{})}
	st := Throttle(gated, 2)
	key := func(i int) domain.MachineKey {
		return domain.MachineKey{MachineID: "m" + string(rune('0'+i)), Project: "deeplink"}
	}
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	errs := make(chan error, 2)
	for i := range 2 {
		go func() {
			_, _, err := st.MarkOnline(ctx, key(i), 0, "n1", at)
			errs <- err
		}()
	}
	<-gated.entered
	<-gated.entered

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := st.MarkOnline(cancelled, key(3), 0, "n1", at); !errors.Is(err, domain.ErrStore) || !errors.Is(err, context.Canceled) {
		t.Fatalf("third write while both slots are held: %v; want a store error from waiting", err)
	}
	if err := st.InsertOutbox(cancelled, domain.OutboxEntry{ID: "x"}); !errors.Is(err, domain.ErrStore) {
		t.Fatalf("outbox record while both slots are held: %v; want a store error from waiting", err)
	}
	if _, err := gated.GetMachine(ctx, key(3)); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("the third machine was written without a slot: %v", err)
	}
	close(gated.gate)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		for range gated.entered {
		}
	}()
	if _, _, err := st.MarkOnline(ctx, key(3), 0, "n1", at); err != nil {
		t.Fatalf("third write after the slots were given back: %v", err)
	}
	close(gated.entered)
	if Throttle(gated, 0) != any(gated) {
		t.Fatal("Throttle with no slots wraps the store")
	}
}

// TestClientURICapsThePool: the driver reads the cap from the URI, whether
// or not the URI has options already.
func TestClientURICapsThePool(t *testing.T) {
	for _, uri := range []string{"mongodb://127.0.0.1:27017/", "mongodb://127.0.0.1:27017/?directConnection=true"} {
		o := options.Client().ApplyURI(capPool(uri))
		if err := o.Validate(); err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		if o.MaxPoolSize == nil || *o.MaxPoolSize != PoolSize {
			t.Errorf("%s: max pool size %v, want %d", capPool(uri), o.MaxPoolSize, PoolSize)
		}
	}
}
