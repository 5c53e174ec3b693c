package memory

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"ddn/domain"
)

func outboxIDs(es []domain.OutboxEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// TestOutboxIndexFollowsUpdates checks that the index moves an entry when
// an update changes its status, due time or age, as a scan of every entry
// would see it.
func TestOutboxIndexFollowsUpdates(t *testing.T) {
	ctx := context.Background()
	s := NewStore()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	mk := func(id string, st domain.OutboxStatus, created time.Time) domain.OutboxEntry {
		return domain.OutboxEntry{ID: id, Status: st, CreatedAt: created, NextAttemptAt: created, Targets: []string{"log"}}
	}
	// Inserted out of age order: lists are oldest first, not insertion order.
	for _, e := range []domain.OutboxEntry{mk("c", domain.OutboxReady, t0.Add(2*time.Second)), mk("a", domain.OutboxPending, t0),
		mk("b", domain.OutboxReady, t0.Add(time.Second)), mk("d", domain.OutboxDone, t0.Add(3*time.Second))} {
		if err := s.InsertOutbox(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step string, now time.Time, wantDue, wantPending, wantAll []string) {
		t.Helper()
		due, err := s.DueOutbox(ctx, now, 0)
		if err != nil {
			t.Fatal(err)
		}
		pending, err := s.ListOutbox(ctx, domain.OutboxFilter{Status: domain.OutboxPending})
		if err != nil {
			t.Fatal(err)
		}
		all, err := s.ListOutbox(ctx, domain.OutboxFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if got := outboxIDs(due); !slices.Equal(got, wantDue) {
			t.Errorf("%s: due = %v, want %v", step, got, wantDue)
		}
		if got := outboxIDs(pending); !slices.Equal(got, wantPending) {
			t.Errorf("%s: pending = %v, want %v", step, got, wantPending)
		}
		if got := outboxIDs(all); !slices.Equal(got, wantAll) {
			t.Errorf("%s: all = %v, want %v", step, got, wantAll)
		}
	}
	check("inserted", t0.Add(time.Minute), []string{"b", "c"}, []string{"a"}, []string{"a", "b", "c", "d"})

	// a is confirmed: pending to ready, due now, and oldest of the due.
	a, _ := s.GetOutbox(ctx, "a")
	a.Status = domain.OutboxReady
	must(t, s.UpdateOutbox(ctx, a))
	check("a confirmed", t0.Add(time.Minute), []string{"a", "b", "c"}, nil, []string{"a", "b", "c", "d"})

	// b fails and is retried in an hour: not due before then, due after.
	b, _ := s.GetOutbox(ctx, "b")
	b.Attempts, b.NextAttemptAt = 1, t0.Add(time.Hour)
	must(t, s.UpdateOutbox(ctx, b))
	check("b backed off", t0.Add(time.Minute), []string{"a", "c"}, nil, []string{"a", "b", "c", "d"})
	check("b due again", t0.Add(2*time.Hour), []string{"a", "b", "c"}, nil, []string{"a", "b", "c", "d"})

	// c is delivered: gone from the due entries, still listed.
	c, _ := s.GetOutbox(ctx, "c")
	c.Status, c.DoneAt = domain.OutboxDone, t0.Add(time.Minute)
	must(t, s.UpdateOutbox(ctx, c))
	check("c done", t0.Add(2*time.Hour), []string{"a", "b"}, nil, []string{"a", "b", "c", "d"})
	if due, _ := s.DueOutbox(ctx, t0.Add(2*time.Hour), 1); !slices.Equal(outboxIDs(due), []string{"a"}) {
		t.Errorf("due with limit 1 = %v, want [a]", outboxIDs(due))
	}

	counts, err := s.CountOutbox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[domain.OutboxStatus]int64{domain.OutboxReady: 2, domain.OutboxDone: 2}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("counts = %v, want %v", counts, want)
	}

	// Pruning c and d (done, DoneAt zero or a minute in) drops them from every list.
	n, err := s.PruneOutbox(ctx, t0.Add(time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PruneOutbox = %d, %v; want 2", n, err)
	}
	check("pruned", t0.Add(2*time.Hour), []string{"a", "b"}, nil, []string{"a", "b"})
	if done, _ := s.ListOutbox(ctx, domain.OutboxFilter{Status: domain.OutboxDone}); len(done) != 0 {
		t.Errorf("done after prune = %v", outboxIDs(done))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestDueOutboxBacklog checks the backlog walk of DueOutbox (more entries
// due than four times the limit) against a filter and sort of every entry,
// with entries backing off (not due) among the oldest.
func TestDueOutboxBacklog(t *testing.T) {
	ctx := context.Background()
	s := NewStore()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	now := t0.Add(time.Hour)
	for i := range 1000 {
		at := t0.Add(time.Duration(i*7919%1000) * time.Millisecond) // ages out of insertion order
		e := domain.OutboxEntry{ID: fmt.Sprintf("e%04d", i), Status: domain.OutboxReady, CreatedAt: at, NextAttemptAt: at, Targets: []string{"log"}}
		switch {
		case i%3 == 0:
			e.NextAttemptAt = now.Add(time.Minute) // backing off
		case i%7 == 0:
			e.Status = domain.OutboxDone
		case i%11 == 0:
			e.NextAttemptAt = now // due exactly now
		}
		must(t, s.InsertOutbox(ctx, e))
	}
	all, err := s.ListOutbox(ctx, domain.OutboxFilter{})
	must(t, err)
	var want []string
	for _, e := range all {
		if e.Status == domain.OutboxReady && !e.NextAttemptAt.After(now) {
			want = append(want, e.ID)
		}
	}
	for _, limit := range []int{0, 1, 10, 100, 150, 1000} {
		due, err := s.DueOutbox(ctx, now, limit)
		must(t, err)
		w := want
		if limit > 0 && len(w) > limit {
			w = w[:limit]
		}
		if got := outboxIDs(due); !slices.Equal(got, w) {
			t.Errorf("limit %d: due = %d entries %v..., want %d %v...", limit, len(got), got[:min(5, len(got))], len(w), w[:min(5, len(w))])
		}
	}
}

// BenchmarkOutboxPass is the store side of one dispatch pass (the pending
// list of the recovery step, then the due list, 100 each) over an outbox of
// 20,000 entries, one per machine that went online: all delivered (the
// idle node), or all due (the backlog right after 20,000 onlines, which
// the outbox drains 100 a pass).
func BenchmarkOutboxPass(b *testing.B) {
	for _, status := range []domain.OutboxStatus{domain.OutboxDone, domain.OutboxReady} {
		name := map[domain.OutboxStatus]string{domain.OutboxDone: "delivered", domain.OutboxReady: "backlog"}[status]
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s := NewStore()
			t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
			for i := range 20000 {
				at := t0.Add(time.Duration(i) * time.Millisecond)
				e := domain.OutboxEntry{ID: fmt.Sprintf("online|deeplink|m%05d||%d", i, at.UnixMilli()), Status: status,
					CreatedAt: at, NextAttemptAt: at, DoneAt: at, Targets: []string{"log"}, Delivered: []string{"log"}}
				if err := s.InsertOutbox(ctx, e); err != nil {
					b.Fatal(err)
				}
			}
			now := t0.Add(time.Hour)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.ListOutbox(ctx, domain.OutboxFilter{Status: domain.OutboxPending, Limit: 100}); err != nil {
					b.Fatal(err)
				}
				if _, err := s.DueOutbox(ctx, now, 100); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
