package transfer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/app/transfer"
	"ddn/domain"
)

var ctx = context.Background()

// collect is a sink that keeps what it is given.
type collect struct {
	machines []domain.Machine
	reports  []domain.Report
	flushes  int
	failAt   int // fail the n-th report (1-based); 0: never
}

func (c *collect) Machine(m domain.Machine) error { c.machines = append(c.machines, m); return nil }
func (c *collect) Report(r domain.Report) error {
	if c.failAt > 0 && len(c.reports)+1 == c.failAt {
		return errors.New("client went away")
	}
	c.reports = append(c.reports, r)
	return nil
}
func (c *collect) Flush() { c.flushes++ }

// TestExportImportRoundTrip: more machines than a page and more reports
// than a batch go out in order and come back into an empty store, and a
// second import of the same export inserts nothing.
func TestExportImportRoundTrip(t *testing.T) {
	src := memory.NewStore()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	machines := transfer.ExportPage + 7
	var rs []domain.Report
	for i := range machines {
		key := domain.MachineKey{Project: "p", MachineID: fmt.Sprintf("m%04d", i)}
		if err := src.PutMachine(ctx, domain.Machine{Key: key, State: domain.StateOffline}); err != nil {
			t.Fatal(err)
		}
		for j := range 11 {
			rs = append(rs, domain.Report{Key: key, Timestamp: t0.Add(time.Duration(j) * time.Minute), Bandwidth: &domain.BandwidthInfo{}})
		}
	}
	if err := src.AppendReports(ctx, rs); err != nil {
		t.Fatal(err)
	}
	var out collect
	n, err := transfer.Export(ctx, src, t0, t0.Add(time.Hour), &out)
	if err != nil {
		t.Fatal(err)
	}
	if n.Machines != int64(machines) || n.Reports != int64(len(rs)) || len(out.machines) != machines || len(out.reports) != len(rs) {
		t.Fatalf("exported %+v (%d machines, %d reports); want %d and %d", n, len(out.machines), len(out.reports), machines, len(rs))
	}
	if out.flushes < 2 {
		t.Fatalf("%d flushes for two pages of machines", out.flushes)
	}
	dst := memory.NewStore()
	for round, want := range []int64{int64(len(rs)), 0} {
		im := transfer.NewImport(dst)
		for _, m := range out.machines {
			if err := im.Machine(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range out.reports {
			if err := im.Report(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := im.Finish(ctx); err != nil {
			t.Fatal(err)
		}
		c := im.Counts()
		if c.Machines != int64(machines) || c.ReportsImported != want || c.ReportsImported+c.ReportsSkipped != int64(len(rs)) {
			t.Fatalf("import %d: %+v; want %d machines, %d reports imported", round+1, c, machines, want)
		}
	}
}

// TestImportRefusesBadItems: a machine without an id and a report without
// a timestamp or with both kinds of info are invalid parameters.
func TestImportRefusesBadItems(t *testing.T) {
	im := transfer.NewImport(memory.NewStore())
	key := domain.MachineKey{Project: "p", MachineID: "m"}
	if err := im.Machine(ctx, domain.Machine{}); !errors.Is(err, domain.ErrInvalidParam) {
		t.Errorf("machine without an id: %v", err)
	}
	for _, r := range []domain.Report{
		{Key: key, ShortTerm: &domain.ShortTermInfo{}},
		{Key: key, Timestamp: time.Now(), ShortTerm: &domain.ShortTermInfo{}, Bandwidth: &domain.BandwidthInfo{}},
		{Key: key, Timestamp: time.Now()},
	} {
		if err := im.Report(ctx, r); !errors.Is(err, domain.ErrInvalidParam) {
			t.Errorf("report %+v: %v, want an invalid parameter", r, err)
		}
	}
}

// TestExportStopsWhenTheSinkFails: a client that goes away ends the export
// with the sink's error, not a store error.
func TestExportStopsWhenTheSinkFails(t *testing.T) {
	src := memory.NewStore()
	key := domain.MachineKey{Project: "p", MachineID: "m"}
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if err := src.AppendReports(ctx, []domain.Report{{Key: key, Timestamp: t0, Bandwidth: &domain.BandwidthInfo{}}, {Key: key, Timestamp: t0.Add(time.Second), Bandwidth: &domain.BandwidthInfo{}}}); err != nil {
		t.Fatal(err)
	}
	_, err := transfer.Export(ctx, src, t0, t0.Add(time.Hour), &collect{failAt: 2})
	var ee *transfer.ExportError
	if err == nil || errors.As(err, &ee) {
		t.Fatalf("err = %v, want the sink's error", err)
	}
}
