package chain_test

import (
	"context"
	"errors"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"ddn/adapters/chain"
	"ddn/adapters/memory"
	"ddn/app/chainreport"
	"ddn/app/outbox"
	"ddn/domain"
	"ddn/ports"
)

// hashHook records the offline notifications with their transaction hash.
type hashHook struct {
	mu  sync.Mutex
	got []string
}

func (h *hashHook) Deliver(_ context.Context, e domain.Event) error {
	if e.Kind == domain.EventOffline || (e.Kind == domain.EventOfflineRentCheck && e.ReportTxHash != "") {
		h.mu.Lock()
		h.got = append(h.got, e.ReportTxHash)
		h.mu.Unlock()
	}
	return nil
}

// penaltyRig is the chain target under the rental rules over the real
// adapter on a simulated chain with the three test contracts, in a real
// outbox on a fake clock.
type penaltyRig struct {
	tc    *testChain
	reg   common.Address
	rc    *rentalContracts
	guard *memory.Guard
	hook  *hashHook
	clock *memory.Clock
	ob    *outbox.Outbox
}

func newPenaltyRig(t *testing.T, tc *testChain) *penaltyRig {
	t.Helper()
	r := &penaltyRig{tc: tc, reg: tc.deploy(t), rc: newRentalContracts(t, tc), guard: memory.NewGuard(), hook: &hashHook{},
		clock: memory.NewClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))}
	c := tc.adapter(t, r.reg, func(o *chain.Options) { o.RentAddress, o.FreeRentalAddress = r.rc.rent.Hex(), r.rc.free.Hex() })
	store := memory.NewStore()
	p := &chainreport.Penalty{Next: chainreport.New(c), State: c, Reporter: c, Rent: c, FreeRental: c,
		Guard: r.guard, GuardProjects: []string{"DeepLinkEVM"}, Clock: r.clock, Machines: store}
	r.ob = outbox.New(outbox.Config{NodeID: "n1", Targets: []string{chainreport.Target, "webhook"},
		After: map[string]string{"webhook": chainreport.Target}, Regardless: map[string][]domain.EventKind{"webhook": {domain.EventOffline}},
		BaseBackoff: time.Second, MaxBackoff: time.Second}, store, r.clock, map[string]ports.Deliverer{chainreport.Target: p, "webhook": r.hook})
	p.Later = r.ob
	for _, tp := range []domain.ReportType{domain.ReportMachineRegister, domain.ReportMachineOnline} {
		if err := c.Report(ctx, tp, rentKey, 0); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

var rentKey = domain.MachineKey{MachineID: "m-rent-1", Project: "DeepLinkEVM"}

// offline records and delivers the machine's offline.
func (r *penaltyRig) offline(t *testing.T) {
	t.Helper()
	entry, err := r.ob.Record(ctx, domain.Event{Kind: domain.EventOffline, Key: rentKey, At: r.clock.Now()})
	if err == nil {
		err = r.ob.Confirm(ctx, entry)
	}
	if err != nil {
		t.Fatal(err)
	}
	r.dispatch(t)
}

func (r *penaltyRig) dispatch(t *testing.T) {
	t.Helper()
	if _, err := r.ob.Dispatch(ctx); err != nil {
		t.Fatal(err)
	}
}

// offlineReports are the hashes of the report(4) transactions on chain.
func (r *penaltyRig) offlineReports(t *testing.T) []string {
	t.Helper()
	var out []string
	n := r.tc.call(t, r.reg, "callCount")[0].(*big.Int).Int64()
	for i := range n {
		if callAt(t, r.tc, r.reg, i).Tp == 4 {
			out = append(out, "report4")
		}
	}
	return out
}

func (r *penaltyRig) notified(t *testing.T) int { return r.rc.Notified(t, rentKey.MachineID) }

// Every path of the rental rules against the real contracts: the chain
// shows exactly the penalties owed and the webhook gets their hashes.
func TestOfflinePenaltiesOnSimulatedChain(t *testing.T) {
	tc := newTestChain(t)
	for _, tt := range []struct {
		name           string
		setup          func(t *testing.T, r *penaltyRig)
		reports, notes int
		hashed         bool // the webhook got a non-empty hash
		told           bool // the webhook was told at all
	}{
		{"staked not rented", func(*testing.T, *penaltyRig) {}, 0, 0, false, true},
		{"staked rented", func(t *testing.T, r *penaltyRig) { r.rc.SetRented(t, rentKey.MachineID, true) }, 1, 0, true, true},
		{"FreeRental rented", func(t *testing.T, r *penaltyRig) { r.rc.RegisterFreeRental(t, rentKey.MachineID, true) }, 0, 1, true, true},
		{"FreeRental not rented", func(t *testing.T, r *penaltyRig) { r.rc.RegisterFreeRental(t, rentKey.MachineID, false) }, 0, 0, false, true},
		{"rent call failing", func(t *testing.T, r *penaltyRig) {
			r.rc.SetRented(t, rentKey.MachineID, true)
			r.rc.FailReads(t, true)
		}, 0, 0, false, true},
		{"guard true", func(t *testing.T, r *penaltyRig) {
			r.rc.SetRented(t, rentKey.MachineID, true)
			r.guard.SetOnline(rentKey.MachineID, true)
		}, 0, 0, false, false},
		{"guard false", func(t *testing.T, r *penaltyRig) { r.rc.SetRented(t, rentKey.MachineID, true) }, 1, 0, true, true},
		{"guard unreachable", func(t *testing.T, r *penaltyRig) {
			r.rc.SetRented(t, rentKey.MachineID, true)
			r.guard.SetOnline(rentKey.MachineID, true)
			r.guard.FailWith(errors.New("connection refused"))
		}, 1, 0, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newPenaltyRig(t, tc)
			tt.setup(t, r)
			r.offline(t)
			if got := r.offlineReports(t); len(got) != tt.reports {
				t.Fatalf("report(4) on chain: %d, want %d", len(got), tt.reports)
			}
			if got := r.notified(t); got != tt.notes {
				t.Fatalf("notify on chain: %d, want %d", got, tt.notes)
			}
			r.hook.mu.Lock()
			got := slices.Clone(r.hook.got)
			r.hook.mu.Unlock()
			switch {
			case !tt.told && len(got) != 0, tt.told && len(got) != 1:
				t.Fatalf("webhook got %q, want told: %v", got, tt.told)
			case tt.told && (got[0] != "") != tt.hashed:
				t.Fatalf("webhook hash %q, want a hash: %v", got[0], tt.hashed)
			}
		})
	}
}

// A rent that starts after the offline, within the re-check delay, is
// penalised once on the re-check, and the webhook gets that transaction's
// hash.
func TestRentStartingBeforeTheRecheckOnSimulatedChain(t *testing.T) {
	tc := newTestChain(t)
	r := newPenaltyRig(t, tc)
	r.offline(t)
	r.rc.SetRented(t, rentKey.MachineID, true)
	r.clock.Advance(chainreport.DefaultRentRecheck - time.Second)
	r.dispatch(t)
	if got := r.offlineReports(t); len(got) != 0 {
		t.Fatalf("report(4) before the re-check: %d", len(got))
	}
	r.clock.Advance(time.Second)
	r.dispatch(t)
	r.clock.Advance(time.Hour)
	r.dispatch(t)
	if got := r.offlineReports(t); len(got) != 1 {
		t.Fatalf("report(4) after the re-check: %d, want 1", len(got))
	}
	r.hook.mu.Lock()
	defer r.hook.mu.Unlock()
	if len(r.hook.got) != 2 || r.hook.got[0] != "" || len(r.hook.got[1]) != 66 {
		t.Fatalf("webhook got %q, want the offline without a hash, then the re-check's transaction", r.hook.got)
	}
}
