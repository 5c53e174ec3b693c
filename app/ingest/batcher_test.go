package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/app/ingest"
	"ddn/domain"
)

func report(i int) domain.Report {
	return domain.Report{Key: domain.MachineKey{MachineID: fmt.Sprint(i), Project: "p"}, Timestamp: time.Unix(int64(i), 0),
		Bandwidth: &domain.BandwidthInfo{CPUCores: 1, MemoryTotal: 1, HDD: 1, Bandwidth: 1, Wallet: "w"}}
}

// start runs b until the test ends and returns the recorded batch sizes.
func start(t *testing.T, b *ingest.Batcher) func() []int {
	var mu sync.Mutex
	var sizes []int
	b.OnFlush = func(n int, _ time.Duration, _ error) { mu.Lock(); sizes = append(sizes, n); mu.Unlock() }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return func() []int { mu.Lock(); defer mu.Unlock(); return append([]int(nil), sizes...) }
}

// appendAll appends n reports concurrently and returns their errors, failing
// the test if they are not all answered within a generous bound.
func appendAll(t *testing.T, b *ingest.Batcher, n int) []error {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = b.Append(context.Background(), report(i)) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("appends were never answered")
	}
	return errs
}

func TestBatcherFlushesOnSize(t *testing.T) {
	store := memory.NewStore()
	b := ingest.NewBatcher(store, 4, time.Hour) // only size can trigger a flush
	sizes := start(t, b)
	for i, err := range appendAll(t, b, 8) {
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	if got := sizes(); len(got) != 2 || got[0] != 4 || got[1] != 4 {
		t.Fatalf("batch sizes = %v, want [4 4]", got)
	}
	for i := range 8 {
		rs, err := store.ListReports(context.Background(), report(i).Key, time.Time{}, time.Time{}, 0)
		if err != nil || len(rs) != 1 {
			t.Fatalf("report %d stored %d times (%v)", i, len(rs), err)
		}
	}
}

func TestBatcherFlushesOnDelay(t *testing.T) {
	store := memory.NewStore()
	b := ingest.NewBatcher(store, 1000, time.Millisecond)
	sizes := start(t, b)
	if errs := appendAll(t, b, 1); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if got := sizes(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("batch sizes = %v, want [1]", got)
	}
}

func TestBatcherReportsStoreFailureToEveryWaiter(t *testing.T) {
	store := memory.NewStore()
	store.FailWith(errors.New("disk gone"))
	b := ingest.NewBatcher(store, 3, time.Hour)
	start(t, b)
	for i, err := range appendAll(t, b, 3) {
		if !errors.Is(err, domain.ErrStore) || domain.CodeOf(err) != domain.CodeDatabase {
			t.Fatalf("append %d: want a store error (code 4), got %v", i, err)
		}
	}
	store.FailWith(nil)
	for i, err := range appendAll(t, b, 3) {
		if err != nil {
			t.Fatalf("after recovery, append %d: %v", i, err)
		}
	}
}

func TestBatcherDrainsOnStop(t *testing.T) {
	store := memory.NewStore()
	b := ingest.NewBatcher(store, 1000, time.Hour) // nothing flushes until stop
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()

	errs := make(chan error, 5)
	for i := range 5 {
		go func() { errs <- b.Append(context.Background(), report(i)) }()
	}
	// Stop at once: some appends may be queued before the stop and some
	// after; the invariant is that exactly the acknowledged ones are stored.
	cancel()
	<-done
	acked := 0
	for range 5 {
		if err := <-errs; err == nil {
			acked++
		} else if !errors.Is(err, ingest.ErrClosed) {
			t.Fatalf("unexpected error %v", err)
		}
	}
	stored := 0
	for i := range 5 {
		rs, _ := store.ListReports(context.Background(), report(i).Key, time.Time{}, time.Time{}, 0)
		stored += len(rs)
	}
	if stored != acked {
		t.Fatalf("acknowledged %d reports but stored %d", acked, stored)
	}
	if err := b.Append(context.Background(), report(99)); !errors.Is(err, ingest.ErrClosed) {
		t.Fatalf("append after stop: want ErrClosed, got %v", err)
	}
}
