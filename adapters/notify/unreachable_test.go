package notify_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/adapters/notify"
	"ddn/app/outbox"
	"ddn/domain"
	"ddn/ports"
)

// TestWebhookUnreachableIsHeldAndDeliveredLater: while nothing listens at
// the webhook's address the outbox keeps every entry pending (no loss, no
// dead letter within MaxAttempts); once the receiver is up, each is
// delivered exactly once.
func TestWebhookUnreachableIsHeldAndDeliveredLater(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens: connection refused

	ctx := context.Background()
	store := memory.NewStore()
	clock := memory.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	ob := outbox.New(outbox.Config{NodeID: "n1", Targets: []string{"webhook"}, MaxAttempts: 20, BaseBackoff: time.Second, MaxBackoff: time.Second},
		store, clock, map[string]ports.Deliverer{"webhook": notify.NewWebhook("http://"+addr+"/hook", time.Second, nil)})
	var ids []string
	for i, kind := range []domain.EventKind{domain.EventOnline, domain.EventOffline, domain.EventOnline} {
		e, err := ob.Record(ctx, domain.Event{Kind: kind, Key: domain.MachineKey{MachineID: string(rune('a' + i)), Project: "p"}, At: clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if err := ob.Confirm(ctx, e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	for range 5 {
		if _, err := ob.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
	for _, id := range ids {
		if e, _ := store.GetOutbox(ctx, id); e.Status == domain.OutboxDone || e.Status == domain.OutboxDead || e.Attempts == 0 {
			t.Fatalf("entry while the webhook is unreachable: %+v; want pending with failed attempts", e)
		}
	}

	rcv := &receiver{calls: 3} // past its misbehaving turns: accepts every call
	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: rcv}}
	srv.Start()
	defer srv.Close()
	for range 3 {
		if _, err := ob.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
	for _, id := range ids {
		if e, _ := store.GetOutbox(ctx, id); e.Status != domain.OutboxDone {
			t.Fatalf("entry after the webhook came back: %+v; want done", e)
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.got) != 3 {
		t.Fatalf("receiver got %d deliveries, want each of the 3 exactly once", len(rcv.got))
	}
}
