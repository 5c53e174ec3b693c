// Package ingest group-commits reports: handlers wait for the batch holding
// their report to be stored, and batches flush on size or after a short delay,
// so one store round trip acknowledges many reports.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ddn/domain"
	"ddn/ports"
)

// ErrClosed is returned for reports offered after the batcher stopped.
var ErrClosed = errors.New("report batcher stopped")

type pending struct {
	report domain.Report
	done   chan error
}

// Batcher collects reports from many connections into batched inserts.
type Batcher struct {
	store    ports.ReportStore
	maxBatch int
	maxDelay time.Duration
	queue    chan pending
	stopped  chan struct{}
	finished chan struct{}
	// FlushTimeout bounds one batch insert, so a hung store fails reports
	// instead of holding connections forever.
	FlushTimeout time.Duration
	// OnFlush, if set, observes each flush (metrics); it must not block.
	OnFlush func(size int, took time.Duration, err error)
}

// NewBatcher returns a batcher that stores at most maxBatch reports per insert
// and holds a report at most maxDelay waiting for company.
func NewBatcher(store ports.ReportStore, maxBatch int, maxDelay time.Duration) *Batcher {
	if maxBatch < 1 {
		maxBatch = 1
	}
	return &Batcher{
		store:    store,
		maxBatch: maxBatch,
		maxDelay: maxDelay,
		queue:    make(chan pending, maxBatch*4),
		stopped:  make(chan struct{}),
		finished: make(chan struct{}),

		FlushTimeout: 30 * time.Second,
	}
}

// Append stores r as part of a batch and returns once that batch is durable
// (nil) or failed (an error matching domain.ErrStore). The queue is bounded:
// when it is full Append waits, which is the backpressure on connections.
func (b *Batcher) Append(ctx context.Context, r domain.Report) error {
	p := pending{report: r, done: make(chan error, 1)}
	select {
	case b.queue <- p:
	case <-b.stopped:
		return fmt.Errorf("append report %s: %w: %w", r.Key, domain.ErrStore, ErrClosed)
	case <-ctx.Done():
		return fmt.Errorf("append report %s: %w: %w", r.Key, domain.ErrStore, ctx.Err())
	}
	// Once queued the report will be flushed, so wait for the verdict even if
	// ctx ends: answering early could acknowledge nothing or double-store.
	select {
	case err := <-p.done:
		return err
	case <-b.finished:
		// Run has returned; a report queued after its last drain is never
		// stored, so it is not acknowledged either.
		select {
		case err := <-p.done:
			return err
		default:
			return fmt.Errorf("append report %s: %w: %w", r.Key, domain.ErrStore, ErrClosed)
		}
	}
}

// Run flushes batches until ctx ends, then flushes what is queued and returns.
// Exactly one goroutine runs it; it owns the store writes of reports.
func (b *Batcher) Run(ctx context.Context) {
	defer close(b.finished)
	batch := make([]pending, 0, b.maxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		b.flush(batch)
		batch = batch[:0]
	}
	for {
		select {
		case p := <-b.queue:
			if len(batch) == 0 {
				timer.Reset(b.maxDelay)
			}
			batch = append(batch, p)
			if len(batch) >= b.maxBatch {
				timer.Stop()
				flush()
			}
		case <-timer.C:
			flush()
		case <-ctx.Done():
			timer.Stop()
			close(b.stopped)
			for {
				select {
				case p := <-b.queue:
					batch = append(batch, p)
					if len(batch) >= b.maxBatch {
						flush()
					}
				default:
					flush()
					return
				}
			}
		}
	}
}

func (b *Batcher) flush(batch []pending) {
	reports := make([]domain.Report, len(batch))
	for i, p := range batch {
		reports[i] = p.report
	}
	start := time.Now()
	// The flush outlives any one caller's context (callers wait for it) and
	// the node's (Run drains after cancellation), so it has its own deadline.
	ctx, cancel := context.WithTimeout(context.Background(), b.FlushTimeout)
	defer cancel()
	err := b.store.AppendReports(ctx, reports)
	if err != nil {
		err = fmt.Errorf("store %d reports: %w: %w", len(reports), domain.ErrStore, err)
	}
	if b.OnFlush != nil {
		b.OnFlush(len(reports), time.Since(start), err)
	}
	for _, p := range batch {
		p.done <- err
	}
}
