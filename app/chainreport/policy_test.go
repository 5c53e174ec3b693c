package chainreport_test

import (
	"context"
	"errors"
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

// hook records the events delivered to it, like the webhook target.
type hook struct {
	mu     sync.Mutex
	events []string
}

func (h *hook) Deliver(_ context.Context, e domain.Event) error {
	if e.Kind != domain.EventOnline && e.Kind != domain.EventOffline {
		return nil
	}
	h.mu.Lock()
	h.events = append(h.events, string(e.Kind)+" "+e.Key.MachineID)
	h.mu.Unlock()
	return nil
}

func (h *hook) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

// policyNode is a store with three machines online on chain: one scored
// short-term machine, one short-term machine never scored, one bandwidth
// machine; all three disconnect at t0.
type policyNode struct {
	store *memory.Store
	clock *memory.Clock
	chain *memory.Chain
	hook  *hook
	ob    *outbox.Outbox
	sweep *sweep.Sweeper
}

var (
	scoredKey    = domain.MachineKey{MachineID: "scored", Project: "DeepLinkEVM"}
	unscoredKey  = domain.MachineKey{MachineID: "unscored", Project: "DeepLinkEVM"}
	bandwidthKey = domain.MachineKey{MachineID: "bandwidth", Project: "DeepLinkEVM"}
)

func newPolicyNode(t *testing.T, policy domain.OfflineReportPolicy) *policyNode {
	t.Helper()
	n := &policyNode{store: memory.NewStore(), clock: memory.NewClock(t0), chain: memory.NewChain(), hook: &hook{}}
	gate := func(d ports.Deliverer) ports.Deliverer {
		return chainreport.OfflineGate{Next: d, Machines: n.store, Policy: policy}
	}
	n.ob = outbox.New(outbox.Config{NodeID: "n1", Targets: []string{chainreport.Target, "webhook"},
		After: map[string]string{"webhook": chainreport.Target}}, n.store, n.clock,
		map[string]ports.Deliverer{chainreport.Target: gate(chainreport.New(n.chain).WithMachines(n.store)), "webhook": gate(n.hook)})
	n.sweep = sweep.New(sweep.Config{NodeID: "n1", Grace: 5 * time.Minute, NodeExpiry: time.Hour, Effects: n.ob},
		n.store, n.clock, new(memory.Events).Observe)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []domain.MachineKey{scoredKey, unscoredKey, bandwidthKey} {
		must(n.chain.Report(ctx, domain.ReportMachineRegister, k, 0))
		must(n.chain.Report(ctx, domain.ReportMachineOnline, k, 0))
		_, _, err := n.store.MarkOnline(ctx, k, 0, "n1", t0.Add(-time.Hour))
		must(err)
	}
	scored := gpu
	scored.CalcPoint = 83.72
	must(n.store.SetShortTermInfo(ctx, scoredKey, scored, t0.Add(-time.Minute)))
	must(n.store.SetBandwidthInfo(ctx, bandwidthKey, bw, t0.Add(-time.Minute)))
	for _, k := range []domain.MachineKey{scoredKey, unscoredKey, bandwidthKey} {
		must(n.store.MarkDisconnected(ctx, k, t0, time.Time{}))
	}
	return n
}

// expire runs the sweeper past the grace period and the outbox until it is idle.
func (n *policyNode) expire(t *testing.T) {
	t.Helper()
	// The sweeper times the grace period from when it first sees the
	// disconnect, on its own clock.
	if _, err := n.sweep.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	n.clock.Advance(5*time.Minute + time.Second)
	res, err := n.sweep.Sweep(ctx)
	if err != nil || res.Offline != 3 {
		t.Fatalf("sweep = %+v, %v; want the three machines offline", res, err)
	}
	if _, err := n.ob.Dispatch(ctx); err != nil {
		t.Fatal(err)
	}
}

func (n *policyNode) offlineReports() []string {
	var out []string
	for _, c := range n.chain.Calls() {
		if c.Method == "report" && c.Type == domain.ReportMachineOffline {
			out = append(out, c.Key.MachineID)
		}
	}
	slices.Sort(out)
	return out
}

// The default policy is the original's: of a scored machine, a bandwidth
// machine and a machine never scored that all go offline, only the scored
// one gets report(4), exactly once, and only it is notified; every one of
// them is offline in machine_info.
func TestOfflinePolicies(t *testing.T) {
	for _, tt := range []struct {
		policy domain.OfflineReportPolicy
		want   []string
	}{
		{domain.OfflineReportScored, []string{"scored"}},
		{domain.OfflineReportAll, []string{"bandwidth", "scored", "unscored"}},
		{domain.OfflineReportNone, nil},
	} {
		t.Run(string(tt.policy), func(t *testing.T) {
			n := newPolicyNode(t, tt.policy)
			n.expire(t)
			for range 3 { // nothing more on later passes
				n.clock.Advance(time.Minute)
				if _, err := n.ob.Dispatch(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if got := n.offlineReports(); !slices.Equal(got, tt.want) {
				t.Fatalf("report(4) for %v, want %v", got, tt.want)
			}
			var notified []string
			for _, e := range n.hook.got() {
				notified = append(notified, e[len("offline "):])
			}
			slices.Sort(notified)
			if !slices.Equal(notified, tt.want) {
				t.Fatalf("webhook got %v, want offline of %v", n.hook.got(), tt.want)
			}
			for _, k := range []domain.MachineKey{scoredKey, unscoredKey, bandwidthKey} {
				m, err := n.store.GetMachine(ctx, k)
				if err != nil || m.State != domain.StateOffline {
					t.Fatalf("%s: %+v, %v; want offline in machine_info whatever the policy", k, m, err)
				}
			}
			counts, err := n.store.CountOutbox(ctx)
			if err != nil || counts[domain.OutboxDone] != 3 || counts[domain.OutboxReady] != 0 {
				t.Fatalf("outbox = %v, %v; want every entry settled", counts, err)
			}
		})
	}
}

// The webhook follows the chain: while the offline report fails nobody is
// notified; once it is sent, the notify goes out, once.
func TestOfflineNotifyOnlyAfterTheOfflineReport(t *testing.T) {
	n := newPolicyNode(t, domain.OfflineReportScored)
	n.chain.FailWith(errors.New("connection refused"))
	n.expire(t)
	if got := n.hook.got(); len(got) != 0 {
		t.Fatalf("webhook got %v before the offline report was sent", got)
	}
	n.chain.FailWith(nil)
	for range 4 {
		n.clock.Advance(10 * time.Minute) // past any backoff
		if _, err := n.ob.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := n.offlineReports(); !slices.Equal(got, []string{"scored"}) {
		t.Fatalf("report(4) for %v", got)
	}
	if got := n.hook.got(); !slices.Equal(got, []string{"offline scored"}) {
		t.Fatalf("webhook got %v, want the scored machine's offline once", got)
	}
}

// An online is notified only when the chain's online report is sent: a
// machine the chain already shows online (an unscored machine whose
// offline was never reported) comes back without a notify.
func TestOnlineNotifyOnlyWhenTheOnlineReportIsSent(t *testing.T) {
	n := newPolicyNode(t, domain.OfflineReportScored)
	n.expire(t)
	back := n.clock.Now()
	for _, k := range []domain.MachineKey{scoredKey, unscoredKey} {
		e := domain.Event{Kind: domain.EventOnline, Key: k, At: back}
		entry, err := n.ob.Record(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := n.store.MarkOnline(ctx, k, 0, "n1", back); err != nil {
			t.Fatal(err)
		}
		if err := n.ob.Confirm(ctx, entry); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.ob.Dispatch(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"offline scored", "online scored"}
	if got := n.hook.got(); !slices.Equal(got, want) {
		t.Fatalf("webhook got %v, want %v", got, want)
	}
	entries, err := n.store.ListOutbox(ctx, domain.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Event.Kind == domain.EventOnline && e.Event.Key == unscoredKey &&
			(!slices.Equal(e.Skipped, []string{chainreport.Target, "webhook"}) || e.Status != domain.OutboxDone) {
			t.Fatalf("online of the machine the chain shows online: %+v; want chain and webhook skipped", e)
		}
	}
}
