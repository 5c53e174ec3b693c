package retention_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/app/retention"
	"ddn/domain"
)

// TestPass: reports and finished outbox entries older than their keep
// go, newer ones and dead entries stay; commands older than an hour go.
func TestPass(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := memory.NewClock(t0)
	store := memory.NewStore()
	key := domain.MachineKey{Project: "p", MachineID: "m"}
	old, recent := t0.Add(-48*time.Hour), t0.Add(-time.Hour)
	if err := store.AppendReports(ctx, []domain.Report{{Key: key, Timestamp: old}, {Key: key, Timestamp: recent}}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []domain.OutboxEntry{
		{ID: "done-old", Status: domain.OutboxDone, CreatedAt: old, DoneAt: old},
		{ID: "done-recent", Status: domain.OutboxDone, CreatedAt: recent, DoneAt: recent},
		{ID: "cancelled-3h", Status: domain.OutboxCancelled, CreatedAt: t0.Add(-3 * time.Hour), DoneAt: t0.Add(-3 * time.Hour)},
		{ID: "dead-old", Status: domain.OutboxDead, CreatedAt: old, DoneAt: old},
	} {
		if err := store.InsertOutbox(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.SendCommand(ctx, domain.Command{ID: "c1", NodeID: "gone", Kind: domain.CommandForget, Key: key, CreatedAt: t0.Add(-2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// The outbox kept a shorter time than the reports (the embedded store).
	r, err := retention.Pass(ctx, store, clock, retention.Keep{Reports: 24 * time.Hour, Outbox: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if r != (retention.Result{Reports: 1, OutboxEntries: 2, Commands: 1}) {
		t.Fatalf("removed %+v, want 1 report, 2 outbox entries, 1 command", r)
	}
	if _, err := store.GetOutbox(ctx, "done-recent"); err != nil {
		t.Fatalf("an entry done within the keep was pruned: %v", err)
	}
	if _, err := store.GetOutbox(ctx, "dead-old"); err != nil {
		t.Fatalf("a dead entry was pruned: %v", err)
	}
	if rs, err := store.ListReports(ctx, key, time.Time{}, t0, 0); err != nil || len(rs) != 1 {
		t.Fatalf("reports left: %v %v, want the recent one", rs, err)
	}
}

// failing fails every prune.
type failing struct{}

var errDown = errors.New("store down")

func (failing) PruneReports(context.Context, time.Time) (int64, error)  { return 0, errDown }
func (failing) PruneOutbox(context.Context, time.Time) (int64, error)   { return 0, errDown }
func (failing) PruneCommands(context.Context, time.Time) (int64, error) { return 0, errDown }

// TestPassReportsEveryFailure: a store that is down fails each kind, and
// the pass says so for each.
func TestPassReportsEveryFailure(t *testing.T) {
	_, err := retention.Pass(context.Background(), failing{}, memory.NewClock(time.Now()), retention.Keep{Reports: time.Hour, Outbox: time.Hour})
	if !errors.Is(err, errDown) {
		t.Fatalf("err = %v, want the store's error", err)
	}
	for _, what := range []string{"reports", "outbox", "node commands"} {
		if !strings.Contains(err.Error(), "prune "+what) {
			t.Errorf("error %q does not name %s", err, what)
		}
	}
}

// TestPassKeepsForEverWhatHasNoKeep: a zero keep prunes nothing of its
// kind (MongoDB.ExpireTime 0 keeps reports); commands still go.
func TestPassKeepsForEverWhatHasNoKeep(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	store := memory.NewStore()
	key := domain.MachineKey{Project: "p", MachineID: "m"}
	old := t0.AddDate(-1, 0, 0)
	if err := store.AppendReports(ctx, []domain.Report{{Key: key, Timestamp: old}}); err != nil {
		t.Fatal(err)
	}
	if err := store.InsertOutbox(ctx, domain.OutboxEntry{ID: "done-old", Status: domain.OutboxDone, CreatedAt: old, DoneAt: old}); err != nil {
		t.Fatal(err)
	}
	if err := store.SendCommand(ctx, domain.Command{ID: "c1", NodeID: "gone", Kind: domain.CommandForget, Key: key, CreatedAt: old}); err != nil {
		t.Fatal(err)
	}
	r, err := retention.Pass(ctx, store, memory.NewClock(t0), retention.Keep{})
	if err != nil || r != (retention.Result{Commands: 1}) {
		t.Fatalf("removed %+v (%v), want only the command", r, err)
	}
}
