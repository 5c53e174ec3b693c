package sweep_test

// Cluster truth (issue 15), on the domain with fake clocks: no machine goes
// offline while a session holds it, a machine that truly went away goes
// offline exactly once, and whole-cluster downtime never counts.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/app/liveness"
	"ddn/app/outbox"
	"ddn/app/session"
	"ddn/app/sweep"
	"ddn/domain"
	"ddn/ports"
)

// skewed is a node's clock: the shared fake time plus a fixed offset.
type skewed struct {
	base   *memory.Clock
	offset time.Duration
}

func (c skewed) Now() time.Time { return c.base.Now().Add(c.offset) }

// kicks records what a node was asked to close; the sessions stay open
// (an agent that does not notice, or a close still in flight).
type kicks struct {
	mu     sync.Mutex
	connID []string
}

func (k *kicks) Notify(context.Context, domain.MachineKey, []byte) bool { return false }
func (k *kicks) Kick(_ context.Context, _ domain.MachineKey, connID, _ string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.connID = append(k.connID, connID)
	return true
}
func (k *kicks) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.connID)
}

// tnode is one ddn node of a test cluster: its service, sweeper, outbox
// and clock, sharing the cluster's store.
type tnode struct {
	id    string
	clock ports.Clock
	svc   *session.Service
	sw    *sweep.Sweeper
	local *kicks
}

type truth struct {
	t      *testing.T
	store  ports.Store
	clock  *memory.Clock
	events *memory.Events
}

func newTruth(t *testing.T) *truth {
	return &truth{t: t, store: memory.NewStore(), clock: memory.NewClock(t0), events: &memory.Events{}}
}

// node starts (or restarts, under the same id) a node whose clock is offset
// from the shared time.
func (c *truth) node(id string, offset time.Duration) *tnode {
	c.t.Helper()
	clock := skewed{c.clock, offset}
	tracker := liveness.New(expiry, clock)
	ob := outbox.New(outbox.Config{NodeID: id, Targets: []string{"log"}}, c.store, clock, nil)
	svc, err := session.NewService(session.Config{NodeID: id, NodeExpiry: expiry, RenewInterval: 5 * time.Second,
		Liveness: tracker, Effects: ob}, c.store, direct{c.store}, clock, c.events.Observe)
	if err != nil {
		c.t.Fatal(err)
	}
	n := &tnode{id: id, clock: clock, svc: svc, local: &kicks{}}
	svc.SetLocal(n.local)
	n.sw = sweep.New(sweep.Config{NodeID: id, Grace: grace, NodeExpiry: expiry, Effects: ob, Liveness: tracker,
		Fenced: svc.Fenced, Interval: time.Second}, c.store, clock, c.events.Observe)
	if err := svc.Join(ctx); err != nil {
		c.t.Fatal(err)
	}
	return n
}

// tick is one second of a node's life: it renews every 5 s, and
// reconciles and sweeps every second, as Run does.
func (n *tnode) tick(t *testing.T, sec int) {
	t.Helper()
	if sec%5 == 0 {
		if err := n.svc.RenewLease(ctx); err != nil {
			t.Fatal(err)
		}
	}
	n.svc.CheckFence(ctx)
	if _, err := n.svc.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := n.sw.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
}

// run lets d pass second by second with the given nodes alive.
func (c *truth) run(d time.Duration, nodes ...*tnode) {
	c.t.Helper()
	for sec := 1; sec <= int(d/time.Second); sec++ {
		c.clock.Advance(time.Second)
		for _, n := range nodes {
			n.tick(c.t, sec)
		}
	}
}

