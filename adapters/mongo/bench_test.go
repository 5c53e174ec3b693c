package mongo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"ddn/domain"
)

// seeded opens a fresh database on the embedded store holding n machines.
func seeded(b *testing.B, n int) (*storeUnderTest, []domain.MachineKey) {
	b.Helper()
	s := openB(b)
	keys := make([]domain.MachineKey, n)
	for i := range keys {
		keys[i] = domain.MachineKey{MachineID: fmt.Sprintf("m%06d", i), Project: "deeplink"}
		if _, _, err := s.MarkOnline(context.Background(), keys[i], 0, "n1", time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	if err := embeddedSrv.IndexIDs(context.Background()); err != nil {
		b.Fatal(err)
	}
	return s, keys
}

// BenchmarkAppendReports measures one group-commit insert of 256 reports.
func BenchmarkAppendReports256(b *testing.B) {
	s, keys := seeded(b, 256)
	info := domain.ShortTermInfo{GPUNames: []string{"NVIDIA GeForce RTX 4060"}, GPUMemoryTotal: []int64{8}, MemoryTotal: 16, CPUType: "i5", CPURate: 2500, Wallet: "0xabc"}
	batch := make([]domain.Report, len(keys))
	for i, k := range keys {
		batch[i] = domain.Report{Key: k, Timestamp: time.Now(), ShortTerm: &info}
	}
	b.ResetTimer()
	for b.Loop() {
		if err := s.AppendReports(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "reports/s")
}

// BenchmarkTouchLastReports measures the last_report_time refresh: one
// machine per write (batch=1, what every refresh cost before batching) and
// 500 machines in one write (the refresh of ingest-durable's whole fleet).
// ns/op is one write; machines/s is the refresh rate it sustains.
func BenchmarkTouchLastReports(b *testing.B) {
	for _, n := range []int{100, 2000} {
		for _, batch := range []int{1, 500} {
			if batch > n {
				continue
			}
			b.Run(fmt.Sprintf("machines=%d/batch=%d", n, batch), func(b *testing.B) {
				s, keys := seeded(b, n)
				i := 0
				for b.Loop() {
					chunk := make([]domain.MachineKey, batch)
					for j := range chunk {
						chunk[j] = keys[(i+j)%len(keys)]
					}
					if err := s.TouchLastReports(context.Background(), chunk, time.Now()); err != nil {
						b.Fatal(err)
					}
					i += batch
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "machines/s")
			})
		}
	}
}

// BenchmarkOnlineCycle measures a machine going online and disconnecting:
// claim, mark online, release (a delete), mark disconnected.
func BenchmarkOnlineCycle(b *testing.B) {
	for _, n := range []int{100, 2000} {
		b.Run(fmt.Sprintf("machines=%d", n), func(b *testing.B) {
			s, keys := seeded(b, n)
			i := 0
			ctx := context.Background()
			for b.Loop() {
				k := keys[i%len(keys)]
				id := fmt.Sprint(i)
				if err := s.InsertConnection(ctx, connection(k, id)); err != nil {
					b.Fatal(err)
				}
				if _, _, err := s.MarkOnline(ctx, k, 0, "n1", time.Now()); err != nil {
					b.Fatal(err)
				}
				if _, err := s.DeleteConnection(ctx, k, id); err != nil {
					b.Fatal(err)
				}
				if err := s.MarkDisconnected(ctx, k, time.Now(), time.Time{}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
