// Package prom exposes the fleet and the node to Prometheus.
package prom

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"

	"ddn/domain"
	"ddn/internal/periodic"
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

	// gzipped is the snapshot, kept compressed only (~30 bytes a machine
	// instead of ~1.2 KB of text).
	gzipped     atomic.Pointer[[]byte]
	refreshedAt atomic.Int64
	errors      atomic.Uint64

	// refreshMu serializes refreshes, which share the fingerprint state.
	refreshMu sync.Mutex
	fp        *fingerprinter
	// lastSum is the fingerprint of the fleet rendered last; rendered says
	// whether there is one (a first refresh always renders).
	lastSum     uint64
	hasRendered bool
	renders     atomic.Uint64
}

// NewFleet returns an empty snapshot; Refresh or Run fills it.
func NewFleet(store ports.MachineStore, timeout time.Duration, node prometheus.Gatherer, log *zap.Logger) *Fleet {
	if log == nil {
		log = zap.NewNop()
	}
	f := &Fleet{store: store, timeout: timeout, node: node, log: log, fp: newFingerprinter()}
	f.gzipped.Store(gzipMember(nil))
	return f
}

// Refresh reads machine_info once and replaces the snapshot; on error the
// previous snapshot stays and the error is counted. A fleet that reads the
// same as at the last refresh (same fingerprint) keeps its rendered and
// compressed snapshot: an idle fleet costs a read and a hash, not a render.
func (f *Fleet) Refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	machines, err := f.store.ListMachines(ctx, domain.MachineFilter{})
	if err != nil {
		f.errors.Add(1)
		return fmt.Errorf("fleet snapshot: %w", err)
	}
	f.refreshMu.Lock()
	defer f.refreshMu.Unlock()
	sum := f.fp.sum(machines)
	if !f.hasRendered || sum != f.lastSum {
		out, err := compressed(func(w io.Writer) error { return writeFleet(w, machines) })
		if err != nil {
			return fmt.Errorf("compress fleet snapshot: %w", err)
		}
		f.gzipped.Store(&out)
		f.lastSum, f.hasRendered = sum, true
		f.renders.Add(1)
	}
	f.refreshedAt.Store(time.Now().UnixNano())
	return nil
}

// Renders counts the refreshes that rendered the snapshot anew (the others
// found the fleet unchanged); tests and benchmarks read it.
func (f *Fleet) Renders() uint64 { return f.renders.Load() }

// Run refreshes the snapshot every interval until ctx ends.
func (f *Fleet) Run(ctx context.Context, every time.Duration) {
	periodic.Run(ctx, every, func(ctx context.Context) {
		if err := f.Refresh(ctx); err != nil && ctx.Err() == nil {
			f.log.Error("refresh fleet metrics", zap.Error(err))
		}
	})
}

// ServeHTTP serves GET /metrics/prometheus. A client that accepts gzip (as
// Prometheus does) gets the snapshot compressed at refresh time, followed
// by a small gzip member with the live series: one multi-member stream.
func (f *Fleet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	live := f.meta()
	if f.node != nil {
		if mfs, err := f.node.Gather(); err == nil {
			var buf bytes.Buffer
			enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
			for _, mf := range mfs {
				_ = enc.Encode(mf)
			}
			live = append(live, buf.Bytes()...)
		}
	}
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(*f.gzipped.Load())
		_, _ = w.Write(*gzipMember(live))
		return
	}
	// Rare (Prometheus asks for gzip): the snapshot is decompressed as it
	// is sent.
	if err := f.writeText(w); err != nil {
		f.log.Warn("serve fleet snapshot uncompressed", zap.Error(err))
		return
	}
	_, _ = w.Write(live)
}

// writeText writes the snapshot uncompressed.
func (f *Fleet) writeText(w io.Writer) error {
	zr, err := gzip.NewReader(bytes.NewReader(*f.gzipped.Load()))
	if err != nil {
		return fmt.Errorf("open fleet snapshot: %w", err)
	}
	if _, err := io.Copy(w, zr); err != nil {
		return fmt.Errorf("decompress fleet snapshot: %w", err)
	}
	return nil
}

// gzipMember compresses b as one gzip member, fast rather than small: it
// runs on every refresh.
func gzipMember(b []byte) *[]byte {
	out, _ := compressed(func(w io.Writer) error { _, err := w.Write(b); return err }) // a bytes.Buffer takes every write
	return &out
}

// compressed is one gzip member of what write writes, made with a pooled
// compressor.
func compressed(write func(io.Writer) error) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&buf)
	err := write(zw)
	if err == nil {
		err = zw.Close()
	}
	gzipWriters.Put(zw)
	return buf.Bytes(), err
}

// gzipWriters are reused: a compressor's state is ~1.2 MB, which every
// scrape would otherwise allocate for its few KB of live series.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level never fails
	return zw
}}

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
		if err := f.writeText(&buf); err != nil {
			return nil, err
		}
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
