package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/adapters/notify"
	"ddn/app/outbox"
	"ddn/domain"
	"ddn/ports"
)

// receiver is a real HTTP server on loopback that misbehaves in turn: an
// HTTP error, then too slow, then a refusal (code 0), then success.
type receiver struct {
	mu      sync.Mutex
	calls   int
	got     []map[string]any
	release chan struct{}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(req.Body).Decode(&body)
	r.mu.Lock()
	r.calls++
	call := r.calls
	r.mu.Unlock()
	switch call {
	case 1:
		http.Error(w, "boom", http.StatusInternalServerError)
	case 2:
		<-r.release // slower than the client's timeout
	case 3:
		_, _ = w.Write([]byte(`{"code":0,"msg":"not now","success":false,"is_rented":false}`))
	default:
		r.mu.Lock()
		r.got = append(r.got, body)
		r.mu.Unlock()
		_, _ = w.Write([]byte(`{"code":1,"msg":"ok","success":true,"is_rented":false}`))
	}
}

func TestWebhookThroughTheOutboxDeliversEachTransitionOnceAfterItSucceeds(t *testing.T) {
	rcv := &receiver{release: make(chan struct{})}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	defer close(rcv.release)

	ctx := context.Background()
	store := memory.NewStore()
	clock := memory.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	hook := notify.NewWebhook(srv.URL, 200*time.Millisecond, nil)
	ob := outbox.New(outbox.Config{NodeID: "n1", Targets: []string{"webhook"}, MaxAttempts: 10, BaseBackoff: time.Second, MaxBackoff: time.Second},
		store, clock, map[string]ports.Deliverer{"webhook": hook})
	ev := domain.Event{Kind: domain.EventOffline, Key: domain.MachineKey{MachineID: "m1", Project: "deeplink"}, At: clock.Now()}
	entry, err := ob.Record(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Confirm(ctx, entry); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		if _, err := ob.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
	e, err := store.GetOutbox(ctx, entry.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != domain.OutboxDone || e.Attempts != 3 {
		t.Fatalf("entry = %+v; want done after 3 failed attempts", e)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.calls != 4 || len(rcv.got) != 1 || rcv.got[0]["machine_id"] != "m1" || rcv.got[0]["is_online"] != false {
		t.Fatalf("receiver saw %d calls, accepted %v; want 4 calls, one accepted offline of m1", rcv.calls, rcv.got)
	}
}

func TestWebhookSkipsOtherEventsAndProjects(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls++
		_, _ = w.Write([]byte(`{"code":1}`))
	}))
	defer srv.Close()
	hook := notify.NewWebhook(srv.URL, time.Second, []string{"deeplink"})
	ctx := context.Background()
	for _, e := range []domain.Event{
		{Kind: domain.EventDisconnected, Key: domain.MachineKey{MachineID: "a", Project: "deeplink"}},
		{Kind: domain.EventOnline, Key: domain.MachineKey{MachineID: "b", Project: "other"}},
	} {
		if err := hook.Deliver(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := hook.Deliver(ctx, domain.Event{Kind: domain.EventOnline, Key: domain.MachineKey{MachineID: "c", Project: "deeplink"}}); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("receiver called %d times, want 1 (only the online of a deeplink machine)", calls)
	}
}
