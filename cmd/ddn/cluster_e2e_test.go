package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"ddn/adapters/mongo"
	"ddn/domain"
	"ddn/internal/ddnproc"
)

// Cluster timing for the test: short enough to run in seconds, with the
// same ratios as production (renew < expiry < grace).
const (
	testGrace  = 5 * time.Second
	testExpiry = 4 * time.Second
	testRenew  = 400 * time.Millisecond
)

// testCluster is one `ddn store` and three nodes sharing it.
type testCluster struct {
	t        *testing.T
	bin, dir string
	storeURI string
	hookURL  string
	addrs    []string
	nodes    []*ddnproc.Node
	// logs keeps every node process's logs, restarted ones included.
	logs []*ddnproc.Log
	// hook is the operator's backend: it receives the webhook calls.
	hook *webhookReceiver
	// base is added to every node's environment, env[i] to node i's, after
	// the defaults (a later variable wins).
	base []string
	env  map[int][]string
}

// webhookReceiver records the webhook calls of every node.
type webhookReceiver struct {
	mu    sync.Mutex
	calls []map[string]any
	// hold keeps each answer back until another call arrives or hold has
	// passed (0: answers at once): a slow backend.
	hold time.Duration
}

func (w *webhookReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	w.mu.Lock()
	w.calls = append(w.calls, body)
	seen, hold := len(w.calls), w.hold
	w.mu.Unlock()
	for end := time.Now().Add(hold); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		w.mu.Lock()
		more := len(w.calls) > seen
		w.mu.Unlock()
		if more {
			break
		}
	}
	_, _ = rw.Write([]byte(`{"code":1,"msg":"ok","success":true,"is_rented":false}`))
}

// slow makes the backend hold each answer (see hold).
func (w *webhookReceiver) slow(hold time.Duration) {
	w.mu.Lock()
	w.hold = hold
	w.mu.Unlock()
}

// count says how many calls told the backend machine went online (or offline).
func (w *webhookReceiver) count(machine string, online bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.calls {
		if c["machine_id"] == machine && c["is_online"] == online {
			n++
		}
	}
	return n
}

func startCluster(t *testing.T) *testCluster {
	t.Helper()
	return startClusterOf(t, 3, nil, nil)
}

// startClusterOf starts n nodes with extra environment: base for every
// node, env[i] for node i.
func startClusterOf(t *testing.T, n int, base []string, env map[int][]string) *testCluster {
	t.Helper()
	c := &testCluster{t: t, bin: buildBinary(t), dir: t.TempDir(), hook: &webhookReceiver{}, base: base, env: env}
	hook := httptest.NewServer(c.hook)
	t.Cleanup(hook.Close)
	c.hookURL = hook.URL
	storeAddr := ddnproc.FreeAddr(t)
	store := exec.Command(c.bin, "store", "-addr", storeAddr, "-dir", filepath.Join(c.dir, "store"))
	if err := store.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Process.Signal(syscall.SIGTERM); _ = store.Wait() })
	c.storeURI = "mongodb://" + storeAddr + "/"
	for i := range n {
		c.addrs = append(c.addrs, ddnproc.FreeAddr(t))
		c.nodes = append(c.nodes, nil)
		c.start(i)
	}
	return c
}

func (c *testCluster) start(i int) {
	c.t.Helper()
	env := []string{"DDN_MONGODB_URI=" + c.storeURI, fmt.Sprintf("DDN_NODEID=node-%d", i),
		"DDN_OFFLINEGRACEPERIOD=" + testGrace.String(), "DDN_NODELEASEEXPIRY=" + testExpiry.String(),
		"DDN_NODELEASERENEW=" + testRenew.String(), "DDN_SWEEPINTERVAL=200ms", "DDN_HEARTBEATTIMEOUT=60s", "DDN_LOGLEVEL=info",
		"DDN_ADMIN_TOKEN=" + adminToken, "DDN_OUTBOX_INTERVAL=200ms", "DDN_NOTIFYTHIRDPARTY_OFFLINENOTIFY=" + c.hookURL,
		// Every presence transition of every project is notified (not the
		// original's rule, which notifies DeepLinkEVM after chain reports).
		"DDN_NOTIFYTHIRDPARTY_PROJECTS=*", "DDN_NOTIFYTHIRDPARTY_AFTERCHAINREPORT=false"}
	n := startNode(c.t, c.bin, c.dir, c.addrs[i], append(append(env, c.base...), c.env[i]...)...)
	c.nodes[i] = n
	c.logs = append(c.logs, n.Log)
}

