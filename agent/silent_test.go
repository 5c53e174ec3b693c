package agent_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"ddn/adapters/memory"
	"ddn/agent"
)

// stallingNode answers the online of its first connection, then stops
// reading it altogether, as a stopped (SIGSTOP) or hung node does: no
// pong, no answer, the TCP connection open.
type stallingNode struct {
	stalled chan time.Time
	release chan struct{}
}

func (s *stallingNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := cws.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	_, data, err := c.Read(ctx)
	if err != nil {
		return
	}
	var req struct {
		ID   uint64 `json:"id"`
		Type uint32 `json:"type"`
	}
	_ = json.Unmarshal(data, &req)
	resp, _ := json.Marshal(map[string]any{"version": 0, "id": req.ID, "type": req.Type, "code": 0, "message": "machine online success", "body": ""})
	if err := c.Write(ctx, cws.MessageText, resp); err != nil {
		return
	}
	s.stalled <- time.Now()
	select { // silent from now on
	case <-s.release:
	case <-ctx.Done():
	}
}

// TestAgentLeavesASilentNodeWithinTwoHeartbeats: a node that stops
// answering is left after about two ping intervals, not after the ping
// timeout plus a close handshake, and the agent goes online on the next URL.
func TestAgentLeavesASilentNodeWithinTwoHeartbeats(t *testing.T) {
	stall := &stallingNode{stalled: make(chan time.Time, 1), release: make(chan struct{})}
	silent := httptest.NewServer(stall)
	defer silent.Close()
	defer close(stall.release)
	good := &node{t: t, addr: "127.0.0.1:0", store: memory.NewStore()}
	good.start()
	defer good.stop()

	const ping = 300 * time.Millisecond
	onlineAt := make(chan string, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(ctx, agent.Config{
			URLs:    []string{agent.NodeURL(silent.URL), "ws://" + good.addr + "/websocket"},
			Machine: agent.Machine{MachineID: "silent-1", Project: "deeplink"},
			// Reports only every minute: the heartbeat alone must notice.
			ReportEvery: time.Minute, PingEvery: ping,
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
			OnOnline: func(url string) { onlineAt <- url },
		})
	}()
	var stalledAt time.Time
	select {
	case stalledAt = <-stall.stalled:
	case <-time.After(10 * time.Second):
		t.Fatal("the agent never went online on the first node")
	}
	for {
		select {
		case url := <-onlineAt:
			if !strings.Contains(url, good.addr) {
				continue // the online on the silent node itself
			}
			took := time.Since(stalledAt)
			// No pong for at most 2 pings, then a 10-20 ms backoff and the
			// online on the next node; a generous margin for a busy machine.
			if took > 2*ping+time.Second {
				t.Fatalf("left the silent node after %v, want about two pings (%v)", took, 2*ping)
			}
			t.Logf("left the silent node %v after it went silent (ping every %v)", took, ping)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			return
		case <-time.After(15 * time.Second):
			t.Fatal("the agent never went online on the next node")
		}
	}
}
