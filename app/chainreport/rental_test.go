package chainreport_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/app/chainreport"
	"ddn/app/outbox"
	"ddn/app/sweep"
	"ddn/domain"
	"ddn/ports"
)

// txHook records the offline notifications delivered to it with their
// transaction hash, like the webhook (a re-check is news only with a hash).
type txHook struct {
	mu    sync.Mutex
	calls []string
}

func (h *txHook) Deliver(_ context.Context, e domain.Event) error {
	if e.Kind != domain.EventOffline && (e.Kind != domain.EventOfflineRentCheck || e.ReportTxHash == "") {
		return nil
	}
	h.mu.Lock()
	h.calls = append(h.calls, e.Key.MachineID+" "+e.ReportTxHash)
	h.mu.Unlock()
	return nil
}

func (h *txHook) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

var (
	stakedKey = domain.MachineKey{MachineID: "staked", Project: "DeepLinkEVM"}
	freeKey   = domain.MachineKey{MachineID: "free", Project: "DeepLinkEVM"}
)

// rentNode is one node with a chain, the Rent and FreeRental contracts,
// the guard and the webhook; its machines are online (on chain too) until
// they disconnect at t0.
type rentNode struct {
	store  *memory.Store
	clock  *memory.Clock
	chain  *memory.Chain
	rental *memory.Rental
	guard  *memory.Guard
	hook   *txHook
	ob     *outbox.Outbox
	sweep  *sweep.Sweeper
	why    []string
}

type rentSetup struct{ noRent, noFree bool }

