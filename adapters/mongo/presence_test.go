package mongo_test

import (
	"context"
	"testing"
	"time"

	"ddn/adapters/mongo"
	"ddn/domain"
)

// TestPresenceHistoryIsCapped: a machine's history keeps its newest
// changes only, so a flapping machine's document stays bounded.
func TestPresenceHistoryIsCapped(t *testing.T) {
	defer mongo.SetMaxPresenceChanges(3)()
	s := open(t, embeddedURI, freshDatabase())
	ctx := context.Background()
	key := domain.MachineKey{MachineID: "flappy", Project: "p"}
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if _, _, err := s.MarkOnline(ctx, key, 0, "n1", t0.Add(time.Duration(2*i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkDisconnected(ctx, key, t0.Add(time.Duration(2*i+1)*time.Minute), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.ListPresence(ctx, key, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 || !h[0].At.Equal(t0.Add(3*time.Minute)) || !h[2].At.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("history = %+v, want the newest 3 changes (minutes 3, 4, 5)", h)
	}
}
