package main

// Cluster truth (issue 15) on real processes: ddn nodes over one `ddn
// store`, and real agents (the agent package ddn-agent is built on). Each
// fault ends with the cluster invariant checked from the outside.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	ddnagent "ddn/agent"
	"ddn/domain"
	"ddn/internal/ddnproc"
)

// Timing of these tests: production ratios (renew < fence < expiry <
// grace), short enough to run in seconds.
const (
	truthGrace = 6 * time.Second
	truthPing  = 500 * time.Millisecond
)

var truthEnv = []string{"DDN_OFFLINEGRACEPERIOD=" + truthGrace.String()}

// fleet is a set of in-process agents, each keeping one machine online on
// the cluster's nodes, tried in turn.
type fleet struct {
	t  *testing.T
	mu sync.Mutex
	// where is the URL each agent last went online on.
	where   map[string]string
	onlines map[string]int
	cancel  map[string]context.CancelFunc
	done    sync.WaitGroup
}

func newFleet(t *testing.T) *fleet {
	f := &fleet{t: t, where: map[string]string{}, onlines: map[string]int{}, cancel: map[string]context.CancelFunc{}}
	t.Cleanup(f.stopAll)
	return f
}

// start runs the agent of machine id against addrs (the first is tried first).
func (f *fleet) start(id string, addrs ...string) {
	var urls []string
	for _, a := range addrs {
		urls = append(urls, ddnagent.NodeURL(a))
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.mu.Lock()
	f.cancel[id] = cancel
	f.mu.Unlock()
	f.done.Go(func() {
		_ = ddnagent.Run(ctx, ddnagent.Config{
			URLs:    urls,
			Machine: ddnagent.Machine{MachineID: id, Project: "deeplink"},
			Report: func(ctx context.Context, c *ddnagent.Conn) error {
				return c.ReportBandwidth(ctx, ddnagent.BandwidthInfo{CPUCores: 1, MemoryTotal: 2, HDD: 50, Bandwidth: 10, Wallet: "0xabc"})
			},
			ReportEvery: time.Second, PingEvery: truthPing,
			MinBackoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
			OnOnline: func(url string) {
				f.mu.Lock()
				f.where[id], f.onlines[id] = url, f.onlines[id]+1
				f.mu.Unlock()
			},
		})
	})
}

// stop ends machine id's agent for good: it closes its socket and never
// comes back.
func (f *fleet) stop(id string) {
	f.mu.Lock()
	cancel := f.cancel[id]
	delete(f.cancel, id)
	f.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (f *fleet) stopAll() {
	f.mu.Lock()
	for id, cancel := range f.cancel {
		cancel()
		delete(f.cancel, id)
	}
	f.mu.Unlock()
	f.done.Wait()
}

// on counts the agents among ids whose last online was on addr.
func (f *fleet) on(addr string, ids []string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, id := range ids {
		if strings.Contains(f.where[id], addr) {
			n++
		}
	}
	return n
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(prefix, i)
	}
	return out
}

// onlyPrefix selects the machines of one test in the shared store.
func onlyPrefix(prefix string) func(domain.MachineKey) bool {
	return func(k domain.MachineKey) bool { return strings.HasPrefix(k.MachineID, prefix) }
}

// churn sums, over every node's log, the claims sweepers released from
// nodes they judged dead and the claims reconcilers made again under live
// sessions.
func (c *testCluster) churn() (released, reclaimed int) {
	type entry struct {
		Msg       string `json:"msg"`
		Released  int    `json:"released"`
		Reclaimed int    `json:"reclaimed"`
	}
	for _, l := range c.logs {
		for _, e := range ddnproc.Entries(l, func(e entry) bool { return e.Msg == "offline sweep" || e.Msg == "reconcile claims" }) {
			if e.Msg == "offline sweep" {
				released += e.Released
			} else {
				reclaimed += e.Reclaimed
			}
		}
	}
	return released, reclaimed
}

// await polls cond for at most within, failing the test with what.
func await(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !ddnproc.Eventually(within, 100*time.Millisecond, cond) {
		t.Fatalf("timed out after %v waiting for %s", within, what)
	}
}

// checkOfflines asserts exactly one offline (event, outbox entry delivered,
// webhook call) for each machine in gone, and none for the others in all;
// no offline is dated before notBefore.
func checkOfflines(t *testing.T, c *testCluster, all, gone []string, notBefore time.Time) {
	t.Helper()
	isGone := map[string]bool{}
	for _, id := range gone {
		isGone[id] = true
	}
	for _, id := range all {
		want := 0
		if isGone[id] {
			want = 1
		}
		got := c.offline(id)
		if len(got) != want {
			t.Errorf("%s: %d offline events, want %d: %+v", id, len(got), want, got)
		}
		for _, e := range got {
			if e.At.Before(notBefore) {
				t.Errorf("%s offline at %v, before %v", id, e.At.Format(time.StampMilli), notBefore.Format(time.StampMilli))
			}
		}
		if es := c.settled("offline", id); len(es) != want {
			t.Errorf("%s: %d offline outbox entries, want %d: %+v", id, len(es), want, es)
		}
		if n := c.hook.count(id, false); n != want {
			t.Errorf("%s: backend told offline %d times, want %d", id, n, want)
		}
	}
}

// TestStalledNodeIsLeftAndComesBackHarmless: a node stopped with SIGSTOP
// for three lease expiries, then continued. Its agents leave it within two
// pings and come online on the other node once the stalled node's lease
// has expired; no machine goes offline but the two whose agents stopped
// during the stall; the woken node fences itself, and the invariant holds.
func TestStalledNodeIsLeftAndComesBackHarmless(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three processes")
	}
	c := startClusterOf(t, 2, truthEnv, nil)
	inv := ddnproc.OpenCluster(t, c.storeURI, adminToken, c.addrs...)
	f := newFleet(t)
	all := ids("stall-", 8)
	for _, id := range all {
		f.start(id, c.addrs[0], c.addrs[1])
	}
	await(t, 30*time.Second, "every agent online", func() bool { return f.on(c.addrs[0], all)+f.on(c.addrs[1], all) == len(all) })
	inv.AwaitInvariant(t, 10*time.Second, onlyPrefix("stall-"))
	// The node holding more machines stalls (node-0, the agents' first
	// choice, unless a slow start sent them on).
	victim, other := 0, 1
	if f.on(c.addrs[1], all) > f.on(c.addrs[0], all) {
		victim, other = 1, 0
	}
	held := f.on(c.addrs[victim], all)

	stopped := time.Now()
	c.nodes[victim].Pause(t)
	gone := all[:2]
	for _, id := range gone {
		f.stop(id)
	}
	stayed := all[2:]
	await(t, 30*time.Second, "the agents online on the other node", func() bool { return f.on(c.addrs[other], stayed) == len(stayed) })
	moved := time.Since(stopped)
	if wait := time.Until(stopped.Add(3 * testExpiry)); wait > 0 {
		time.Sleep(wait) // the stall lasts three lease expiries
	}
	c.nodes[victim].Resume(t)
	await(t, 30*time.Second, "the stalled node fencing itself on waking", func() bool {
		return strings.Contains(c.nodes[victim].Logs(), "fenced (onlines refused")
	})
	time.Sleep(truthGrace + 2*time.Second) // room for a wrong offline to show up
	inv.AwaitInvariant(t, 20*time.Second, onlyPrefix("stall-"))
	checkOfflines(t, c, all, gone, stopped.Add(truthGrace))
	t.Logf("node-%d held %d of %d machines; its agents were online on the other node %v after the stop", victim, held, len(all), moved)
}