func newRentNode(t *testing.T, s rentSetup, keys ...domain.MachineKey) *rentNode {
	t.Helper()
	n := &rentNode{store: memory.NewStore(), clock: memory.NewClock(t0), chain: memory.NewChain(), rental: memory.NewRental(),
		guard: memory.NewGuard(), hook: &txHook{}}
	p := &chainreport.Penalty{Next: chainreport.OfflineGate{Next: chainreport.New(n.chain).WithMachines(n.store), Machines: n.store},
		State: n.chain, Reporter: n.chain, Guard: n.guard, GuardProjects: []string{"DeepLinkEVM"},
		RecheckAfter: time.Minute, Clock: n.clock, Machines: n.store,
		OnDecision: func(_ domain.Event, why string, _ error) { n.why = append(n.why, why) }}
	if !s.noRent {
		p.Rent = n.rental
	}
	if !s.noFree {
		p.FreeRental = n.rental
	}
	n.ob = outbox.New(outbox.Config{NodeID: "n1", Targets: []string{chainreport.Target, "webhook"},
		After:      map[string]string{"webhook": chainreport.Target},
		Regardless: map[string][]domain.EventKind{"webhook": {domain.EventOffline}}, MaxAttempts: 3,
		BaseBackoff: time.Second, MaxBackoff: time.Second}, n.store, n.clock,
		map[string]ports.Deliverer{chainreport.Target: p, "webhook": n.hook})
	p.Later = n.ob
	n.sweep = sweep.New(sweep.Config{NodeID: "n1", Grace: 5 * time.Minute, NodeExpiry: time.Hour, Effects: n.ob},
		n.store, n.clock, new(memory.Events).Observe)
	for _, k := range keys {
		mustDo(t, n.chain.Report(ctx, domain.ReportMachineRegister, k, 0))
		mustDo(t, n.chain.Report(ctx, domain.ReportMachineOnline, k, 0))
		_, _, err := n.store.MarkOnline(ctx, k, 0, "n1", t0.Add(-time.Hour))
		mustDo(t, err)
		scored := gpu
		scored.CalcPoint = 83.72 // scored: the 2025 rule would report it
		mustDo(t, n.store.SetShortTermInfo(ctx, k, scored, t0.Add(-time.Minute)))
		mustDo(t, n.store.MarkDisconnected(ctx, k, t0, time.Time{}))
	}
	// The sweeper times the grace period from when it first sees a disconnect.
	if _, err := n.sweep.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// expire runs the sweeper past the grace period and one outbox pass.
func (n *rentNode) expire(t *testing.T, machines int) {
	t.Helper()
	n.clock.Advance(5*time.Minute + time.Second)
	res, err := n.sweep.Sweep(ctx)
	if err != nil || res.Offline != machines {
		t.Fatalf("sweep = %+v, %v; want %d machines offline", res, err, machines)
	}
	n.dispatch(t)
}

func (n *rentNode) dispatch(t *testing.T) {
	t.Helper()
	if _, err := n.ob.Dispatch(ctx); err != nil {
		t.Fatal(err)
	}
}

func (n *rentNode) offlineReports() []string {
	var out []string
	for i, c := range n.chain.Calls() {
		if c.Method == "report" && c.Type == domain.ReportMachineOffline {
			out = append(out, c.Key.MachineID+" "+hashOf(i+1))
		}
	}
	return out
}

// hashOf is the memory chain's hash of its n-th call.
func hashOf(n int) string { return fmt.Sprintf("0x%064x", n) }

func (n *rentNode) assertOffline(t *testing.T, keys ...domain.MachineKey) {
	t.Helper()
	for _, k := range keys {
		m, err := n.store.GetMachine(ctx, k)
		if err != nil || m.State != domain.StateOffline {
			t.Fatalf("machine %s: state %q, %v; want offline in ddn's state", k, m.State, err)
		}
	}
}

// A staked machine that is not rented goes offline in the store and the
// webhook (no hash) but gets no report(4); one that is rented gets exactly
// one, and the webhook its hash.
func TestOfflinePenaltyOnlyWhileRented(t *testing.T) {
	t.Run("not rented", func(t *testing.T) {
		n := newRentNode(t, rentSetup{}, stakedKey)
		n.expire(t, 1)
		if got := n.offlineReports(); len(got) != 0 {
			t.Fatalf("report(4) for a machine not rented: %v", got)
		}
		if got := n.hook.got(); !slices.Equal(got, []string{"staked "}) {
			t.Fatalf("webhook = %q, want the offline without a hash", got)
		}
		n.assertOffline(t, stakedKey)
	})
	t.Run("rented", func(t *testing.T) {
		n := newRentNode(t, rentSetup{}, stakedKey)
		n.rental.SetRented(stakedKey.MachineID, true)
		n.expire(t, 1)
		n.clock.Advance(2 * time.Minute)
		n.dispatch(t) // nothing more: no re-check for a rented machine
		got := n.offlineReports()
		if len(got) != 1 {
			t.Fatalf("report(4) calls = %v, want exactly one", got)
		}
		if h := n.hook.got(); !slices.Equal(h, []string{got[0]}) {
			t.Fatalf("webhook = %q, want the offline with the report's hash %q", h, got[0])
		}
		if len(n.guard.Asked()) != 1 {
			t.Fatalf("guard asked %d times, want once before the penalty", len(n.guard.Asked()))
		}
	})
}

// A rent that starts while the machine is disconnected (within the grace
// period) is what the offline finds: the rent is read when the offline is
// delivered, not when the machine left.
func TestRentStartingDuringTheGracePeriodIsPenalised(t *testing.T) {
	n := newRentNode(t, rentSetup{}, stakedKey)
	n.clock.Advance(2 * time.Minute)
	n.rental.SetRented(stakedKey.MachineID, true)
	n.expire(t, 1)
	if got := n.offlineReports(); len(got) != 1 {
		t.Fatalf("report(4) calls = %v, want one for the rent that started during the grace period", got)
	}
}

// A machine found not rented is asked again a minute later: rented by
// then, it gets report(4) once and the webhook a second notification with
// the hash; still not rented, nothing more happens.
func TestNotRentedMachineIsAskedAgainAMinuteLater(t *testing.T) {
	for _, rentedLater := range []bool{true, false} {
		n := newRentNode(t, rentSetup{}, stakedKey)
		n.expire(t, 1)
		reads := n.rental.RentReads()
		n.rental.SetRented(stakedKey.MachineID, rentedLater)
		n.clock.Advance(time.Minute - time.Second)
		n.dispatch(t)
		if n.rental.RentReads() != reads {
			t.Fatal("asked again before the minute was up")
		}
		n.clock.Advance(time.Second)
		n.dispatch(t)
		n.clock.Advance(time.Hour)
		n.dispatch(t)
		if n.rental.RentReads() != reads+1 {
			t.Fatalf("isRented read %d times after the offline, want once", n.rental.RentReads()-reads)
		}
		got := n.offlineReports()
		switch {
		case rentedLater && (len(got) != 1 || !slices.Equal(n.hook.got(), []string{"staked ", got[0]})):
			t.Fatalf("rented on the re-check: reports %v, webhook %q; want one report and its hash notified", got, n.hook.got())
		case !rentedLater && (len(got) != 0 || !slices.Equal(n.hook.got(), []string{"staked "})):
			t.Fatalf("still not rented: reports %v, webhook %q; want nothing more", got, n.hook.got())
		}
	}
}

// A Rent contract that cannot be read costs no penalty: the machine is
// offline, the webhook told without a hash, the failure said, and the
// re-check reports it if the contract answers rented by then.
func TestRentReadFailingCostsNoPenalty(t *testing.T) {
	n := newRentNode(t, rentSetup{noFree: true}, stakedKey)
	n.rental.SetRented(stakedKey.MachineID, true)
	n.rental.FailWith(errors.New("execution reverted"))
	n.expire(t, 1)
	if got := n.offlineReports(); len(got) != 0 {
		t.Fatalf("report(4) although isRented failed: %v", got)
	}
	if !slices.Equal(n.hook.got(), []string{"staked "}) || !slices.Contains(n.why, "isRented could not be read: no penalty (asked again later)") {
		t.Fatalf("webhook %q, decisions %q", n.hook.got(), n.why)
	}
	n.assertOffline(t, stakedKey)
	n.rental.FailWith(nil)
	n.clock.Advance(time.Minute)
	n.dispatch(t)
	if got := n.offlineReports(); len(got) != 1 {
		t.Fatalf("re-check after the failure: reports %v, want one", got)
	}
}

// A FreeRental machine gets notify(4) while rented, never report(4); not
// rented, nothing; a FreeRental read failing, nothing.
func TestFreeRentalMachinesAreNotifiedWhileRented(t *testing.T) {
	for _, tt := range []struct {
		name    string
		rented  bool
		fail    bool
		notify  int
		webhook []string
	}{
		{"rented", true, false, 1, []string{"free 0xf000000000000000000000000000000000000000000000000000000000000001"}},
		{"not rented", false, false, 0, []string{"free "}},
		{"read failing", true, true, 0, []string{"free "}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newRentNode(t, rentSetup{}, freeKey)
			n.rental.SetFreeRental(freeKey.MachineID, tt.rented)
			n.rental.SetRented(freeKey.MachineID, true) // the Rent contract is not asked for it
			if tt.fail {
				n.rental.FailWith(errors.New("rpc down"))
			}
			n.expire(t, 1)
			n.clock.Advance(2 * time.Minute)
			n.dispatch(t)
			if got := n.offlineReports(); len(got) != 0 {
				t.Fatalf("report(4) for a FreeRental machine: %v", got)
			}
			calls := n.rental.Calls()
			if len(calls) != tt.notify || (tt.notify == 1 && (calls[0].Type != domain.ReportMachineOffline || calls[0].MachineID != "free")) {
				t.Fatalf("notify calls = %+v, want %d notify(4, free)", calls, tt.notify)
			}
			if !slices.Equal(n.hook.got(), tt.webhook) {
				t.Fatalf("webhook = %q, want %q", n.hook.got(), tt.webhook)
			}
			n.assertOffline(t, freeKey)
		})
	}
}

