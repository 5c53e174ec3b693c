// Package ingest group-commits reports: handlers wait for the batch holding
// their report to be stored, and batches flush on size or after a short delay,
// so one store round trip acknowledges many reports. The once-a-minute
// last_report_time refreshes are batched too (see Batcher.Touch).
package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// Store is what the batcher writes: reports, and last_report_time refreshes.
type Store interface {
	ports.ReportStore
	TouchLastReports(ctx context.Context, keys []domain.MachineKey, at time.Time) error
}

// Defaults of the batched last_report_time refresh.
const (
	// DefaultTouchDelay is how long a refresh waits for company. One flush
	// costs one write (a scan of machine_info on the embedded store) however
	// many machines it holds, and the field is refreshed only once a minute
	// anyway, so seconds of delay cost nothing a reader could see.
	DefaultTouchDelay = 2 * time.Second
	// MaxTouchBatch bounds the machines of one refresh write (the size of
	// its $in list); more pending flush at once.
	MaxTouchBatch = 1000
)

// Batcher collects reports from many connections into batched inserts.
type Batcher struct {
	store    Store
	maxBatch int
	maxDelay time.Duration
	queue    chan pending
	stopped  chan struct{}
	finished chan struct{}

	touchMu   sync.Mutex
	touches   map[domain.MachineKey]time.Time
	touchKick chan struct{}

	// FlushTimeout bounds one batch insert, so a hung store fails reports
	// instead of holding connections forever.
	FlushTimeout time.Duration
	// OnFlush, if set, observes each flush (metrics); it must not block.
	OnFlush func(size int, took time.Duration, err error)
	// TouchDelay is how often pending last_report_time refreshes are
	// written (DefaultTouchDelay when 0); set before Run.
	TouchDelay time.Duration
	// OnTouchFlush, if set, observes each refresh write (logs, metrics); a
	// failed one is retried with the next. It must not block.
	OnTouchFlush func(size int, took time.Duration, err error)
}

// NewBatcher returns a batcher that stores at most maxBatch reports per insert
// and holds a report at most maxDelay waiting for company.
func NewBatcher(store Store, maxBatch int, maxDelay time.Duration) *Batcher {
	if maxBatch < 1 {
		maxBatch = 1
	}
	return &Batcher{
		store:     store,
		maxBatch:  maxBatch,
		maxDelay:  maxDelay,
		queue:     make(chan pending, maxBatch*4),
		stopped:   make(chan struct{}),
		finished:  make(chan struct{}),
		touches:   map[domain.MachineKey]time.Time{},
		touchKick: make(chan struct{}, 1),

		FlushTimeout: 30 * time.Second,
	}
}

// Touch asks for key's last_report_time to be raised to at with the next
// refresh write, and returns at once: the report that prompts it is already
// durable in the time series, last_report_time only says how fresh the
// machine is (a minute's precision by design, and the disconnect writes the
// exact time), so no report waits for it. Pending refreshes are one entry
// per machine, the latest time kept; those still pending when Run returns
// after its final write are dropped.
func (b *Batcher) Touch(key domain.MachineKey, at time.Time) {
	b.touchMu.Lock()
	if prev, ok := b.touches[key]; !ok || at.After(prev) {
		b.touches[key] = at
	}
	full := len(b.touches) >= MaxTouchBatch
	b.touchMu.Unlock()
	if full {
		select {
		case b.touchKick <- struct{}{}:
		default:
		}
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
// Exactly one goroutine runs it; it owns the store writes of reports and
// of last_report_time refreshes (on a goroutine it starts and waits for).
func (b *Batcher) Run(ctx context.Context) {
	defer close(b.finished)
	batch := make([]pending, 0, b.maxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// Refreshes are written by a goroutine of their own, so a large one
	// (one small write per machine on the embedded store) never holds up a
	// batch of reports. It stops after the final flush of reports, below.
	touchCtx, stopTouches := context.WithCancel(context.WithoutCancel(ctx))
	touchesDone := make(chan struct{})
	go func() { defer close(touchesDone); b.runTouches(touchCtx) }()
	defer func() { stopTouches(); <-touchesDone }()
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

// runTouches writes the pending refreshes every TouchDelay, and at once
// when MaxTouchBatch are pending, until ctx ends; then once more.
func (b *Batcher) runTouches(ctx context.Context) {
	delay := b.TouchDelay
	if delay <= 0 {
		delay = DefaultTouchDelay
	}
	tick := time.NewTicker(delay)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			b.flushTouches()
		case <-b.touchKick:
			b.flushTouches()
		case <-ctx.Done():
			b.flushTouches()
			return
		}
	}
}

// flushTouches writes the pending last_report_time refreshes, at most
// MaxTouchBatch machines per write, each write with the earliest time of
// its machines (every one of them reported at or after it; the store keeps
// a later time it holds). A failed write's machines stay pending for the
// next flush unless a newer refresh replaced them.
func (b *Batcher) flushTouches() {
	b.touchMu.Lock()
	pending := b.touches
	if len(pending) == 0 {
		b.touchMu.Unlock()
		return
	}
	b.touches = make(map[domain.MachineKey]time.Time, len(pending))
	b.touchMu.Unlock()
	keys := make([]domain.MachineKey, 0, min(len(pending), MaxTouchBatch))
	var at time.Time
	write := func() {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), b.FlushTimeout)
		err := b.store.TouchLastReports(ctx, keys, at)
		cancel()
		if err != nil {
			err = fmt.Errorf("refresh last report time of %d machines: %w: %w", len(keys), domain.ErrStore, err)
			b.touchMu.Lock()
			for _, k := range keys {
				if _, newer := b.touches[k]; !newer {
					b.touches[k] = pending[k]
				}
			}
			b.touchMu.Unlock()
		}
		if b.OnTouchFlush != nil {
			b.OnTouchFlush(len(keys), time.Since(start), err)
		}
		keys, at = keys[:0], time.Time{}
	}
	for k, t := range pending {
		keys = append(keys, k)
		if at.IsZero() || t.Before(at) {
			at = t
		}
		if len(keys) == MaxTouchBatch {
			write()
		}
	}
	if len(keys) > 0 {
		write()
	}
}
