package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"ddn/domain"
	"ddn/ports"
)

// touchLastReports: one call raises every known machine of the batch, never
// moves a later time back, and creates nothing for an unknown key.
func touchLastReports(t *testing.T, s ports.Store) {
	must(t, s.TouchLastReports(ctx, nil, t0)) // an empty batch is no write and no error
	keys := []domain.MachineKey{keyA, keyB}
	for i := range 40 {
		keys = append(keys, domain.MachineKey{MachineID: fmt.Sprintf("m-%03d", i), Project: "deeplink"})
	}
	for _, k := range keys {
		_, _, err := s.MarkOnline(ctx, k, 0, "n1", t0)
		must(t, err)
	}
	t1 := t0.Add(time.Minute)
	must(t, s.TouchLastReports(ctx, append(keys, keyC), t1))
	for _, k := range keys {
		m, err := s.GetMachine(ctx, k)
		must(t, err)
		if !sameTime(m.LastReportTime, t1) || m.State != domain.StateOnline {
			t.Fatalf("%s after touch: %+v", k, m)
		}
	}
	if _, err := s.GetMachine(ctx, keyC); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a touch created unknown machine %s: %v", keyC, err)
	}
	// A batch older than what a machine holds leaves it alone; the others move.
	must(t, s.SetShortTermInfo(ctx, keyB, gpu, t1.Add(time.Minute)))
	must(t, s.TouchLastReports(ctx, []domain.MachineKey{keyA, keyB}, t1.Add(30*time.Second)))
	a, err := s.GetMachine(ctx, keyA)
	must(t, err)
	b, err := s.GetMachine(ctx, keyB)
	must(t, err)
	if !sameTime(a.LastReportTime, t1.Add(30*time.Second)) || !sameTime(b.LastReportTime, t1.Add(time.Minute)) {
		t.Fatalf("late batch: A %v (want %v), B %v (want %v)", a.LastReportTime, t1.Add(30*time.Second), b.LastReportTime, t1.Add(time.Minute))
	}
}

// machineRecreatedAfterDelete: a machine forgotten and seen again is a new
// record that every write reaches (an adapter remembering where the old
// record was must not write into the void).
func machineRecreatedAfterDelete(t *testing.T, s ports.Store) {
	_, _, err := s.MarkOnline(ctx, keyA, 0, "n1", t0)
	must(t, err)
	must(t, s.SetShortTermInfo(ctx, keyA, gpu, t0.Add(time.Second)))
	must(t, s.MarkDisconnected(ctx, keyA, t0.Add(2*time.Second), time.Time{}))
	if _, err := s.DeleteMachine(ctx, keyA); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(time.Hour)
	prev, found, err := s.MarkOnline(ctx, keyA, domain.StakingLongTerm, "n2", t1)
	must(t, err)
	if found {
		t.Fatalf("a deleted machine came back as found: %+v", prev)
	}
	must(t, s.SetBandwidthInfo(ctx, keyA, bw, t1.Add(time.Second)))
	must(t, s.TouchLastReports(ctx, []domain.MachineKey{keyA}, t1.Add(time.Minute)))
	m, err := s.GetMachine(ctx, keyA)
	must(t, err)
	if m.ShortTerm != nil || m.Bandwidth == nil || m.NodeID != "n2" || !sameTime(m.RegisterTime, t1) ||
		!sameTime(m.LastReportTime, t1.Add(time.Minute)) || m.StakingType != domain.StakingLongTerm {
		t.Fatalf("recreated machine: %+v", m)
	}
	must(t, s.MarkDisconnected(ctx, keyA, t1.Add(2*time.Minute), time.Time{}))
	if m, err = s.GetMachine(ctx, keyA); err != nil || m.State != domain.StateDisconnected {
		t.Fatalf("recreated machine after disconnect: %+v, %v", m, err)
	}
	all, err := s.ListMachines(ctx, domain.MachineFilter{})
	must(t, err)
	if len(all) != 1 {
		t.Fatalf("want one record of %s, got %d", keyA, len(all))
	}
}

// connectionDeleteNeedsItsKey: a connection id names a claim only together
// with its key.
func connectionDeleteNeedsItsKey(t *testing.T, s ports.Store) {
	must(t, s.InsertConnection(ctx, conn(keyA, "n1", "c1")))
	must(t, s.InsertConnection(ctx, conn(keyB, "n1", "c2")))
	if deleted, err := s.DeleteConnection(ctx, keyB, "c1"); err != nil || deleted {
		t.Fatalf("deleted %s's claim through %s: %v %v", keyA, keyB, deleted, err)
	}
	for _, k := range []domain.MachineKey{keyA, keyB} {
		if _, err := s.GetConnection(ctx, k); err != nil {
			t.Fatalf("claim on %s: %v", k, err)
		}
	}
}