// The guard: an answer true skips the penalty and the notification (the
// machine stays offline in ddn); false or no answer lets it go ahead.
// Projects outside GuardProjects are not asked.
func TestGuardBeforeThePenalty(t *testing.T) {
	for _, tt := range []struct {
		name     string
		online   bool
		fail     error
		key      domain.MachineKey
		reports  int
		webhooks int
		asked    int
	}{
		{"guard true", true, nil, stakedKey, 0, 0, 1},
		{"guard false", false, nil, stakedKey, 1, 1, 1},
		{"guard unreachable", true, errors.New("connection refused"), stakedKey, 1, 1, 1},
		{"project not guarded", true, nil, domain.MachineKey{MachineID: "other", Project: "bandwidth"}, 1, 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newRentNode(t, rentSetup{}, tt.key, freeKey)
			n.rental.SetRented(tt.key.MachineID, true)
			n.rental.SetFreeRental(freeKey.MachineID, true)
			n.guard.SetOnline(tt.key.MachineID, tt.online)
			n.guard.SetOnline(freeKey.MachineID, tt.online)
			n.guard.FailWith(tt.fail)
			n.expire(t, 2)
			if got := n.offlineReports(); len(got) != tt.reports {
				t.Fatalf("report(4) calls = %v, want %d", got, tt.reports)
			}
			freeWant := tt.reports
			if tt.key != stakedKey {
				freeWant = 0 // its FreeRental twin is of the guarded project
			}
			if got := n.rental.Calls(); len(got) != freeWant {
				t.Fatalf("notify(4) calls = %+v, want %d", got, freeWant)
			}
			if got := n.hook.got(); len(got) != tt.webhooks+freeWant {
				t.Fatalf("webhook = %q, want %d notifications", got, tt.webhooks+freeWant)
			}
			if len(n.guard.Asked()) != tt.asked+1 {
				t.Fatalf("guard asked about %v, want %d machines", n.guard.Asked(), tt.asked+1)
			}
			n.assertOffline(t, tt.key, freeKey)
		})
	}
}

