package ingest_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/app/ingest"
)

// BenchmarkBatcherAppend: many connections appending at once through the
// group commit onto the in-memory store (the batcher's own cost: queueing,
// batching, waking every waiter). -cpu sets the parallelism; each
// goroutine is one connection waiting for its acknowledgement.
func BenchmarkBatcherAppend(b *testing.B) {
	for _, delay := range []time.Duration{time.Millisecond, 5 * time.Millisecond} {
		b.Run(delay.String(), func(b *testing.B) {
			bt := ingest.NewBatcher(memory.NewStore(), 256, delay)
			var batches atomic.Int64
			bt.OnFlush = func(int, time.Duration, error) { batches.Add(1) }
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { bt.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			var next atomic.Int64
			b.SetParallelism(128) // 128 connections per CPU
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := bt.Append(context.Background(), report(int(next.Add(1)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reports/s")
			b.ReportMetric(float64(b.N)/float64(max(batches.Load(), 1)), "reports/batch")
		})
	}
}
