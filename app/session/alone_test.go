package session_test

import (
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/app/session"
	"ddn/domain"
)

// TestAloneNodeNeverFences: on a store of its own no other node can take
// a node's machines over, so however late its renewals (a node saturated
// by a storm), it neither refuses onlines nor closes its sessions; the same
// node on a shared store fences.
func TestAloneNodeNeverFences(t *testing.T) {
	for _, alone := range []bool{true, false} {
		store, clock := memory.NewStore(), memory.NewClock(t0)
		svc, err := session.NewService(session.Config{NodeID: "n1", NodeExpiry: 15 * time.Second, RenewInterval: 5 * time.Second, Alone: alone},
			store, storeAppender{store}, clock, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Join(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute) // no renewal for four expiries
		err = svc.Open("ip").Online(ctx, domain.OnlineRequest{Key: domain.MachineKey{MachineID: "m1", Project: "deeplink"}})
		switch {
		case alone && (svc.Fenced() || svc.CheckFence(ctx) || err != nil):
			t.Fatalf("alone: fenced %v, online %v; want no fence", svc.Fenced(), err)
		case !alone && (!svc.Fenced() || err == nil):
			t.Fatalf("shared store: fenced %v, online %v; want the fence", svc.Fenced(), err)
		}
	}
}
