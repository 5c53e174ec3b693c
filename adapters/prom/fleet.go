// Package prom exposes the fleet and the node to Prometheus.
package prom

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"

	"ddn/domain/periodic"
	"ddn/ports"
)

// gib converts the GB that agents report into bytes (agents report GiB:
// nvidia-smi MiB / 1024, /proc/meminfo KiB / 1024²).
const gib = 1 << 30

// Fleet is a snapshot of machine_info, refreshed on an interval and kept
// rendered in the Prometheus text format: a scrape copies bytes and never
// reads the store, and every node of the cluster serves the same series.
type Fleet struct {
	store   ports.MachineStore
	timeout time.Duration
	log     *zap.Logger
	// node are the node's own series served beside the fleet (open connections).
	node prometheus.Gatherer

	rendered    atomic.Pointer[[]byte]
	refreshedAt atomic.Int64
	errors      atomic.Uint64
}

// NewFleet returns an empty snapshot; Refresh or Run fills it.
func NewFleet(store ports.MachineStore, timeout time.Duration, node prometheus.Gatherer, log *zap.Logger) *Fleet {
	if log == nil {
		log = zap.NewNop()
	}
	f := &Fleet{store: store, timeout: timeout, node: node, log: log}
	empty := []byte{}
	f.rendered.Store(&empty)
	return f
}

// Refresh reads machine_info once and replaces the snapshot; on error the
// previous snapshot stays and the error is counted.
func (f *Fleet) Refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	machines, err := f.store.ListMachines(ctx, ports.MachineFilter{})
	if err != nil {
		f.errors.Add(1)
		return fmt.Errorf("fleet snapshot: %w", err)
	}
	out := Render(machines)
	f.rendered.Store(&out)
	f.refreshedAt.Store(time.Now().UnixNano())
	return nil
}

// Run refreshes the snapshot every interval until ctx ends.
func (f *Fleet) Run(ctx context.Context, every time.Duration) {
	periodic.Run(ctx, every, func(ctx context.Context) {
		if err := f.Refresh(ctx); err != nil && ctx.Err() == nil {
			f.log.Error("refresh fleet metrics", zap.Error(err))
		}
	})
}

// ServeHTTP serves GET /metrics/prometheus.
func (f *Fleet) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	_, _ = w.Write(*f.rendered.Load())
	_, _ = w.Write(f.meta())
	if f.node != nil {
		if mfs, err := f.node.Gather(); err == nil {
			enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
			for _, mf := range mfs {
				_ = enc.Encode(mf)
			}
		}
	}
}

// meta describes the snapshot itself.
func (f *Fleet) meta() []byte {
	var b []byte
	b = header(b, "ddn_fleet_snapshot_timestamp_seconds", "gauge", "When the fleet snapshot served here was read from machine_info.")
	b = append(b, "ddn_fleet_snapshot_timestamp_seconds "...)
	b = strconv.AppendFloat(b, float64(f.refreshedAt.Load())/1e9, 'f', 3, 64)
	b = append(b, '\n')
	b = header(b, "ddn_fleet_snapshot_errors_total", "counter", "Refreshes of the fleet snapshot that could not read the store.")
	b = append(b, "ddn_fleet_snapshot_errors_total "...)
	b = strconv.AppendUint(b, f.errors.Load(), 10)
	return append(b, '\n')
}

// Gatherer exposes the snapshot to the Prometheus client (Pushgateway, tests).
func (f *Fleet) Gatherer() prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		var buf bytes.Buffer
		buf.Write(*f.rendered.Load())
		buf.Write(f.meta())
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(&buf)
		if err != nil {
			return nil, fmt.Errorf("parse fleet snapshot: %w", err)
		}
		out := make([]*dto.MetricFamily, 0, len(families))
		for _, mf := range families {
			out = append(out, mf)
		}
		slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
		return out, nil
	})
}
