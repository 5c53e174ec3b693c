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

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// countingStore counts the refresh writes and the machines in them.
type countingStore struct {
	*memory.Store
	mu     sync.Mutex
	writes int
	keys   int
}

func (c *countingStore) TouchLastReports(ctx context.Context, keys []domain.MachineKey, at time.Time) error {
	c.mu.Lock()
	c.writes++
	c.keys += len(keys)
	c.mu.Unlock()
	return c.Store.TouchLastReports(ctx, keys, at)
}

func seed(t *testing.T, s *memory.Store, n int) []domain.MachineKey {
	t.Helper()
	keys := make([]domain.MachineKey, n)
	for i := range keys {
		keys[i] = domain.MachineKey{MachineID: fmt.Sprintf("m%04d", i), Project: "deeplink"}
		if _, _, err := s.MarkOnline(context.Background(), keys[i], 0, "n1", t0); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestTouchesAreOneWriteAndFlushedAtStop: refreshes of many machines wait for
// one write, which the stop of the batcher still makes.
func TestTouchesAreOneWriteAndFlushedAtStop(t *testing.T) {
	store := &countingStore{Store: memory.NewStore()}
	keys := seed(t, store.Store, 300)
	b := ingest.NewBatcher(store, 16, time.Millisecond)
	b.TouchDelay = time.Hour // only the stop flushes
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	for _, k := range keys {
		b.Touch(k, t0.Add(time.Minute))
		b.Touch(k, t0.Add(30*time.Second)) // older: the later one is kept
	}
	cancel()
	<-done
	if store.writes != 1 || store.keys != len(keys) {
		t.Fatalf("%d writes of %d machines, want 1 of %d", store.writes, store.keys, len(keys))
	}
	for _, k := range keys {
		m, err := store.GetMachine(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		if !m.LastReportTime.Equal(t0.Add(time.Minute)) {
			t.Fatalf("%s: last report %v", k, m.LastReportTime)
		}
	}
}

// TestTouchesFlushWhenABatchIsFull: MaxTouchBatch pending machines are
// written without waiting for TouchDelay.
func TestTouchesFlushWhenABatchIsFull(t *testing.T) {
	store := &countingStore{Store: memory.NewStore()}
	keys := seed(t, store.Store, ingest.MaxTouchBatch)
	b := ingest.NewBatcher(store, 16, time.Millisecond)
	b.TouchDelay = time.Hour
	flushed := make(chan int, 4)
	b.OnTouchFlush = func(n int, _ time.Duration, err error) {
		if err == nil {
			flushed <- n
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for _, k := range keys {
		b.Touch(k, t0.Add(time.Minute))
	}
	select {
	case n := <-flushed:
		if n != ingest.MaxTouchBatch {
			t.Fatalf("flushed %d machines, want %d", n, ingest.MaxTouchBatch)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a full batch of refreshes was not written")
	}
}

// TestFailedTouchesAreRetried: a refresh the store refused is written by
// the next flush, and a newer refresh of the same machine wins.
func TestFailedTouchesAreRetried(t *testing.T) {
	store := &countingStore{Store: memory.NewStore()}
	keys := seed(t, store.Store, 2)
	b := ingest.NewBatcher(store, 16, time.Millisecond)
	b.TouchDelay = time.Millisecond
	results := make(chan error, 100)
	b.OnTouchFlush = func(_ int, _ time.Duration, err error) { results <- err }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	store.FailWith(errors.New("store down"))
	b.Touch(keys[0], t0.Add(time.Minute))
	b.Touch(keys[1], t0.Add(time.Minute))
	if err := <-results; !errors.Is(err, domain.ErrStore) {
		t.Fatalf("failed refresh: want ErrStore, got %v", err)
	}
	b.Touch(keys[1], t0.Add(2*time.Minute))
	store.FailWith(nil)
	for err := range results {
		if err == nil {
			break
		}
	}
	// Both were in the retried write: each machine holds at least the time
	// of the write it was part of.
	for i, want := range []time.Time{t0.Add(time.Minute), t0.Add(time.Minute)} {
		m, err := store.GetMachine(context.Background(), keys[i])
		if err != nil {
			t.Fatal(err)
		}
		if m.LastReportTime.Before(want) {
			t.Fatalf("%s: last report %v, want at least %v", keys[i], m.LastReportTime, want)
		}
	}
}
