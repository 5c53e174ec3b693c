package websocket_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"

	ws "ddn/adapters/websocket"
)

// rawServer serves the handler behind a wrapper that counts ServeHTTP
// calls still running.
func rawServer(t *testing.T) (addr string, running *atomic.Int64) {
	t.Helper()
	svc, _ := newSessions(t)
	h := ws.NewHandler(svc, ws.Options{Clock: fixedClock{}})
	running = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		running.Add(1)
		defer running.Add(-1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		_ = h.Drain(context.Background())
		srv.Close()
	})
	return strings.TrimPrefix(srv.URL, "http://"), running
}

const handshake = "GET /websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

func maskedText(t *testing.T, payload string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gobwas.WriteFrame(&b, gobwas.MaskFrame(gobwas.NewTextFrame([]byte(payload)))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// readAnswer reads the next text frame and decodes its code and message.
func readAnswer(t *testing.T, nc net.Conn, br *bufio.Reader) (uint32, string) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := gobwas.ReadFrame(br)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	var a struct {
		Code    uint32 `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(f.Payload, &a); err != nil {
		t.Fatalf("answer %q: %v", f.Payload, err)
	}
	return a.Code, a.Message
}

// TestFramesSentWithTheHandshakeAreRead: an agent that writes its online
// message in the same packet as its handshake is answered (the bytes net/http
// had already buffered move to the connection's own, smaller buffer).
func TestFramesSentWithTheHandshakeAreRead(t *testing.T) {
	addr, _ := rawServer(t)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write(append([]byte(handshake), maskedText(t, onlineExample)...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	if code, msg := readAnswer(t, nc, br); code != 0 || msg != "machine online success" {
		t.Fatalf("online sent with the handshake answered %d %q", code, msg)
	}
	// A frame larger than the connection's buffers is read and answered whole.
	big := envelope(7, 2, strings.Replace(gpuBody, `"wallet":"0xabc"`, `"wallet":"0xabc","cpu_type2":"`+strings.Repeat("x", 6000)+`"`, 1))
	if _, err := nc.Write(maskedText(t, big)); err != nil {
		t.Fatal(err)
	}
	if code, msg := readAnswer(t, nc, br); code != 0 {
		t.Fatalf("a 6 KB report answered %d %q", code, msg)
	}
}

// TestConnectionOutlivesServeHTTP: ServeHTTP returns once the connection is
// upgraded (net/http's buffers and request are freed) while the connection
// goes on being served.
func TestConnectionOutlivesServeHTTP(t *testing.T) {
	addr, running := rawServer(t)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write([]byte(handshake)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	if _, err := nc.Write(maskedText(t, onlineExample)); err != nil {
		t.Fatal(err)
	}
	if code, _ := readAnswer(t, nc, br); code != 0 {
		t.Fatalf("online answered %d", code)
	}
	// The answer came from the connection's goroutine; ServeHTTP has
	// returned or is about to (it returns right after starting it).
	deadline := time.Now().Add(10 * time.Second)
	for running.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("ServeHTTP still runs while its connection is served")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := nc.Write(maskedText(t, envelope(2, 2, gpuBody))); err != nil {
		t.Fatal(err)
	}
	if code, msg := readAnswer(t, nc, br); code != 0 || msg != "add machine tm success" {
		t.Fatalf("report after ServeHTTP returned answered %d %q", code, msg)
	}
}
