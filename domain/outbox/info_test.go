package outbox

import (
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
	if e := f.entry(t, stored.ID); e.Status != ports.OutboxDone {
		t.Fatalf("stored info entry = %+v", e)
	}
	if e := f.entry(t, lost.ID); e.Status != ports.OutboxCancelled {
		t.Fatalf("unstored info entry = %+v", e)
	}
}
