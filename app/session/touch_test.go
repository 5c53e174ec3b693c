package session_test

import (
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/app/session"
	"ddn/domain"
)

// touchingAppender is a ReportAppender that batches refreshes (as the ingest
// batcher does): it records them instead of writing them.
type touchingAppender struct {
	storeAppender
	touched []domain.MachineKey
	at      []time.Time
}

func (a *touchingAppender) Touch(key domain.MachineKey, at time.Time) {
	a.touched, a.at = append(a.touched, key), append(a.at, at)
}

// TestRefreshGoesToTheBatchingAppender: with an appender that batches
// refreshes, an unchanged report a minute on hands its refresh over and does
// not write machine_info itself.
func TestRefreshGoesToTheBatchingAppender(t *testing.T) {
	store := memory.NewStore()
	clock := memory.NewClock(t0)
	app := &touchingAppender{storeAppender: storeAppender{store}}
	svc, err := session.NewService(session.Config{NodeID: "n1", TouchInterval: time.Minute}, store, app, clock, new(memory.Events).Observe)
	if err != nil {
		t.Fatal(err)
	}
	ss := svc.Open("198.51.100.1")
	online(t, ss, keyA)
	for range 3 { // t0, t0+30s, t0+60s
		if err := ss.ReportShortTerm(ctx, gpuPC); err != nil {
			t.Fatal(err)
		}
		clock.Advance(30 * time.Second)
	}
	if len(app.touched) != 1 || app.touched[0] != keyA || !app.at[0].Equal(t0.Add(time.Minute)) {
		t.Fatalf("refreshes handed over: %v at %v, want %s at %v", app.touched, app.at, keyA, t0.Add(time.Minute))
	}
	m, err := store.GetMachine(ctx, keyA)
	if err != nil {
		t.Fatal(err)
	}
	if !m.LastReportTime.Equal(t0) {
		t.Fatalf("the session wrote the refresh itself: last report %v", m.LastReportTime)
	}
}
