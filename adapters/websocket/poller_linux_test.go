//go:build linux

package websocket_test

import (
	"testing"

	"github.com/coder/websocket"

	ws "ddn/adapters/websocket"
)

// TestPlainConnectionsArePolled: on Linux a plain TCP connection is read by
// the poller (no goroutine of its own), and leaves it when it ends.
func TestPlainConnectionsArePolled(t *testing.T) {
	s := newServer(t, ws.Options{})
	c := s.dial(t)
	c.expect(onlineExample, 0, "machine online success")
	if n := ws.Polled(s.handler); n != 1 {
		t.Fatalf("poller watches %d connections, want 1", n)
	}
	_ = c.c.Close(websocket.StatusNormalClosure, "")
	waitDisconnected(t, s, exampleKey) // the poller forgets it first
	if n := ws.Polled(s.handler); n != 0 {
		t.Fatalf("poller still watches %d connections after the close", n)
	}
}
