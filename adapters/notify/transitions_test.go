package notify_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/adapters/notify"
	"ddn/app/outbox"
	"ddn/domain"
	"ddn/ports"
)

// flakyReceiver is a real HTTP server on loopback that answers its calls in
// turn with an HTTP 500, no answer before the caller's timeout, a refusal
// (code 0), and success; it keeps the exact bytes of every accepted body.
type flakyReceiver struct {
	mu       sync.Mutex
	calls    int
	accepted []string
	bad      []string
}

func (r *flakyReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.calls++
	call := r.calls
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		r.bad = append(r.bad, req.Method+" "+req.Header.Get("Content-Type"))
	}
	r.mu.Unlock()
	switch call % 4 {
	case 1:
		http.Error(w, "boom", http.StatusInternalServerError)
	case 2:
		<-req.Context().Done() // the caller gave up: this call is not accepted
	case 3:
		_, _ = w.Write([]byte(`{"code":0,"msg":"not now","success":false,"is_rented":false}`))
	default:
		r.mu.Lock()
		r.accepted = append(r.accepted, string(body))
		r.mu.Unlock()
		_, _ = w.Write([]byte(`{"code":1,"msg":"ok","success":true,"is_rented":false}`))
	}
}

func (r *flakyReceiver) snapshot() (int, []string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, slices.Clone(r.accepted), slices.Clone(r.bad)
}

// Two nodes' outboxes dispatch the same store concurrently; the receiver
// fails, times out and refuses in turn; every online and offline
// transition reaches it exactly once, with the exact bytes the original
// node sends, and nothing is sent again after success.
func TestEveryTransitionDeliveredExactlyOnceThroughFailuresAndTimeouts(t *testing.T) {
	rcv := &flakyReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()

	ctx := context.Background()
	store := memory.NewStore()
	clock := memory.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	hook := notify.NewWebhook(srv.URL, 150*time.Millisecond, []string{"deeplink"})
	cfg := outbox.Config{Targets: []string{"webhook"}, MaxAttempts: 50, BaseBackoff: time.Second, MaxBackoff: 2 * time.Second}
	var nodes []*outbox.Outbox
	for _, id := range []string{"n1", "n2"} {
		c := cfg
		c.NodeID = id
		nodes = append(nodes, outbox.New(c, store, clock, map[string]ports.Deliverer{"webhook": hook}))
	}

	at := clock.Now()
	m1 := domain.MachineKey{MachineID: "m1", Project: "deeplink"}
	m2 := domain.MachineKey{MachineID: "m2", Project: "deeplink", ContainerID: "c1"}
	events := []domain.Event{
		{Kind: domain.EventOnline, Key: m1, At: at},
		{Kind: domain.EventOffline, Key: m1, At: at.Add(time.Minute), Since: at.Add(30 * time.Second)},
		{Kind: domain.EventOnline, Key: m2, At: at},
		{Kind: domain.EventOnline, Key: m1, At: at.Add(2 * time.Minute)},
		{Kind: domain.EventOffline, Key: domain.MachineKey{MachineID: "m3", Project: "other"}, At: at, Since: at}, // filtered out
		{Kind: domain.EventDisconnected, Key: m2, At: at.Add(time.Minute)},                                        // not a webhook event
	}
	var ids []string
	for _, e := range events {
		entry, err := nodes[0].Record(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if err := nodes[0].Confirm(ctx, entry); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, entry.ID)
	}

	pass := func() {
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Go(func() {
				if _, err := n.Dispatch(ctx); err != nil {
					t.Errorf("dispatch: %v", err)
				}
			})
		}
		wg.Wait()
		clock.Advance(3 * time.Second) // past MaxBackoff: every failed entry is due again
	}
	allDone := func() bool {
		for _, id := range ids {
			e, err := store.GetOutbox(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if e.Status != domain.OutboxDone {
				return false
			}
		}
		return true
	}
	passes := 0
	for ; !allDone(); passes++ {
		if passes == 40 {
			t.Fatal("entries not delivered after 40 passes")
		}
		pass()
	}
	callsAtDone, accepted, bad := rcv.snapshot()
	for range 5 {
		pass()
	}
	calls, acceptedLater, _ := rcv.snapshot()
	if calls != callsAtDone || len(acceptedLater) != len(accepted) {
		t.Fatalf("receiver called again after every entry succeeded: %d calls, then %d", callsAtDone, calls)
	}
	if len(bad) > 0 {
		t.Fatalf("requests with a wrong method or content type: %v", bad)
	}
	want := []string{
		`{"machine_id":"m1","is_online":true}`,
		`{"machine_id":"m1","is_online":false}`,
		`{"machine_id":"m2","is_online":true}`,
		`{"machine_id":"m1","is_online":true}`,
	}
	slices.Sort(want)
	slices.Sort(accepted)
	if !slices.Equal(accepted, want) {
		t.Fatalf("accepted bodies =\n%q\nwant exactly once each:\n%q", accepted, want)
	}
	// The receiver answers in a cycle of four; its four successes are the
	// four transitions, so it saw exactly three failed calls per success.
	if calls != 16 {
		t.Fatalf("receiver saw %d calls, want 16 (4 successes, each after a 500, a timeout and a refusal)", calls)
	}
	failed := 0
	for _, id := range ids[:4] {
		e, _ := store.GetOutbox(ctx, id)
		failed += e.Attempts
		if !slices.Equal(e.Delivered, []string{"webhook"}) {
			t.Fatalf("entry %s = %+v", id, e)
		}
	}
	if failed != 12 {
		t.Fatalf("entries recorded %d failed attempts, want the receiver's 12", failed)
	}
}