func (c *truth) machine(key domain.MachineKey) domain.Machine {
	c.t.Helper()
	m, err := c.store.GetMachine(ctx, key)
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

func (c *truth) offlines(key domain.MachineKey) int {
	n := 0
	for _, e := range c.events.All() {
		if e.Kind == domain.EventOffline && e.Key == key {
			n++
		}
	}
	return n
}

// onlineEffects counts the online outbox entries of key that were
// confirmed (a real offline-to-online transition) and not cancelled.
func (c *truth) onlineEffects(key domain.MachineKey) int {
	c.t.Helper()
	es, err := c.store.ListOutbox(ctx, domain.OutboxFilter{})
	if err != nil {
		c.t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Event.Kind == domain.EventOnline && e.Event.Key == key && e.Status != domain.OutboxCancelled {
			n++
		}
	}
	return n
}

func keys(prefix string, n int) []domain.MachineKey {
	out := make([]domain.MachineKey, n)
	for i := range out {
		out[i] = domain.MachineKey{MachineID: fmt.Sprint(prefix, i), Project: "deeplink"}
	}
	return out
}

func goOnline(t *testing.T, n *tnode, ks ...domain.MachineKey) []*session.Session {
	t.Helper()
	var out []*session.Session
	for _, k := range ks {
		ss := n.svc.Open("192.0.2.1")
		if err := ss.Online(ctx, domain.OnlineRequest{Key: k}); err != nil {
			t.Fatalf("%s online on %s: %v", k, n.id, err)
		}
		out = append(out, ss)
	}
	return out
}

// invariant: every key with an open session is online with exactly that
// session's claim; every other key is disconnected or offline.
func (c *truth) invariant(open map[domain.MachineKey]*session.Session, all []domain.MachineKey) {
	c.t.Helper()
	for _, k := range all {
		m := c.machine(k)
		claim, err := c.store.GetConnection(ctx, k)
		if ss, ok := open[k]; ok {
			if m.State != domain.StateOnline || err != nil || claim.ConnID != ss.ConnID() {
				c.t.Errorf("%s: session open, but state %q, claim %+v (%v)", k, m.State, claim, err)
			}
			continue
		}
		if m.State != domain.StateDisconnected && m.State != domain.StateOffline {
			c.t.Errorf("%s: no session anywhere, but state %q", k, m.State)
		}
		if !errors.Is(err, domain.ErrNotFound) {
			c.t.Errorf("%s: no session anywhere, but claimed: %+v (%v)", k, claim, err)
		}
	}
}

// A node whose clock is behind or ahead of the others by more than the
// lease expiry keeps its machines: nobody releases them, none goes offline.
func TestSkewedClockKeepsItsMachines(t *testing.T) {
	for _, skew := range []time.Duration{-20 * time.Second, 20 * time.Second, -time.Hour, time.Hour} {
		t.Run(skew.String(), func(t *testing.T) {
			c := newTruth(t)
			n1, n2 := c.node("n1", skew), c.node("n2", 0)
			ks := keys("m", 10)
			sessions := goOnline(t, n1, ks...)
			c.run(2*grace, n1, n2)
			open := map[domain.MachineKey]*session.Session{}
			for i, k := range ks {
				open[k] = sessions[i]
				if n := c.offlines(k); n != 0 {
					t.Errorf("%s: %d offline events while its session is open on n1", k, n)
				}
			}
			c.invariant(open, ks)
			if n1.local.count() != 0 || n2.local.count() != 0 {
				t.Fatalf("sessions closed: n1 %d, n2 %d", n1.local.count(), n2.local.count())
			}
			// A machine that leaves n1 goes offline exactly once, one grace
			// period after it left, whatever n1's clock says.
			if err := sessions[0].Close(ctx); err != nil {
				t.Fatal(err)
			}
			delete(open, ks[0])
			c.run(grace-2*time.Second, n1, n2)
			if n := c.offlines(ks[0]); n != 0 {
				t.Fatalf("offline %d times before the grace period passed", n)
			}
			c.run(4*time.Second, n1, n2)
			if n := c.offlines(ks[0]); n != 1 {
				t.Fatalf("offline %d times after the grace period, want 1", n)
			}
			c.run(grace, n1, n2)
			if n := c.offlines(ks[0]); n != 1 {
				t.Fatalf("offline %d times, want exactly 1", n)
			}
			c.invariant(open, ks)
		})
	}
}

// A stalled node (SIGSTOP past its lease) that continues: another node
// released its machines meanwhile. On waking it fences (closing its
// sessions), and whatever sessions are still open are claimed again: no
// offline, no online side effects, the store true again.
func TestStalledNodeThatContinues(t *testing.T) {
	c := newTruth(t)
	n1, n2 := c.node("n1", 0), c.node("n2", 0)
	ks := keys("m", 4)
	sessions := goOnline(t, n1, ks...)
	c.run(10*time.Second, n1, n2)
	c.run(3*expiry, n2) // n1 stalls
	for _, k := range ks {
		if m := c.machine(k); m.State != domain.StateDisconnected {
			t.Fatalf("%s is %q; the live node should have released the stalled node's claim", k, m.State)
		}
	}
	// n1 continues: before anything else its fence is due.
	if !n1.svc.Fenced() {
		t.Fatal("a node that did not renew for three expiries is not fenced")
	}
	if err := n1.svc.Open("ip").Online(ctx, domain.OnlineRequest{Key: domain.MachineKey{MachineID: "new", Project: "deeplink"}}); domain.CodeOf(err) != domain.CodeDatabase {
		t.Fatalf("online on a fenced node: %v, want code 4", err)
	}
	if !n1.svc.CheckFence(ctx) || n1.local.count() != len(ks) {
		t.Fatalf("fence closed %d sessions, want %d", n1.local.count(), len(ks))
	}
	// Two agents noticed and left; the other two sockets are still open.
	for _, ss := range sessions[:2] {
		if err := ss.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c.run(2*grace, n1, n2)
	open := map[domain.MachineKey]*session.Session{ks[2]: sessions[2], ks[3]: sessions[3]}
	c.invariant(open, ks)
	for i, k := range ks {
		want := 0
		if i < 2 {
			want = 1 // they truly went away
		}
		if n := c.offlines(k); n != want {
			t.Errorf("%s: %d offline events, want %d", k, n, want)
		}
		if n := c.onlineEffects(k); n != 1 {
			t.Errorf("%s: %d online side effects, want 1 (the first online)", k, n)
		}
	}
}

// A node stalled past the grace period: its machines went offline on the
// other node meanwhile, and the agents left during the stall (their
// sockets closed, which the woken node has not read yet). Waking, it fences
// and closes its sessions; when its lease is renewed before those closes
// finish, the reconciler must not bring the offline machines back online:
// no second online, no second offline.
func TestStalledPastGraceBringsNothingBack(t *testing.T) {
	c := newTruth(t)
	n1, n2 := c.node("n1", 0), c.node("n2", 0)
	ks := keys("m", 2)
	sessions := goOnline(t, n1, ks...)
	c.run(10*time.Second, n1, n2)
	c.run(expiry+grace+10*time.Second, n2) // n1 stalls
	for _, k := range ks {
		if m := c.machine(k); m.State != domain.StateOffline || c.offlines(k) != 1 {
			t.Fatalf("%s is %q after %d offlines; want offline once", k, m.State, c.offlines(k))
		}
	}
	if !n1.svc.CheckFence(ctx) || n1.local.count() != len(ks) {
		t.Fatalf("fence closed %d sessions, want %d", n1.local.count(), len(ks))
	}
	// The lease comes back before the closed sessions have ended.
	if err := n1.svc.RenewLease(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := n1.svc.Reconcile(ctx)
	if err != nil || res.Reclaimed != 0 {
		t.Fatalf("reconcile = %+v, %v; want nothing claimed again", res, err)
	}
	for _, ss := range sessions {
		if err := ss.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c.run(grace+10*time.Second, n1, n2)
	for _, k := range ks {
		if m := c.machine(k); m.State != domain.StateOffline {
			t.Errorf("%s is %q, want offline", k, m.State)
		}
		if n := c.offlines(k); n != 1 {
			t.Errorf("%s: %d offline events, want 1", k, n)
		}
		if n := c.onlineEffects(k); n != 1 {
			t.Errorf("%s: %d online side effects, want 1 (the first online)", k, n)
		}
	}
}

// A claim lost under a live session (another node judged this one dead,
// the grace period passed and the machine went offline) is claimed again:
// back online with the online side effects, once; if another live node
// holds the machine by then, the session is closed instead.
func TestClaimLostUnderALiveSession(t *testing.T) {
	c := newTruth(t)
	n1, n2 := c.node("n1", 0), c.node("n2", 0)
	ks := keys("m", 2)
	sessions := goOnline(t, n1, ks...)
	for _, k := range ks {
		claim, _ := c.store.GetConnection(ctx, k)
		if ok, err := c.store.DeleteConnection(ctx, k, claim.ConnID); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if ok, err := c.store.MarkDisconnectedBy(ctx, k, "n1", c.clock.Now()); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	// n2 sweeps alone past the grace period: both go offline.
	c.run(grace+2*time.Second, n2)
	for _, k := range ks {
		if c.offlines(k) != 1 {
			t.Fatalf("%s: %d offline events, want 1", k, c.offlines(k))
		}
	}
	// The agent of ks[1] has meanwhile also come online on n2 (a second
	// socket of the same machine).
	onN2 := goOnline(t, n2, ks[1])
	if err := n1.svc.RenewLease(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := n1.svc.Reconcile(ctx)
	if err != nil || res.Reclaimed != 1 || res.Closed != 1 {
		t.Fatalf("reconcile = %+v, %v; want one re-claimed, one closed", res, err)
	}
	if n1.local.count() != 1 || n1.local.connID[0] != sessions[1].ConnID() {
		t.Fatalf("closed %v, want the session of %s", n1.local.connID, ks[1])
	}
	if err := sessions[1].Close(ctx); err != nil { // the kicked socket closes
		t.Fatal(err)
	}
	c.run(2*grace, n1, n2)
	c.invariant(map[domain.MachineKey]*session.Session{ks[0]: sessions[0], ks[1]: onN2[0]}, ks)
	for _, k := range ks {
		if n := c.onlineEffects(k); n != 2 {
			t.Errorf("%s: %d online side effects, want 2 (first online, back from offline)", k, n)
		}
		if n := c.offlines(k); n != 1 {
			t.Errorf("%s: %d offline events, want 1", k, n)
		}
	}
}

// A node restarted under the same NodeID after a whole-cluster outage
// longer than the grace period releases its previous life's claims at
// once; machines that come back within the grace period after the restart
// get no offline, however the first sweep and the reconnects interleave,
// and those that never come back go offline exactly once, one grace period
// after the restart, not at the first sweep.
func TestRestartUnderTheSameNodeIDAfterAnOutage(t *testing.T) {
	c := newTruth(t)
	n1, n2 := c.node("n1", 0), c.node("n2", 0)
	back, gone := keys("back", 3), keys("gone", 3)
	goOnline(t, n1, back...)
	goOnline(t, n1, gone...)
	early := keys("early", 1) // disconnected before the outage, half its grace spent
	closeNow := goOnline(t, n2, early...)
	if err := closeNow[0].Close(ctx); err != nil {
		t.Fatal(err)
	}
	c.run(grace/2, n1, n2)
	lastBeat, err := c.store.GetNode(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	// Both nodes crash (no drain) and stay down for twice the grace period.
	c.clock.Advance(2 * grace)
	restarted := c.clock.Now()
	n1 = c.node("n1", 0) // Join: previous life's claims released
	for _, k := range append(append([]domain.MachineKey{}, back...), gone...) {
		m := c.machine(k)
		if _, err := c.store.GetConnection(ctx, k); !errors.Is(err, domain.ErrNotFound) || m.State != domain.StateDisconnected ||
			!m.LastDisconnectTime.Equal(lastBeat.HeartbeatAt) {
			t.Fatalf("%s after restart: %+v (claim: %v); want released, disconnected since the last heartbeat %v", k, m, err, lastBeat.HeartbeatAt)
		}
	}
	c.run(3*time.Second, n1) // the first sweeps run before anyone reconnects
	n2 = c.node("n2", 0)
	open := map[domain.MachineKey]*session.Session{}
	for i, k := range back { // they come back at different times within the grace period
		c.run(time.Minute, n1, n2)
		open[k] = goOnline(t, []*tnode{n1, n2}[i%2], k)[0]
	}
	for _, k := range append(append([]domain.MachineKey{}, gone...), early...) {
		if n := c.offlines(k); n != 0 {
			t.Fatalf("%s offline %v after the restart, before a grace period passed", k, c.clock.Now().Sub(restarted))
		}
	}
	c.run(grace-3*time.Minute-3*time.Second+2*time.Second, n1, n2) // restart + grace + 2 s
	c.run(grace, n1, n2)
	all := append(append(append([]domain.MachineKey{}, back...), gone...), early...)
	for _, k := range all {
		want := 1
		if _, ok := open[k]; ok {
			want = 0
		}
		if n := c.offlines(k); n != want {
			t.Errorf("%s: %d offline events, want %d", k, n, want)
		}
		for _, e := range c.events.All() {
			if e.Kind == domain.EventOffline && e.Key == k && e.At.Before(restarted.Add(grace)) {
				t.Errorf("%s offline at %v, before one grace period after the restart (%v)", k, e.At, restarted.Add(grace))
			}
		}
	}
	c.invariant(open, all)
}

// A node that cannot renew fences itself before another node may take its
// machines over, and comes back when the store answers again.
func TestFenceComesBeforeTakeover(t *testing.T) {
	c := newTruth(t)
	c.store = &failingNodes{Store: c.store.(*memory.Store), fail: map[string]bool{}}
	n1, n2 := c.node("n1", 0), c.node("n2", 0)
	ks := keys("m", 3)
	sessions := goOnline(t, n1, ks...)
	c.store.(*failingNodes).set("n1", true)
	var fencedAt time.Duration
	for sec := 1; sec <= int(expiry/time.Second)+5; sec++ {
		c.clock.Advance(time.Second)
		_ = n1.svc.RenewLease(ctx)
		n1.svc.CheckFence(ctx)
		n2.tick(t, sec)
		if fencedAt == 0 && n1.svc.Fenced() {
			fencedAt = time.Duration(sec) * time.Second
			if m := c.machine(ks[0]); m.State != domain.StateOnline {
				t.Fatalf("n2 took over before n1 fenced itself: %+v", m)
			}
			if n1.local.count() != len(ks) {
				t.Fatalf("fenced, %d sessions closed, want %d", n1.local.count(), len(ks))
			}
		}
	}
	if fencedAt == 0 || fencedAt >= expiry {
		t.Fatalf("fenced after %v, want before the expiry %v", fencedAt, expiry)
	}
	for _, ss := range sessions {
		_ = ss.Close(ctx) // the agents leave the fenced node
	}
	if m := c.machine(ks[0]); m.State != domain.StateDisconnected {
		t.Fatalf("after the expiry: %+v, want released by n2", m)
	}
	c.store.(*failingNodes).set("n1", false)
	if err := n1.svc.RenewLease(ctx); err != nil || n1.svc.Fenced() {
		t.Fatalf("renewed: %v, fenced %v", err, n1.svc.Fenced())
	}
	goOnline(t, n1, domain.MachineKey{MachineID: "new", Project: "deeplink"})
}

// A sweeper that was not watching (stalled, stopped, cut off from the
// store) for longer than its gap counts every grace period again.
func TestSweeperThatWasNotWatchingCountsAgain(t *testing.T) {
	c := newTruth(t)
	n1 := c.node("n1", 0)
	ss := goOnline(t, n1, keyA)
	if err := ss[0].Close(ctx); err != nil {
		t.Fatal(err)
	}
	c.run(grace/2, n1)
	c.clock.Advance(grace) // the only node is stalled: nobody watches
	c.run(grace-2*time.Second, n1)
	if n := c.offlines(keyA); n != 0 {
		t.Fatalf("offline %d times within a grace period of watching", n)
	}
	// (It renews within 5 s of waking; until then it is fenced and does not
	// sweep at all.)
	c.run(10*time.Second, n1)
	if n := c.offlines(keyA); n != 1 {
		t.Fatalf("offline %d times, want 1", n)
	}
}

// failingNodes fails lease renewals of the nodes set to fail.
type failingNodes struct {
	*memory.Store
	mu   sync.Mutex
	fail map[string]bool
}

func (f *failingNodes) set(id string, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[id] = fail
}

func (f *failingNodes) UpsertNode(ctx context.Context, n domain.Node) error {
	f.mu.Lock()
	fail := f.fail[n.ID]
	f.mu.Unlock()
	if fail {
		return errors.New("store unreachable from this node")
	}
	return f.Store.UpsertNode(ctx, n)
}
