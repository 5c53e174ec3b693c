package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"ddn/adapters/httpapi"
	"ddn/adapters/memory"
	ws "ddn/adapters/websocket"
	"ddn/app/ingest"
	"ddn/app/session"
	"ddn/domain"
)

// TestMachinesNeverScoredAreAskedForTheirInfo wires the session service,
// the WebSocket handler and the HTTP API in process, on an injected clock:
// of two connected machines, the one with no calc point gets a type-5
// request within one InfoRequestInterval of that clock and is listed by
// GET /api/v0/machines/incomplete; the scored one gets neither.
func TestMachinesNeverScoredAreAskedForTheirInfo(t *testing.T) {
	store := memory.NewStore()
	clock := memory.NewClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batcher := ingest.NewBatcher(store, 64, 2*time.Millisecond)
	batcherDone := make(chan struct{})
	go func() { defer close(batcherDone); batcher.Run(ctx) }()
	defer func() { cancel(); <-batcherDone }()
	svc, err := session.NewService(session.Config{NodeID: "n1"}, store, batcher, clock, new(memory.Events).Observe)
	if err != nil {
		t.Fatal(err)
	}
	h := ws.NewHandler(svc, ws.Options{Clock: clock})
	svc.SetLocal(h)
	api := httptest.NewServer(httpapi.New(httpapi.Options{WebSocket: h, Fleet: store, ReadToken: "read"}))
	defer api.Close()
	defer func() { _ = h.Drain(context.Background()) }()

	unscored := domain.MachineKey{MachineID: "never-scored", Project: "deeplink"}
	scored := domain.MachineKey{MachineID: "scored", Project: "deeplink"}
	// The scored machine was scored before (machine_info holds its calc point).
	if err := store.SetShortTermInfo(ctx, scored, domain.ShortTermInfo{CPUType: "x", CPURate: 2500, GPUNames: []string{"NVIDIA GeForce RTX 4060"},
		GPUMemoryTotal: []int64{8}, MemoryTotal: 16, Wallet: "0xabc", CalcPoint: 79.15}, clock.Now()); err != nil {
		t.Fatal(err)
	}
	dial := func(k domain.MachineKey) *websocket.Conn {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(api.URL, "http")+"/websocket", nil)
		if err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf(`{"machine_id":%q,"project":%q,"container_id":"","staking_type":0}`, k.MachineID, k.Project)
		frame := fmt.Sprintf(`{"version":0,"timestamp":0,"id":1,"type":1,"pub_key":"","sign":"","body":%q}`, base64.StdEncoding.EncodeToString([]byte(body)))
		if err := c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			t.Fatal(err)
		}
		if m := readFrame(t, c); m["code"] != float64(0) {
			t.Fatalf("online of %s answered %v", k, m)
		}
		return c
	}
	a, b := dial(unscored), dial(scored)
	defer a.CloseNow()
	defer b.CloseNow()

	passes := make(chan int, 16)
	const every = 2 * time.Minute
	go svc.RunInfoRequests(ctx, every, h, func(asked int) { passes <- asked })
	clock.Advance(every)
	select {
	case n := <-passes:
		if n != 1 {
			t.Fatalf("the pass after one interval asked %d machines, want 1 (the one never scored)", n)
		}
	case <-time.After(30 * time.Second): // a guard, not a measurement
		t.Fatal("no info request pass after one interval of the injected clock")
	}
	m := readFrame(t, a)
	if m["type"] != float64(5) || m["id"] != float64(0) || m["code"] != float64(0) || m["message"] != "request machine info" || m["body"] != "" {
		t.Fatalf("the machine never scored received %v, want the type-5 request", m)
	}
	// The scored machine received nothing: the next frame it reads is the
	// answer to a ping of ours.
	if err := b.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, data, err := b.Read(ctx); err != nil || string(data) != "pong" {
		t.Fatalf("scored machine read %q, %v; want only the pong", data, err)
	}

	req, _ := http.NewRequest("GET", api.URL+"/api/v0/machines/incomplete", nil)
	req.Header.Set("Authorization", "Bearer read")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Count    int `json:"count"`
		Machines []struct {
			MachineID   string `json:"machine_id"`
			Project     string `json:"project"`
			ContainerID string `json:"container_id"`
		} `json:"machines"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("incomplete machines: %d %v", resp.StatusCode, err)
	}
	if got.Count != 1 || len(got.Machines) != 1 || got.Machines[0].MachineID != unscored.MachineID || got.Machines[0].Project != "deeplink" {
		t.Fatalf("incomplete machines = %+v, want only %s", got, unscored)
	}
	resp2, err := http.Get(api.URL + "/api/v0/machines/incomplete")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 401 {
		t.Fatalf("incomplete machines without the read token: %d, want 401", resp2.StatusCode)
	}
}

func readFrame(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := c.Read(rctx)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("frame %s: %v", data, err)
	}
	return m
}
