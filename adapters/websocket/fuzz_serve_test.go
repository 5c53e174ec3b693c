package websocket_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"ddn/adapters/memory"
	ws "ddn/adapters/websocket"
	"ddn/app/ingest"
	"ddn/app/session"
)

// FuzzServe sends arbitrary frames to a real node over one real WebSocket:
// every frame is answered with an envelope carrying a code from 0 to 9 (or
// "pong" to "ping", or close 1009 when over the limit), and the node keeps
// serving the connection.
func FuzzServe(f *testing.F) {
	for _, s := range []string{
		onlineExample, envelope(2, 2, gpuBody), envelope(3, 4, bwBody), "ping", "", "{", "null", `{"id":-1}`,
		`{"id":1,"type":1,"body":` + onlineBody("fz") + `}`, `{"id":1,"type":2,"pub_key":1,"sign":"%%","body":"` + base64.StdEncoding.EncodeToString([]byte(gpuBody)) + `"}`,
	} {
		f.Add([]byte(s))
	}
	store := memory.NewStore()
	batcher := ingest.NewBatcher(store, 64, time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { batcher.Run(ctx); close(done) }()
	svc, err := session.NewService(session.Config{NodeID: "fuzz-node"}, store, batcher, memory.NewClock(time.Now()), new(memory.Events).Observe)
	if err != nil {
		f.Fatal(err)
	}
	const limit = 8192
	h := ws.NewHandler(svc, ws.Options{HeartbeatTimeout: time.Hour, MaxMessageBytes: limit})
	srv := httptest.NewServer(h)
	f.Cleanup(func() { _ = h.Drain(context.Background()); srv.Close(); cancel(); <-done })
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	var c *websocket.Conn
	f.Cleanup(func() { // before the drain above: it would wait for this client's close
		if c != nil {
			_ = c.CloseNow()
		}
	})
	dial := func(t *testing.T) {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		if c, _, err = websocket.Dial(dctx, url, nil); err != nil {
			t.Fatal(err)
		}
		c.SetReadLimit(1 << 20)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if c == nil {
			dial(t)
		}
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Write(rctx, websocket.MessageText, frame); err != nil {
			t.Fatalf("write: %v", err)
		}
		_, data, err := c.Read(rctx)
		if len(frame) > limit {
			if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
				t.Fatalf("frame of %d bytes: %v, want close 1009", len(frame), err)
			}
			c = nil // the next input dials again
			return
		}
		if err != nil {
			t.Fatalf("frame %q not answered: %v", frame, err)
		}
		if string(frame) == "ping" {
			if string(data) != "pong" {
				t.Fatalf("ping answered %q", data)
			}
			return
		}
		var a struct {
			Code *uint32 `json:"code"`
		}
		if err := json.Unmarshal(data, &a); err != nil || a.Code == nil || *a.Code > 9 {
			t.Fatalf("frame %q answered %s (%v): want an envelope with a code 0-9", frame, data, err)
		}
	})
}