const adminToken = "cluster-test-token"

// outboxEntry is what the admin API shows of an outbox entry.
type outboxEntry struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"`
	MachineID string   `json:"machine_id"`
	NodeID    string   `json:"node_id"`
	Status    string   `json:"status"`
	Delivered []string `json:"delivered"`
}

// outbox lists the cluster's outbox entries of one kind for machine, read
// through the admin API of the first node that answers.
func (c *testCluster) outbox(kind, machine string) []outboxEntry {
	c.t.Helper()
	for _, addr := range c.addrs {
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/v0/admin/outbox?limit=10000", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		var body struct {
			Entries []outboxEntry `json:"entries"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			continue
		}
		var out []outboxEntry
		for _, e := range body.Entries {
			if e.Kind == kind && e.MachineID == machine {
				out = append(out, e)
			}
		}
		return out
	}
	c.t.Fatal("no node answered the admin API")
	return nil
}

// settled waits until no outbox entry of machine is pending or ready (or the
// deadline passes) and returns them.
func (c *testCluster) settled(kind, machine string) []outboxEntry {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		es := c.outbox(kind, machine)
		done := true
		for _, e := range es {
			done = done && (e.Status == "done" || e.Status == "cancelled" || e.Status == "dead")
		}
		if done || time.Now().After(deadline) {
			return es
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// offline returns every offline event logged by any node process for machine.
func (c *testCluster) offline(machine string) []loggedEvent {
	var out []loggedEvent
	for _, l := range c.logs {
		for _, e := range machineEvents(l, "offline") {
			if e.Machine == "deeplink/"+machine {
				out = append(out, e)
			}
		}
	}
	return out
}

// agent is a test machine agent: one goroutine at a time uses it.
type agent struct {
	t       *testing.T
	id      string
	conn    *websocket.Conn
	seq     uint64
	acked   int
	onlines int
	addr    string
	timeout time.Duration
}

func newAgent(t *testing.T, id string) *agent { return &agent{t: t, id: id, timeout: 15 * time.Second} }

func (a *agent) call(ctx context.Context, typ uint32, body string) (uint32, error) {
	a.seq++
	frame := fmt.Sprintf(`{"version":0,"timestamp":%d,"id":%d,"type":%d,"pub_key":"","sign":"","body":%q}`,
		time.Now().UnixMilli(), a.seq, typ, base64.StdEncoding.EncodeToString([]byte(body)))
	if err := a.conn.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		return 0, err
	}
	_, data, err := a.conn.Read(ctx)
	if err != nil {
		return 0, err
	}
	var r response
	if err := json.Unmarshal(data, &r); err != nil {
		return 0, err
	}
	return r.Code, nil
}

// online connects to one of addrs, starting at the first, and goes online,
// retrying while the machine is still held elsewhere (code 5) until timeout.
func (a *agent) online(addrs ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	body := fmt.Sprintf(`{"machine_id":%q,"project":"deeplink","container_id":"","staking_type":0}`, a.id)
	for i := 0; ctx.Err() == nil; i++ {
		addr := addrs[i%len(addrs)]
		conn, _, err := websocket.Dial(ctx, "ws://"+addr+"/websocket", nil)
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		a.conn, a.addr = conn, addr
		code, err := a.call(ctx, 1, body)
		if err == nil && code == 0 {
			a.onlines++
			return nil
		}
		_ = conn.Close(websocket.StatusNormalClosure, "retry")
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("agent %s: not online within %v", a.id, a.timeout)
}

func (a *agent) report() error {
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	code, err := a.call(ctx, 4, `{"cpu_cores":1,"memory_total":2,"hdd":50,"bandwidth":10,"wallet":"0xabc"}`)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("agent %s: report answered code %d", a.id, code)
	}
	a.acked++
	return nil
}

func (a *agent) close() { _ = a.conn.Close(websocket.StatusNormalClosure, "bye") }

// TestClusterPresence runs the three cluster scenarios on three real nodes
// sharing one store, with exact counts of offline events.
func TestClusterPresence(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four processes")
	}
	c := startCluster(t)

	t.Run("hops within the grace period produce no offline", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				a := newAgent(t, fmt.Sprint("hop-", i))
				for hop := range 4 {
					if err := a.online(c.addrs[(i+hop)%3]); err != nil {
						t.Error(err)
						return
					}
					if err := a.report(); err != nil {
						t.Error(err)
					}
					a.close()
				}
				if err := a.online(c.addrs[i%3]); err != nil { // and stay
					t.Error(err)
				}
			})
		}
		wg.Wait()
		time.Sleep(testGrace + 2*time.Second) // the grace period passes with every machine connected
		for i := range 6 {
			if got := c.offline(fmt.Sprint("hop-", i)); len(got) != 0 {
				t.Errorf("hop-%d: %d offline events, want 0: %+v", i, len(got), got)
			}
			if got := c.outbox("offline", fmt.Sprint("hop-", i)); len(got) != 0 {
				t.Errorf("hop-%d: %d offline outbox entries, want 0: %+v", i, len(got), got)
			}
			c.settled("online", fmt.Sprint("hop-", i))
			if on, off := c.hook.count(fmt.Sprint("hop-", i), true), c.hook.count(fmt.Sprint("hop-", i), false); on != 1 || off != 0 {
				t.Errorf("hop-%d: backend told online %d times and offline %d times, want 1 and 0", i, on, off)
			}
		}
	})

	t.Run("a notify asked of one node reaches the connection on another", func(t *testing.T) {
		a := newAgent(t, "notified")
		if err := a.online(c.addrs[0]); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", "http://"+c.addrs[1]+"/api/v0/admin/notify",
			strings.NewReader(`{"machine_id":"notified","project":"deeplink","container_id":""}`))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 200 || body["node_id"] != "node-0" {
			t.Fatalf("notify via node-1 = %d %v", resp.StatusCode, body)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, data, err := a.conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n struct {
			ID      uint64 `json:"id"`
			Type    uint32 `json:"type"`
			Code    uint32 `json:"code"`
			Message string `json:"message"`
			Body    []byte `json:"body"`
		}
		if err := json.Unmarshal(data, &n); err != nil {
			t.Fatal(err)
		}
		if n.Type != 3 || n.ID != 0 || n.Code != 0 || n.Message != "notify" ||
			string(n.Body) != `{"unregister":{"message":"machine unregistered, notify from http api"}}` {
			t.Fatalf("agent received %s", data)
		}
		a.close()
	})

	t.Run("a killed node's machines go offline exactly once unless they come back", func(t *testing.T) {
		agents := make([]*agent, 4)
		for i := range agents {
			agents[i] = newAgent(t, fmt.Sprint("kill-", i))
			if err := agents[i].online(c.addrs[2]); err != nil {
				t.Fatal(err)
			}
			for range 5 {
				if err := agents[i].report(); err != nil {
					t.Fatal(err)
				}
			}
		}
		killed := time.Now()
		if err := c.nodes[2].Kill(); err != nil {
			t.Fatal(err)
		}
		// Two agents come back on surviving nodes (once the dead node's lease
		// has expired); two never do.
		for i, a := range agents[:2] {
			if err := a.online(c.addrs[i]); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for len(c.offline("kill-2")) == 0 || len(c.offline("kill-3")) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no offline for the machines that never came back")
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(testGrace) // room for a duplicate to show up
		for i := range 4 {
			got := c.offline(fmt.Sprint("kill-", i))
			want := 0
			if i >= 2 {
				want = 1
			}
			if len(got) != want {
				t.Errorf("kill-%d: %d offline events, want %d: %+v", i, len(got), want, got)
			}
			for _, e := range got {
				if e.At.Before(killed.Add(testGrace)) {
					t.Errorf("kill-%d offline at %v, before the grace period after the kill (%v)", i, e.At, killed)
				}
			}
		}
		for i := range 4 {
			got := c.settled("offline", fmt.Sprint("kill-", i))
			want := 0
			if i >= 2 {
				want = 1
			}
			if len(got) != want {
				t.Errorf("kill-%d: %d offline outbox entries, want %d: %+v", i, len(got), want, got)
			}
			for _, e := range got {
				if e.Status != "done" || len(e.Delivered) != 2 || e.NodeID == "node-2" {
					t.Errorf("kill-%d: offline entry %+v; want delivered (log, webhook) by a surviving node", i, e)
				}
			}
			if n := c.hook.count(fmt.Sprint("kill-", i), false); n != want {
				t.Errorf("kill-%d: backend told offline %d times, want %d", i, n, want)
			}
		}
		// The killed node's log holds no offline: survivors reported them.
		for _, e := range machineEvents(c.nodes[2].Log, "offline") {
			t.Errorf("the killed node reported %s offline", e.Machine)
		}
		// Every report acknowledged before the kill is in the store.
		ctx := context.Background()
		st, err := mongo.Open(ctx, mongo.Options{URI: c.storeURI})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close(ctx)
		for _, a := range agents {
			rs, err := st.ListReports(ctx, domain.MachineKey{MachineID: a.id, Project: "deeplink"}, time.Time{}, time.Time{}, 0)
			if err != nil || len(rs) != a.acked {
				t.Errorf("%s: %d reports stored, %d acknowledged (%v)", a.id, len(rs), a.acked, err)
			}
		}
		for _, a := range agents[:2] {
			a.close()
		}
	})

	t.Run("a rolling restart produces no offline", func(t *testing.T) {
		c.start(2) // the node killed above comes back first
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failures []error
		rollers := make([]*agent, 6)
		for i := range rollers {
			rollers[i] = newAgent(t, fmt.Sprint("roll-", i))
		}
		for i := range 6 {
			wg.Go(func() {
				a := rollers[i]
				// Like a real agent: on any error, reconnect to the next node.
				for k := i; ; k++ {
					select {
					case <-stop:
						return
					default:
					}
					if err := a.online(c.addrs[k%3], c.addrs[(k+1)%3], c.addrs[(k+2)%3]); err != nil {
						mu.Lock()
						failures = append(failures, err)
						mu.Unlock()
						return
					}
					for a.report() == nil {
						select {
						case <-stop:
							a.close()
							return
						case <-time.After(100 * time.Millisecond):
						}
					}
				}
			})
		}
		time.Sleep(time.Second)
		for i := range 3 {
			c.nodes[i].Stop(t)
			c.start(i)
			time.Sleep(500 * time.Millisecond)
		}
		time.Sleep(testGrace + 2*time.Second)
		close(stop)
		wg.Wait()
		// The agents have just left for good: what the restart did is seen
		// now, before their own grace periods run out.
		offlines, offHooks := map[int][]loggedEvent{}, map[int]int{}
		for i := range 6 {
			offlines[i], offHooks[i] = c.offline(fmt.Sprint("roll-", i)), c.hook.count(fmt.Sprint("roll-", i), false)
		}
		for _, err := range failures {
			t.Error(err)
		}
		for i := range 6 {
			if got := offlines[i]; len(got) != 0 {
				t.Errorf("roll-%d: %d offline events during a rolling restart, want 0: %+v", i, len(got), got)
			}
			// Zero lost outbox entries: one entry per online (and per claim
			// a reconciler made again under a live session); the first (a
			// new machine going online) delivered, every reconnect within
			// the grace period cancelled, none left pending, ready or dead.
			onlines := c.settled("online", fmt.Sprint("roll-", i))
			status := map[string]int{}
			for _, e := range onlines {
				status[e.Status]++
			}
			if len(onlines) < rollers[i].onlines || status["done"] != 1 || status["cancelled"] != len(onlines)-1 {
				t.Errorf("roll-%d: %d onlines gave online entries %v, want 1 done and the rest (at least %d) cancelled", i, rollers[i].onlines, status, rollers[i].onlines-1)
			}
			if on, off := c.hook.count(fmt.Sprint("roll-", i), true), offHooks[i]; on != 1 || off != 0 {
				t.Errorf("roll-%d: backend told online %d times and offline %d times during a rolling restart, want 1 and 0", i, on, off)
			}
		}
	})
}
