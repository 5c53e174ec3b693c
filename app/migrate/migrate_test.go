package migrate_test

import (
	"context"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/app/migrate"
	"ddn/app/sweep"
	"ddn/domain"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
)

func TestClassifyGivesEveryLegacyMachineAPresence(t *testing.T) {
	store := memory.NewStore()
	clock := memory.NewClock(t0)
	info := domain.ShortTermInfo{GPUNames: []string{"NVIDIA GeForce RTX 4060"}, GPUMemoryTotal: []int64{8188}, MemoryTotal: 16,
		CPUType: "i5", CPURate: 2500, Wallet: "0x1", CalcPoint: 83.72}
	keys := map[string]domain.MachineKey{}
	for i := range 1203 { // more than two pages
		k := domain.MachineKey{MachineID: "m" + string(rune('a'+i%26)) + time.Duration(i).String(), Project: "DeepLinkEVM"}
		keys[k.MachineID] = k
		if err := store.SetShortTermInfo(ctx, k, info, t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	held := domain.MachineKey{MachineID: "held", Project: "DeepLinkEVM"}
	if err := store.SetShortTermInfo(ctx, held, info, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := store.InsertConnection(ctx, domain.Connection{Key: held, AddTime: t0.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	res, err := migrate.Classify(ctx, store, clock)
	if err != nil {
		t.Fatal(err)
	}
	if res.Online != 1 || res.Disconnected != 1203 || res.Offline != 0 {
		t.Fatalf("result = %+v", res)
	}
	m, err := store.GetMachine(ctx, held)
	if err != nil || m.State != domain.StateOnline || m.NodeID != "" {
		t.Fatalf("held = %+v, %v", m, err)
	}
	for _, k := range keys {
		m, err := store.GetMachine(ctx, k)
		if err != nil || m.State != domain.StateDisconnected || !m.LastDisconnectTime.Equal(t0) {
			t.Fatalf("%s = %+v, %v; want disconnected since the switch", k, m, err)
		}
	}
	if again, err := migrate.Classify(ctx, store, clock); err != nil || again.Total() != 0 {
		t.Fatalf("second run = %+v, %v; want nothing left", again, err)
	}
}

// A machine whose claim the original left behind is online until the
// sweeper releases that claim (no node holds it); the grace period runs
// from the release, then it goes offline like any machine.
func TestLegacyClaimThenSweeper(t *testing.T) {
	store := memory.NewStore()
	clock := memory.NewClock(t0)
	k := domain.MachineKey{MachineID: "crashed", Project: "DeepLinkEVM"}
	if err := store.SetBandwidthInfo(ctx, k, domain.BandwidthInfo{CPUCores: 1, MemoryTotal: 2, HDD: 50, Bandwidth: 10, Wallet: "0x1"}, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := store.InsertConnection(ctx, domain.Connection{Key: k, AddTime: t0.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Classify(ctx, store, clock); err != nil {
		t.Fatal(err)
	}
	sw := sweep.New(sweep.Config{NodeID: "n1", Grace: time.Minute, NodeExpiry: 15 * time.Second}, store, clock, new(memory.Events).Observe)
	if res, err := sw.Sweep(ctx); err != nil || res.Released != 1 || res.Offline != 0 {
		t.Fatalf("first sweep = %+v, %v; want the claim released", res, err)
	}
	clock.Advance(time.Minute)
	if res, err := sw.Sweep(ctx); err != nil || res.Offline != 1 {
		t.Fatalf("sweep after the grace period = %+v, %v; want it offline", res, err)
	}
	m, err := store.GetMachine(ctx, k)
	if err != nil || m.State != domain.StateOffline {
		t.Fatalf("machine = %+v, %v", m, err)
	}
}