// TestWholeClusterRestartUnderTheSameNodeIDs: every node is killed and
// restarted under the same NodeIDs after longer than the grace period;
// six agents come back, four never do. No offline for the six, whose
// disconnect is far older than the grace period; exactly one for each of
// the four, one grace period after the cluster came back.
func TestWholeClusterRestartUnderTheSameNodeIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three processes")
	}
	c := startClusterOf(t, 2, truthEnv, nil)
	inv := ddnproc.OpenCluster(t, c.storeURI, adminToken, c.addrs...)
	f := newFleet(t)
	all := ids("restart-", 10)
	for i, id := range all {
		f.start(id, c.addrs[i%2], c.addrs[(i+1)%2])
	}
	await(t, 30*time.Second, "every agent online", func() bool { return f.on(c.addrs[0], all)+f.on(c.addrs[1], all) == len(all) })
	inv.AwaitInvariant(t, 10*time.Second, onlyPrefix("restart-"))

	for _, n := range c.nodes {
		if err := n.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	gone := all[6:]
	for _, id := range gone {
		f.stop(id)
	}
	time.Sleep(2 * truthGrace) // the whole cluster is down for twice the grace period
	restarted := time.Now()
	c.start(0)
	c.start(1)
	back := all[:6]
	await(t, 30*time.Second, "the returning agents online", func() bool { return f.on(c.addrs[0], back)+f.on(c.addrs[1], back) == len(back) })
	if n := len(c.offline("restart-6")) + len(c.offline("restart-7")) + len(c.offline("restart-8")) + len(c.offline("restart-9")); n != 0 {
		t.Fatalf("%d machines offline %v after the restart, before a grace period passed", n, time.Since(restarted))
	}
	await(t, 30*time.Second, "the machines that never came back offline", func() bool {
		for _, id := range gone {
			if len(c.offline(id)) == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(2 * time.Second) // room for a duplicate to show up
	inv.AwaitInvariant(t, 20*time.Second, onlyPrefix("restart-"))
	checkOfflines(t, c, all, gone, restarted.Add(truthGrace))
}

// TestNodeWithAnOffsetClock: one node's clock is 20 s behind, the other's
// 20 s ahead (test-only DDN_TEST_CLOCK_OFFSET), more than the lease expiry
// and the grace period. Machines stay online on both for several grace
// periods; the two whose agents stop go offline exactly once.
func TestNodeWithAnOffsetClock(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three processes")
	}
	c := startClusterOf(t, 2, truthEnv, map[int][]string{0: {"DDN_TEST_CLOCK_OFFSET=-20s"}, 1: {"DDN_TEST_CLOCK_OFFSET=20s"}})
	inv := ddnproc.OpenCluster(t, c.storeURI, adminToken, c.addrs...)
	f := newFleet(t)
	all := ids("skew-", 8)
	for i, id := range all {
		f.start(id, c.addrs[i%2], c.addrs[(i+1)%2])
	}
	await(t, 30*time.Second, "every agent online", func() bool { return f.on(c.addrs[0], all)+f.on(c.addrs[1], all) == len(all) })
	time.Sleep(2 * truthGrace)
	for _, id := range all {
		if got := c.offline(id); len(got) != 0 {
			t.Fatalf("%s offline while its agent is connected: %+v", id, got)
		}
	}
	// Nobody judged the other dead: no claim released, none made again.
	if released, reclaimed := c.churn(); released != 0 || reclaimed != 0 {
		t.Fatalf("with offset clocks, sweepers released %d claims and reconcilers claimed %d again; want none", released, reclaimed)
	}
	inv.AwaitInvariant(t, 10*time.Second, onlyPrefix("skew-"))
	left := time.Now()
	gone := []string{all[0], all[1]} // their agents started on different nodes
	for _, id := range gone {
		f.stop(id)
	}
	await(t, 30*time.Second, "the machines whose agents stopped offline", func() bool {
		return len(c.offline(gone[0])) > 0 && len(c.offline(gone[1])) > 0
	})
	if took := time.Since(left); took < truthGrace {
		t.Fatalf("offline %v after the agents left, before the grace period %v", took, truthGrace)
	}
	time.Sleep(2 * time.Second)
	inv.AwaitInvariant(t, 20*time.Second, onlyPrefix("skew-"))
	checkOfflines(t, c, all, gone, time.Time{})
	for i, n := range c.nodes {
		if n.Logs() == "" || !strings.Contains(n.Logs(), "test-only clock offset") {
			t.Errorf("node-%d did not run with its clock offset", i)
		}
	}
}

// TestSlowWebhookWithClocksAMinuteApartIsCalledOnce: node-0's clock is a
// minute behind, node-1's a minute ahead, and the backend holds each
// answer for 6 s (or until a second call comes). node-1 polls the outbox
// every 2 s, finds node-0's online entry due by its own clock while
// node-0's call is in flight, and must leave the try to node-0's claim:
// one call. (Claims by slices of each node's wall clock let node-1 run
// the same try in its own slice: two calls.)
func TestSlowWebhookWithClocksAMinuteApartIsCalledOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three processes")
	}
	c := startClusterOf(t, 2, truthEnv, map[int][]string{0: {"DDN_TEST_CLOCK_OFFSET=-1m"}, 1: {"DDN_TEST_CLOCK_OFFSET=1m"}})
	c.hook.slow(6 * time.Second)
	f := newFleet(t)
	id := "slowhook-0"
	f.start(id, c.addrs[0])
	await(t, 30*time.Second, "the machine online on node-0", func() bool { return f.on(c.addrs[0], []string{id}) == 1 })
	await(t, 30*time.Second, "its online entry done", func() bool {
		es := c.outbox("online", id)
		return len(es) == 1 && es[0].Status == "done"
	})
	if n := c.hook.count(id, true); n != 1 {
		t.Fatalf("the backend heard of the online %d times, want once", n)
	}
}
