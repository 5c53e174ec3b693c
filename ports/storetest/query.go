package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"ddn/domain"
	"ddn/ports"
)

// queryTests cover ports.QueryStore and the paging of ListMachines.
var queryTests = []struct {
	name string
	fn   func(*testing.T, ports.Store)
}{
	{"ListMachinesPagesAfterCursor", listMachinesPages},
	{"CountMachinesByProjectAndState", countMachines},
	{"CountReportsSince", countReports},
	{"DeleteMachineForgetsItsReportsAndClaim", deleteMachine},
	{"PutMachineReplacesByKey", putMachine},
	{"ImportReportsIsIdempotent", importReports},
	{"ScanReportsWindowAndStop", scanReports},
}

func listMachinesPages(t *testing.T, s ports.Store) {
	var all []domain.MachineKey
	for _, p := range []string{"b", "a"} {
		for _, id := range []string{"m2", "m1"} {
			for _, c := range []string{"", "c1"} {
				k := domain.MachineKey{MachineID: id, Project: p, ContainerID: c}
				_, _, err := s.MarkOnline(ctx, k, 0, "n1", t0)
				must(t, err)
				all = append(all, k)
			}
		}
	}
	slices.SortFunc(all, func(a, b domain.MachineKey) int {
		if a.Project != b.Project {
			return compare(a.Project, b.Project)
		}
		if a.MachineID != b.MachineID {
			return compare(a.MachineID, b.MachineID)
		}
		return compare(a.ContainerID, b.ContainerID)
	})
	var got []domain.MachineKey
	var after *domain.MachineKey
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatal("paging does not end")
		}
		ms, err := s.ListMachines(ctx, domain.MachineFilter{Limit: 3, After: after})
		must(t, err)
		for _, m := range ms {
			got = append(got, m.Key)
		}
		if len(ms) < 3 {
			break
		}
		k := ms[len(ms)-1].Key
		after = &k
	}
	if !slices.Equal(got, all) {
		t.Fatalf("pages of 3 = %v, want %v", got, all)
	}
	ms, err := s.ListMachines(ctx, domain.MachineFilter{Project: "a", After: &domain.MachineKey{MachineID: "m1", Project: "a", ContainerID: ""}})
	must(t, err)
	if len(ms) != 3 || ms[0].Key != (domain.MachineKey{MachineID: "m1", Project: "a", ContainerID: "c1"}) {
		t.Fatalf("project a after a/m1 = %+v", ms)
	}
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func countMachines(t *testing.T, s ports.Store) {
	for _, k := range []domain.MachineKey{keyA, keyB, keyC} {
		_, _, err := s.MarkOnline(ctx, k, 0, "n1", t0)
		must(t, err)
	}
	must(t, s.MarkDisconnected(ctx, keyB, t0, time.Time{}))
	got, err := s.CountMachines(ctx)
	must(t, err)
	want := []domain.MachineCount{
		{Project: "deeplink", State: domain.StateDisconnected, Count: 1},
		{Project: "deeplink", State: domain.StateOnline, Count: 1},
		{Project: "other", State: domain.StateOnline, Count: 1},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("CountMachines = %+v, want %+v", got, want)
	}
}

func countReports(t *testing.T, s ports.Store) {
	var batch []domain.Report
	for i := range 6 {
		b := bw
		batch = append(batch, domain.Report{Key: keyB, Timestamp: t0.Add(time.Duration(i) * 20 * time.Minute), Bandwidth: &b})
	}
	must(t, s.AppendReports(ctx, batch))
	n, err := s.CountReports(ctx, t0.Add(time.Hour))
	must(t, err)
	if n != 3 {
		t.Fatalf("reports since t0+1h = %d, want 3", n)
	}
}

func deleteMachine(t *testing.T, s ports.Store) {
	for _, k := range []domain.MachineKey{keyA, keyC} {
		_, _, err := s.MarkOnline(ctx, k, 0, "n1", t0)
		must(t, err)
		g := gpu
		must(t, s.AppendReports(ctx, []domain.Report{{Key: k, Timestamp: t0, ShortTerm: &g}, {Key: k, Timestamp: t0.Add(time.Minute), ShortTerm: &g}}))
	}
	must(t, s.InsertConnection(ctx, conn(keyA, "n1", "c1")))
	d, err := s.DeleteMachine(ctx, keyA)
	must(t, err)
	if d != (domain.MachineDeletion{Found: true, Reports: 2, Connection: true}) {
		t.Fatalf("DeleteMachine = %+v", d)
	}
	if _, err := s.GetMachine(ctx, keyA); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("machine still there: %v", err)
	}
	if _, err := s.GetConnection(ctx, keyA); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("claim still there: %v", err)
	}
	if rs, err := s.ListReports(ctx, keyA, time.Time{}, time.Time{}, 0); err != nil || len(rs) != 0 {
		t.Fatalf("reports still there: %d %v", len(rs), err)
	}
	if rs, err := s.ListReports(ctx, keyC, time.Time{}, time.Time{}, 0); err != nil || len(rs) != 2 {
		t.Fatalf("another machine's reports: %d %v", len(rs), err)
	}
	d, err = s.DeleteMachine(ctx, keyA)
	must(t, err)
	if d != (domain.MachineDeletion{}) {
		t.Fatalf("second delete = %+v", d)
	}
}

