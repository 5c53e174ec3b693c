package storetest

import (
	"testing"
	"time"

	"ddn/domain"
	"ddn/ports"
)

// presenceTests check the presence history the Mark* calls record.
var presenceTests = []struct {
	name string
	fn   func(*testing.T, ports.Store)
}{
	{"PresenceHistoryRecordsTransitions", presenceHistoryRecordsTransitions},
	{"PresenceHistoryExpiresAndIsForgotten", presenceHistoryExpiresAndIsForgotten},
}

// presenceHistoryRecordsTransitions: online, disconnect, offline,
// reconnect, node lost are recorded in order with their reasons; a call
// that changes nothing records nothing; machines do not share histories.
func presenceHistoryRecordsTransitions(t *testing.T, s ports.Store) {
	if h, err := s.ListPresence(ctx, keyA, time.Time{}); err != nil || len(h) != 0 {
		t.Fatalf("history of an unknown machine = %v, %v; want none", h, err)
	}
	min := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	_, _, err := s.MarkOnline(ctx, keyA, 0, "n1", min(0))
	must(t, err)
	_, _, err = s.MarkOnline(ctx, keyB, 0, "n1", min(0))
	must(t, err)
	must(t, s.MarkDisconnected(ctx, keyA, min(10), time.Time{}))
	if ok, err := s.MarkOffline(ctx, keyA, min(9), min(16)); err != nil || ok {
		t.Fatalf("offline with a wrong since = %v, %v; want no change", ok, err)
	}
	ok, err := s.MarkOffline(ctx, keyA, min(10), min(15))
	must(t, err)
	if !ok {
		t.Fatal("offline not made")
	}
	_, _, err = s.MarkOnline(ctx, keyA, 0, "n2", min(30))
	must(t, err)
	if ok, err := s.MarkDisconnectedBy(ctx, keyA, "n1", min(40)); err != nil || ok {
		t.Fatalf("release by a node that does not hold it = %v, %v; want no change", ok, err)
	}
	ok, err = s.MarkDisconnectedBy(ctx, keyA, "n2", min(40))
	must(t, err)
	if !ok {
		t.Fatal("release by the holding node not made")
	}
	h, err := s.ListPresence(ctx, keyA, time.Time{})
	must(t, err)
	want := []domain.PresenceChange{
		{Key: keyA, At: min(0), State: domain.StateOnline, NodeID: "n1"},
		{Key: keyA, At: min(10), State: domain.StateDisconnected, Reason: domain.ReasonDisconnected},
		{Key: keyA, At: min(15), State: domain.StateOffline, Reason: domain.ReasonOffline},
		{Key: keyA, At: min(30), State: domain.StateOnline, NodeID: "n2"},
		{Key: keyA, At: min(40), State: domain.StateDisconnected, Reason: domain.ReasonNodeLost, NodeID: "n2"},
	}
	if len(h) != len(want) {
		t.Fatalf("history = %+v\nwant %+v", h, want)
	}
	for i := range want {
		g, w := h[i], want[i]
		if g.Key != w.Key || !sameTime(g.At, w.At) || g.State != w.State || g.Reason != w.Reason || (w.NodeID != "" && g.NodeID != w.NodeID) {
			t.Errorf("change %d = %+v, want %+v", i, g, w)
		}
	}
	before, err := s.ListPresence(ctx, keyA, min(15))
	must(t, err)
	if len(before) != 2 {
		t.Errorf("changes before minute 15 = %d, want 2", len(before))
	}
	hb, err := s.ListPresence(ctx, keyB, time.Time{})
	must(t, err)
	if len(hb) != 1 || hb[0].Key != keyB {
		t.Errorf("history of B = %+v, want its one online", hb)
	}
}

// presenceHistoryExpiresAndIsForgotten: the retention pass (PruneReports)
// drops older changes; forgetting a machine drops its history.
func presenceHistoryExpiresAndIsForgotten(t *testing.T, s ports.Store) {
	_, _, err := s.MarkOnline(ctx, keyA, 0, "n1", t0)
	must(t, err)
	must(t, s.MarkDisconnected(ctx, keyA, t0.Add(time.Hour), time.Time{}))
	_, _, err = s.MarkOnline(ctx, keyB, 0, "n1", t0)
	must(t, err)
	_, err = s.PruneReports(ctx, t0.Add(time.Minute))
	must(t, err)
	h, err := s.ListPresence(ctx, keyA, time.Time{})
	must(t, err)
	if len(h) != 1 || h[0].State != domain.StateDisconnected {
		t.Fatalf("history after prune = %+v, want the disconnect only", h)
	}
	if hb, err := s.ListPresence(ctx, keyB, time.Time{}); err != nil || len(hb) != 0 {
		t.Fatalf("history of B after prune = %+v, %v; want none", hb, err)
	}
	_, err = s.DeleteMachine(ctx, keyA)
	must(t, err)
	if h, err := s.ListPresence(ctx, keyA, time.Time{}); err != nil || len(h) != 0 {
		t.Fatalf("history after forgetting = %+v, %v; want none", h, err)
	}
}
