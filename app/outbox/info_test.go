package outbox

import (
	"context"
	"fmt"
	"testing"
	"time"

	"ddn/domain"
	"ddn/ports"
)

// A node that recorded a first info and died before confirming: the entry
// is delivered when machine_info holds that kind of content, cancelled when
// it does not.
func TestRecoverySettlesFirstInfos(t *testing.T) {
	f := newFixture("n1")
	if _, _, err := f.store.MarkOnline(ctx, keyA, 0, "n1", t0); err != nil {
		t.Fatal(err)
	}
	st := domain.ShortTermInfo{CPUType: "x", CPURate: 1, GPUNames: []string{"g"}, GPUMemoryTotal: []int64{1}, MemoryTotal: 1, Wallet: "w"}
	if err := f.store.SetShortTermInfo(ctx, keyA, st, t0); err != nil {
		t.Fatal(err)
	}
	stored, _ := f.ob.Record(ctx, domain.Event{Kind: domain.EventShortTermInfo, Key: keyA, At: t0, ShortTerm: &st})
	lost, _ := f.ob.Record(ctx, domain.Event{Kind: domain.EventBandwidthInfo, Key: keyA, At: t0, Bandwidth: &domain.BandwidthInfo{}})
	f.clock.Advance(time.Minute)
	if p := dispatch(t, f.ob); p.Recovered != 1 || p.Cancelled != 1 || p.Delivered != 1 {
		t.Fatalf("pass = %+v", p)
	}
	if e := f.entry(t, stored.ID); e.Status != domain.OutboxDone {
		t.Fatalf("stored info entry = %+v", e)
	}
	if e := f.entry(t, lost.ID); e.Status != domain.OutboxCancelled {
		t.Fatalf("unstored info entry = %+v", e)
	}
}

// busy is a target held by another node: it answers domain.ErrNotNow while busy.
type busy struct{ busy bool }

func (b *busy) Deliver(context.Context, domain.Event) error {
	if b.busy {
		return fmt.Errorf("lease held by n2: %w", domain.ErrNotNow)
	}
	return nil
}

func TestBusyElsewhereIsNotAFailedAttempt(t *testing.T) {
	f := newFixture("n1")
	target := &busy{busy: true}
	ob := New(Config{NodeID: "n1", Targets: []string{"chain"}, MaxAttempts: 2}, f.store, f.clock, map[string]ports.Deliverer{"chain": target})
	e, err := ob.Record(ctx, domain.Event{Kind: domain.EventOnline, Key: keyA, At: t0})
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Confirm(ctx, e); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		dispatch(t, ob)
		f.clock.Advance(31 * time.Second)
	}
	got := f.entry(t, e.ID)
	if got.Status != domain.OutboxReady || got.Attempts != 0 {
		t.Fatalf("entry after 5 busy passes = %+v, want ready with no attempt counted", got)
	}
	target.busy = false
	if p := dispatch(t, ob); p.Delivered != 1 {
		t.Fatalf("pass = %+v", p)
	}
}
