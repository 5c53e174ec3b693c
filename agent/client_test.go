package agent_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/adapters/websocket"
	"ddn/agent"
	"ddn/app/ingest"
	"ddn/app/session"
	"ddn/domain"
)

// node is a real ddn node (session service, batcher, WebSocket handler)
// over an in-memory store that survives the node's restarts.
type node struct {
	t       *testing.T
	addr    string
	store   *memory.Store
	srv     *http.Server
	handler *websocket.Handler
	stop    func()
}

func (n *node) start() {
	n.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	batcher := ingest.NewBatcher(n.store, 16, time.Millisecond)
	done := make(chan struct{})
	go func() { batcher.Run(ctx); close(done) }()
	svc, err := session.NewService(session.Config{NodeID: "n1"}, n.store, batcher, memory.NewClock(time.Now()), new(memory.Events).Observe)
	if err != nil {
		n.t.Fatal(err)
	}
	n.handler = websocket.NewHandler(svc, websocket.Options{})
	var ln net.Listener
	for range 50 { // the port of the previous run may take a moment to free
		if ln, err = net.Listen("tcp", n.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		n.t.Fatal(err)
	}
	n.addr = ln.Addr().String()
	n.srv = &http.Server{Handler: n.handler}
	go func() { _ = n.srv.Serve(ln) }()
	n.stop = func() {
		_ = n.handler.Drain(context.Background())
		_ = n.srv.Close()
		cancel()
		<-done
	}
}

func TestAgentComesBackAfterANodeRestart(t *testing.T) {
	n := &node{t: t, addr: "127.0.0.1:0", store: memory.NewStore()}
	n.start()
	defer func() { n.stop() }()

	var mu sync.Mutex
	onlines := 0
	var notified []string
	online := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	key := domain.MachineKey{MachineID: "agent-1", Project: "deeplink"}
	go func() {
		done <- agent.Run(ctx, agent.Config{
			URLs:    []string{"ws://" + n.addr + "/websocket"},
			Machine: agent.Machine{MachineID: key.MachineID, Project: key.Project},
			Report: func(ctx context.Context, c *agent.Conn) error {
				return c.ReportBandwidth(ctx, agent.BandwidthInfo{CPUCores: 2, MemoryTotal: 4, HDD: 100, Bandwidth: 50, Wallet: "0xabc"})
			},
			ReportEvery: 50 * time.Millisecond, PingEvery: 20 * time.Millisecond,
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
			OnOnline: func(string) { mu.Lock(); onlines++; mu.Unlock(); online <- struct{}{} },
			OnNotify: func(b []byte) { mu.Lock(); notified = append(notified, string(b)); mu.Unlock() },
		})
	}()
	wait := func(what string) {
		t.Helper()
		select {
		case <-online:
		case <-time.After(10 * time.Second):
			t.Fatalf("agent not online %s", what)
		}
	}
	wait("at first")
	if !n.handler.Notify(context.Background(), key, session.UnregisterNotice) {
		t.Fatal("node found no connection to notify")
	}
	n.stop()
	before := reportsOf(t, n.store, key) // every report of the first connection
	n.start()                            // same address, same store: the agent finds it by itself
	wait("after the node restart")
	deadline := time.Now().Add(10 * time.Second)
	for reportsOf(t, n.store, key) <= before {
		if time.Now().After(deadline) {
			t.Fatal("no report stored after the agent came back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if onlines != 2 {
		t.Fatalf("onlines = %d, want 2", onlines)
	}
	if len(notified) != 1 || !strings.Contains(notified[0], "machine unregistered") {
		t.Fatalf("notifies = %v", notified)
	}
}

func reportsOf(t *testing.T, store *memory.Store, key domain.MachineKey) int {
	t.Helper()
	rs, err := store.ListReports(context.Background(), key, time.Time{}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(rs)
}

func TestCodeErrors(t *testing.T) {
	n := &node{t: t, addr: "127.0.0.1:0", store: memory.NewStore()}
	n.start()
	defer n.stop()
	ctx := context.Background()
	c, err := agent.Dial(ctx, "ws://"+n.addr+"/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.ReportBandwidth(ctx, agent.BandwidthInfo{})
	if !agent.IsCode(err, 6) {
		t.Fatalf("report before online: want code 6, got %v", err)
	}
	if err := c.Online(ctx, agent.Machine{MachineID: "m", Project: "p"}); err != nil {
		t.Fatal(err)
	}
	var ce *agent.CodeError
	if err := c.ReportBandwidth(ctx, agent.BandwidthInfo{CPUCores: 1}); !errors.As(err, &ce) || ce.Code != 1 || ce.Message != "invalid memory total" {
		t.Fatalf("invalid report: %v", err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

// TestAgentSendsItsInfoAgainWhenAsked: a type-5 request of the node gets
// the machine's report at once, long before the next scheduled one.
func TestAgentSendsItsInfoAgainWhenAsked(t *testing.T) {
	n := &node{t: t, addr: "127.0.0.1:0", store: memory.NewStore()}
	n.start()
	defer func() { n.stop() }()
	key := domain.MachineKey{MachineID: "agent-5", Project: "deeplink"}
	reports := make(chan struct{}, 10)
	asked := make(chan string, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(ctx, agent.Config{
			URLs:    []string{"ws://" + n.addr + "/websocket"},
			Machine: agent.Machine{MachineID: key.MachineID, Project: key.Project},
			Report: func(ctx context.Context, c *agent.Conn) error {
				err := c.ReportBandwidth(ctx, agent.BandwidthInfo{CPUCores: 1, MemoryTotal: 2, HDD: 50, Bandwidth: 10, Wallet: "0xabc"})
				reports <- struct{}{}
				return err
			},
			ReportEvery:   time.Hour,
			OnInfoRequest: func(url string) { asked <- url },
		})
	}()
	defer func() { cancel(); <-done }()
	wait := func(what string, ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(20 * time.Second): // a guard, not a measurement
			t.Fatalf("no %s", what)
		}
	}
	wait("first report", reports)
	if !n.handler.RequestInfo(ctx, key) {
		t.Fatal("the node has no connection of the machine")
	}
	wait("report after the type-5 request", reports)
	select {
	case <-asked:
	default:
		t.Fatal("OnInfoRequest was not called")
	}
}
