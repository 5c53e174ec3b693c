package websocket_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"ddn/adapters/memory"
	ws "ddn/adapters/websocket"
	"ddn/domain"
)

// gatedOnline holds every MarkOnline until the test opens the gate: a store
// too slow to serve an online within the online deadline.
type gatedOnline struct {
	*memory.Store
	entered chan struct{}
	gate    chan struct{}
}

func (g *gatedOnline) MarkOnline(ctx context.Context, key domain.MachineKey, st domain.StakingType, nodeID string, at time.Time) (domain.Machine, bool, error) {
	g.entered <- struct{}{}
	<-g.gate
	return g.Store.MarkOnline(ctx, key, st, nodeID, at)
}

// TestOnlineDeadlinePausesWhileAnOnlineIsServed: an agent that sent its
// online in time is not cut off because the store is slow to serve it.
func TestOnlineDeadlinePausesWhileAnOnlineIsServed(t *testing.T) {
	store := &gatedOnline{Store: memory.NewStore(), entered: make(chan struct{}, 1), gate: make(chan struct{})}
	svc := newSessionsOn(t, store)
	const deadline = 200 * time.Millisecond
	h := ws.NewHandler(svc, ws.Options{Clock: fixedClock{}, Limits: ws.Limits{OnlineDeadline: deadline}})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		_ = h.Drain(context.Background())
		srv.Close()
	})
	c := (&server{url: "ws" + strings.TrimPrefix(srv.URL, "http")}).dial(t)
	ctx, cancel := timeout()
	defer cancel()
	if err := c.c.Write(ctx, websocket.MessageText, []byte(onlineExample)); err != nil {
		t.Fatal(err)
	}
	<-store.entered          // the online is being served...
	time.Sleep(3 * deadline) // ...for longer than the deadline
	close(store.gate)
	_, data, err := c.c.Read(ctx)
	if err != nil || !strings.Contains(string(data), `"code":0,`) {
		t.Fatalf("online after a slow store answered %s (%v), want code 0", data, err)
	}
	c.expect(envelope(2, 2, gpuBody), 0, "add machine tm success") // still open
}
