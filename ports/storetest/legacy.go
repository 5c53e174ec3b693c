package storetest

import (
	"testing"
	"time"

	"ddn/domain"
	"ddn/ports"
)

// legacyMachinesClassifiedOnce: records without a state (written here by a
// report of a machine never online, as the original wrote them) are listed
// until classified; a classification writes the state only while there is
// none, so a machine brought online meanwhile keeps its online.
func legacyMachinesClassifiedOnce(t *testing.T, s ports.Store) {
	for _, k := range []domain.MachineKey{keyA, keyB, keyC} {
		must(t, s.SetShortTermInfo(ctx, k, gpu, t0))
	}
	got, err := s.ListUnclassified(ctx, 0)
	must(t, err)
	if len(got) != 3 || got[0].Key != keyA || got[1].Key != keyB || got[2].Key != keyC || got[0].State != domain.StateUnknown {
		t.Fatalf("ListUnclassified = %+v, want A, B, C without a state", got)
	}
	if page, err := s.ListUnclassified(ctx, 2); err != nil || len(page) != 2 {
		t.Fatalf("ListUnclassified(2) = %d machines, %v", len(page), err)
	}
	// keyC goes online on a node before the classification reaches it.
	if _, _, err := s.MarkOnline(ctx, keyC, 0, "n2", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	switchAt := t0.Add(time.Minute)
	n, err := s.ClassifyMachines(ctx, []domain.LegacyPresence{
		{Key: keyA, State: domain.StateDisconnected, Since: switchAt},
		{Key: keyB, State: domain.StateOnline, NodeID: ""},
		{Key: keyC, State: domain.StateOffline},
	})
	must(t, err)
	if n != 2 {
		t.Fatalf("classified %d, want 2 (keyC went online meanwhile)", n)
	}
	a, err := s.GetMachine(ctx, keyA)
	must(t, err)
	if a.State != domain.StateDisconnected || !sameTime(a.LastDisconnectTime, switchAt) || a.ShortTerm == nil {
		t.Fatalf("A = %+v, want disconnected since the switch with its info", a)
	}
	b, err := s.GetMachine(ctx, keyB)
	must(t, err)
	if b.State != domain.StateOnline || b.NodeID != "" {
		t.Fatalf("B = %+v, want online without a node (a claim nobody holds)", b)
	}
	c, err := s.GetMachine(ctx, keyC)
	must(t, err)
	if c.State != domain.StateOnline || c.NodeID != "n2" {
		t.Fatalf("C = %+v, want it left online on n2", c)
	}
	if rest, err := s.ListUnclassified(ctx, 0); err != nil || len(rest) != 0 {
		t.Fatalf("after classification: %+v, %v", rest, err)
	}
	if n, err := s.ClassifyMachines(ctx, []domain.LegacyPresence{{Key: keyA, State: domain.StateOffline}}); err != nil || n != 0 {
		t.Fatalf("classifying a classified machine again: %d, %v", n, err)
	}
}

// legacyClaimReleased: a claim without a connection id (the original
// node's machine_connection documents) is deleted with the empty id it is
// read with, so a sweeper or a takeover can release it; a claim with an id
// is not deleted by the empty one.
func legacyClaimReleased(t *testing.T, s ports.Store) {
	must(t, s.InsertConnection(ctx, domain.Connection{Key: keyA, AddTime: t0}))
	must(t, s.InsertConnection(ctx, domain.Connection{Key: keyB, NodeID: "n1", ConnID: "c1", AddTime: t0}))
	c, err := s.GetConnection(ctx, keyA)
	must(t, err)
	if c.ConnID != "" || c.NodeID != "" {
		t.Fatalf("legacy claim = %+v", c)
	}
	if ok, err := s.DeleteConnection(ctx, keyB, ""); err != nil || ok {
		t.Fatalf("the empty id deleted a claim with an id: %v, %v", ok, err)
	}
	if ok, err := s.DeleteConnection(ctx, keyA, c.ConnID); err != nil || !ok {
		t.Fatalf("delete the legacy claim = %v, %v; want it deleted", ok, err)
	}
	if _, err := s.GetConnection(ctx, keyA); err == nil {
		t.Fatal("the legacy claim is still there")
	}
}