func putMachine(t *testing.T, s ports.Store) {
	g := gpu
	m := domain.Machine{Key: keyB, StakingType: domain.StakingLongTerm, State: domain.StateOffline, NodeID: "n7",
		RegisterTime: t0, LastOnlineTime: t0.Add(time.Minute), LastOfflineTime: t0.Add(3 * time.Minute),
		LastDisconnectTime: t0.Add(2 * time.Minute), LastReportTime: t0.Add(90 * time.Second), ShortTerm: &g,
		Location: &domain.Location{Country: "Japan", Region: "Tokyo", City: "Tokyo", Latitude: 35.6, Longitude: 139.7}}
	_, _, err := s.MarkOnline(ctx, keyB, 0, "n1", t0)
	must(t, err)
	must(t, s.PutMachine(ctx, m))
	must(t, s.PutMachine(ctx, m))
	got, err := s.GetMachine(ctx, keyB)
	must(t, err)
	if got.State != m.State || got.NodeID != "n7" || got.StakingType != m.StakingType || !sameTime(got.LastOfflineTime, m.LastOfflineTime) ||
		!sameTime(got.RegisterTime, t0) || got.ShortTerm == nil || !equalShortTerm(*got.ShortTerm, gpu) ||
		got.Location == nil || *got.Location != *m.Location || got.Bandwidth != nil {
		t.Fatalf("PutMachine round trip = %+v", got)
	}
	ms, err := s.ListMachines(ctx, domain.MachineFilter{})
	must(t, err)
	if len(ms) != 1 {
		t.Fatalf("two puts of one key made %d machines", len(ms))
	}
}

func importReports(t *testing.T, s ports.Store) {
	g, b := gpu, bw
	must(t, s.AppendReports(ctx, []domain.Report{{Key: keyA, Timestamp: t0, ShortTerm: &g}}))
	batch := []domain.Report{
		{Key: keyA, Timestamp: t0, ShortTerm: &g},                  // stored already
		{Key: keyA, Timestamp: t0.Add(time.Minute), ShortTerm: &g}, // new
		{Key: keyA, Timestamp: t0.Add(time.Minute), ShortTerm: &g}, // twice in the batch
		{Key: keyB, Timestamp: t0, Bandwidth: &b},                  // same time, other machine
	}
	n, err := s.ImportReports(ctx, batch)
	must(t, err)
	if n != 2 {
		t.Fatalf("first import inserted %d, want 2", n)
	}
	n, err = s.ImportReports(ctx, batch)
	must(t, err)
	if n != 0 {
		t.Fatalf("second import inserted %d, want 0", n)
	}
	a, err := s.ListReports(ctx, keyA, time.Time{}, time.Time{}, 0)
	must(t, err)
	bs, err := s.ListReports(ctx, keyB, time.Time{}, time.Time{}, 0)
	must(t, err)
	if len(a) != 2 || len(bs) != 1 || bs[0].Bandwidth == nil || *bs[0].Bandwidth != bw {
		t.Fatalf("after imports: %d reports of A, %+v of B", len(a), bs)
	}
}

func scanReports(t *testing.T, s ports.Store) {
	var batch []domain.Report
	for i := range 5 {
		g, b := gpu, bw
		batch = append(batch, domain.Report{Key: keyA, Timestamp: t0.Add(time.Duration(i) * time.Minute), ShortTerm: &g},
			domain.Report{Key: keyB, Timestamp: t0.Add(time.Duration(i) * time.Minute), Bandwidth: &b})
	}
	must(t, s.AppendReports(ctx, batch))
	counts := map[domain.MachineKey]int{}
	must(t, s.ScanReports(ctx, t0.Add(time.Minute), t0.Add(4*time.Minute), func(r domain.Report) error {
		if r.Timestamp.Before(t0.Add(time.Minute)) || !r.Timestamp.Before(t0.Add(4*time.Minute)) {
			t.Errorf("report outside the window: %v", r.Timestamp)
		}
		if (r.Key == keyA) != (r.ShortTerm != nil) || (r.Key == keyB) != (r.Bandwidth != nil) {
			t.Errorf("report body does not match its machine: %+v", r)
		}
		counts[r.Key]++
		return nil
	}))
	if counts[keyA] != 3 || counts[keyB] != 3 {
		t.Fatalf("scan [1m,4m) = %v, want 3 each", counts)
	}
	stop := errors.New("stop")
	seen := 0
	err := s.ScanReports(ctx, time.Time{}, time.Time{}, func(domain.Report) error { seen++; return stop })
	if !errors.Is(err, stop) || seen != 1 {
		t.Fatalf("scan stopped by fn: err %v after %d reports", err, seen)
	}
}
