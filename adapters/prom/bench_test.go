package prom_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/adapters/prom"
	"ddn/domain"
	"ddn/ports"
)

// fleet returns n machines, half GPU machines with two GPUs, half bandwidth machines.
func fleet(n int) []domain.Machine {
	at := time.Unix(1_700_000_000, 0)
	ms := make([]domain.Machine, n)
	for i := range ms {
		m := domain.Machine{Key: domain.MachineKey{MachineID: fmt.Sprintf("machine-%07d", i), Project: "deeplink"},
			State: domain.StateOnline, NodeID: "node-1", LastReportTime: at, LastOfflineTime: at}
		if i%2 == 0 {
			m.ShortTerm = &domain.ShortTermInfo{GPUNames: []string{"NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090"}, GPUMemoryTotal: []int64{24, 24},
				MemoryTotal: 64, CPUType: "AMD Ryzen 9 7950X", CPURate: 4500, Wallet: "0x0123456789abcdef0123456789abcdef01234567", CalcPoint: 1234.56}
		} else {
			m.Bandwidth = &domain.BandwidthInfo{CPUCores: 4, MemoryTotal: 8, HDD: 500, Bandwidth: 100, Wallet: "0xabc", Region: "Texas"}
		}
		ms[i] = m
	}
	return ms
}

// BenchmarkRender is the work of one snapshot refresh (in the background,
// every Prometheus.FleetRefresh), without the store read.
func BenchmarkRender(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		ms := fleet(n)
		b.Run(fmt.Sprintf("machines=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				size = len(prom.Render(ms))
			}
			b.ReportMetric(float64(size), "bytes/scrape")
		})
	}
}

// listed serves a fixed fleet from ListMachines, to benchmark the scrape
// path without a store behind it.
type listed struct {
	ports.MachineStore
	ms []domain.Machine
}

func (l listed) ListMachines(context.Context, domain.MachineFilter) ([]domain.Machine, error) {
	return l.ms, nil
}

// BenchmarkScrape is what a scrape of /metrics/prometheus costs the node:
// copying the compressed snapshot for a client that accepts gzip (as
// Prometheus does), decompressing it as it is sent for one that does not.
func BenchmarkScrape(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		f := prom.NewFleet(listed{memory.NewStore(), fleet(n)}, time.Minute, prom.NewNodeMetrics().Connections(), nil)
		if err := f.Refresh(context.Background()); err != nil {
			b.Fatal(err)
		}
		for _, enc := range []string{"gzip", "identity"} {
			b.Run(fmt.Sprintf("machines=%d/%s", n, enc), func(b *testing.B) {
				b.ReportAllocs()
				req := httptest.NewRequest("GET", "/metrics/prometheus", nil)
				req.Header.Set("Accept-Encoding", enc)
				for b.Loop() {
					w := &discard{}
					f.ServeHTTP(w, req)
				}
			})
		}
	}
}

type discard struct{ httptest.ResponseRecorder }

func (d *discard) Write(p []byte) (int, error) { return io.Discard.Write(p) }

// BenchmarkRefresh is a whole background refresh: list (from memory here),
// then, when the fleet changed since the last refresh (one report time
// here), render and compress; an unchanged fleet is only hashed.
func BenchmarkRefresh(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, changed := range []bool{true, false} {
			store := &changing{ms: fleet(n), changed: changed}
			f := prom.NewFleet(store, time.Minute, nil, nil)
			name := fmt.Sprintf("machines=%d/unchanged", n)
			if changed {
				name = fmt.Sprintf("machines=%d/changed", n)
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				before := f.Renders()
				for b.Loop() {
					if err := f.Refresh(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
				req := httptest.NewRequest("GET", "/metrics/prometheus", nil)
				req.Header.Set("Accept-Encoding", "gzip")
				rec := httptest.NewRecorder()
				f.ServeHTTP(rec, req)
				b.ReportMetric(float64(rec.Body.Len()), "gzip-bytes/scrape")
				b.ReportMetric(float64(f.Renders()-before)/float64(b.N), "renders/op")
			})
		}
	}
}

// changing serves a fleet whose first machine reports once per read when
// changed is set.
type changing struct {
	ports.MachineStore
	ms      []domain.Machine
	changed bool
}

func (c *changing) ListMachines(context.Context, domain.MachineFilter) ([]domain.Machine, error) {
	if c.changed {
		c.ms[0].LastReportTime = c.ms[0].LastReportTime.Add(time.Second)
	}
	return c.ms, nil
}
