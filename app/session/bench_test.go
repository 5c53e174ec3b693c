package session_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/app/session"
	"ddn/domain"
)

// nopAppender acknowledges every report at once: the benchmarks measure the
// use cases, not the group commit (see app/ingest).
type nopAppender struct{}

func (nopAppender) Append(context.Context, domain.Report) error { return nil }

// BenchmarkReportShortTerm: the steady state of a connection, a report of
// unchanged content (validated, appended, machine_info untouched).
func BenchmarkReportShortTerm(b *testing.B) {
	store := memory.NewStore()
	svc, err := session.NewService(session.Config{NodeID: "bench"}, store, nopAppender{}, memory.NewClock(t0), new(memory.Events).Observe)
	if err != nil {
		b.Fatal(err)
	}
	ss := svc.Open("127.0.0.1")
	if err := ss.Online(ctx, domain.OnlineRequest{Key: keyA}); err != nil {
		b.Fatal(err)
	}
	if err := ss.ReportShortTerm(ctx, gpuPC); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := ss.ReportShortTerm(ctx, gpuPC); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOnlineCycle: a machine connecting and disconnecting (claim,
// online, outbox entry, release, disconnected) on the in-memory store.
func BenchmarkOnlineCycle(b *testing.B) {
	store := memory.NewStore()
	clock := memory.NewClock(t0)
	svc, err := session.NewService(session.Config{NodeID: "bench"}, store, nopAppender{}, clock, new(memory.Events).Observe)
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]domain.MachineKey, 1000)
	for i := range keys {
		keys[i] = domain.MachineKey{MachineID: fmt.Sprintf("m%04d", i), Project: "deeplink"}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		clock.Advance(time.Millisecond)
		ss := svc.Open("127.0.0.1")
		if err := ss.Online(ctx, domain.OnlineRequest{Key: keys[i%len(keys)]}); err != nil {
			b.Fatal(err)
		}
		if err := ss.Close(ctx); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkReconcile20000: one reconciler pass of a node holding 20,000
// live sessions whose claims are all in order (the pass it runs every
// RenewInterval); the in-memory store's listing is part of it.
func BenchmarkReconcile20000(b *testing.B) {
	store := memory.NewStore()
	svc, err := session.NewService(session.Config{NodeID: "bench"}, store, nopAppender{}, memory.NewClock(t0), new(memory.Events).Observe)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 20000 {
		ss := svc.Open("127.0.0.1")
		if err := ss.Online(ctx, domain.OnlineRequest{Key: domain.MachineKey{MachineID: fmt.Sprintf("m%05d", i), Project: "deeplink"}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := svc.Reconcile(ctx)
		if err != nil || res != (session.ReconcileResult{}) {
			b.Fatalf("reconcile = %+v, %v; want nothing to do", res, err)
		}
	}
}
