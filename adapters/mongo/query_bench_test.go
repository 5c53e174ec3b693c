package mongo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"ddn/domain"
)

// BenchmarkListMachinesPage measures one page of 100 of the query API from
// the middle of the fleet (the cursor filter and the key sort).
func BenchmarkListMachinesPage(b *testing.B) {
	s, keys := seeded(b, 2000)
	after := keys[len(keys)/2]
	for b.Loop() {
		ms, err := s.ListMachines(context.Background(), domain.MachineFilter{After: &after, Limit: 101})
		if err != nil || len(ms) != 101 {
			b.Fatal(len(ms), err)
		}
	}
}

// withReports adds n reports spread over the last n minutes of 100 machines.
func withReports(b *testing.B, n int) (*storeUnderTest, []domain.Report) {
	b.Helper()
	s, keys := seeded(b, 100)
	info := domain.BandwidthInfo{CPUCores: 4, MemoryTotal: 8, HDD: 500, Bandwidth: 100, Wallet: "0xdef"}
	now := time.Now().Truncate(time.Millisecond)
	rs := make([]domain.Report, n)
	for i := range rs {
		rs[i] = domain.Report{Key: keys[i%len(keys)], Timestamp: now.Add(-time.Duration(i) * time.Minute / time.Duration(len(keys))), Bandwidth: &info}
	}
	for i := 0; i < n; i += 1000 {
		if err := s.AppendReports(context.Background(), rs[i:min(i+1000, n)]); err != nil {
			b.Fatal(err)
		}
	}
	return s, rs
}

// BenchmarkCountReportsLastHour measures what /api/v0/stats adds to the
// census: a count of machine_tm since an hour ago.
func BenchmarkCountReportsLastHour(b *testing.B) {
	for _, n := range []int{10000} {
		b.Run(fmt.Sprintf("reports=%d", n), func(b *testing.B) {
			s, _ := withReports(b, n)
			since := time.Now().Add(-time.Hour)
			for b.Loop() {
				if _, err := s.CountReports(context.Background(), since); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkImportReportsAgain measures importing a batch of 5,000 reports
// (the API's batch) that are all stored already (a second import).
func BenchmarkImportReportsAgain(b *testing.B) {
	s, rs := withReports(b, 10000)
	batch := rs[:5000]
	for b.Loop() {
		n, err := s.ImportReports(context.Background(), batch)
		if err != nil || n != 0 {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "reports/s")
}

// BenchmarkExportScan measures streaming every report out of machine_tm.
func BenchmarkExportScan(b *testing.B) {
	s, rs := withReports(b, 10000)
	for b.Loop() {
		seen := 0
		if err := s.ScanReports(context.Background(), time.Time{}, time.Time{}, func(domain.Report) error { seen++; return nil }); err != nil || seen != len(rs) {
			b.Fatal(seen, err)
		}
	}
	b.ReportMetric(float64(b.N*len(rs))/b.Elapsed().Seconds(), "reports/s")
}