// A penalty transaction that fails every attempt is given up and the
// webhook still told, without a hash.
func TestFailedPenaltyStillNotifiesWithoutAHash(t *testing.T) {
	n := newRentNode(t, rentSetup{}, freeKey)
	n.rental.SetFreeRental(freeKey.MachineID, true)
	n.rental.FailNotifyWith(errors.New("insufficient funds"))
	n.expire(t, 1)
	for range 3 {
		n.clock.Advance(2 * time.Second)
		n.dispatch(t)
	}
	if got := n.hook.got(); !slices.Equal(got, []string{"free "}) {
		t.Fatalf("webhook = %q, want the offline told without a hash after the transaction failed", got)
	}
}

// Without a Rent contract the staked machines follow the 2025 rule (a
// scored machine online on chain gets report(4)).
func TestWithoutRentContractStakedMachinesKeepThe2025Rule(t *testing.T) {
	n := newRentNode(t, rentSetup{noRent: true}, stakedKey)
	n.expire(t, 1)
	if got := n.offlineReports(); len(got) != 1 || n.rental.RentReads() != 0 {
		t.Fatalf("report(4) calls = %v, rent reads %d; want the 2025 rule's one report", got, n.rental.RentReads())
	}
}

// A machine the report contract does not show registered may come online
// while it is rented; a rent read failing or not rented refuses it.
func TestRentedMachineMayComeOnlineUnregistered(t *testing.T) {
	chain, rental := memory.NewChain(), memory.NewRental()
	reg := chainreport.RentedRegistry{Next: chain, Rent: rental}
	st, err := reg.MachineState(ctx, stakedKey, 0)
	if err != nil || st.Registered {
		t.Fatalf("not rented: %+v, %v; want not registered", st, err)
	}
	rental.SetRented(stakedKey.MachineID, true)
	st, err = reg.MachineState(ctx, stakedKey, 0)
	if err != nil || !st.Registered || !st.Online {
		t.Fatalf("rented: %+v, %v; want let in, counted online (no report(3))", st, err)
	}
	rental.FailWith(errors.New("rpc down"))
	if st, err := reg.MachineState(ctx, stakedKey, 0); err != nil || st.Registered {
		t.Fatalf("rent read failing: %+v, %v; want not registered", st, err)
	}
	// Its online delivery reads the report contract: nothing to report.
	d := chainreport.New(chain)
	if err := d.Deliver(ctx, domain.Event{Kind: domain.EventOnline, Key: stakedKey}); !errors.Is(err, domain.ErrNoEffect) || len(chain.Calls()) != 0 {
		t.Fatalf("online of a rented unregistered machine: %v, calls %v; want no report(3)", err, chain.Calls())
	}
}
