package websocket_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
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
	return maskedFrame(t, gobwas.OpText, true, payload)
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

// rawDial opens a connection and completes the handshake by hand.
func rawDial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	if _, err := nc.Write([]byte(handshake)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	return nc, br
}

func maskedFrame(t *testing.T, op gobwas.OpCode, fin bool, payload string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gobwas.WriteFrame(&b, gobwas.MaskFrame(gobwas.NewFrame(op, fin, []byte(payload)))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// readFrame reads the server's next frame.
func readFrame(t *testing.T, nc net.Conn, br *bufio.Reader) gobwas.Frame {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := gobwas.ReadFrame(br)
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return f
}

// TestControlFrames: pings are answered with their payload, also between
// the fragments of a message; a close is answered with its status and the
// node hangs up.
func TestControlFrames(t *testing.T) {
	addr, _ := rawServer(t)
	nc, br := rawDial(t, addr)
	online := onlineExample
	stream := append(maskedFrame(t, gobwas.OpText, false, online[:20]), maskedFrame(t, gobwas.OpPing, true, "beat-1")...)
	stream = append(stream, maskedFrame(t, gobwas.OpContinuation, true, online[20:])...)
	// Written a few bytes at a time: frames split across the node's reads.
	for i := 0; i < len(stream); i += 5 {
		if _, err := nc.Write(stream[i:min(i+5, len(stream))]); err != nil {
			t.Fatal(err)
		}
	}
	if f := readFrame(t, nc, br); f.Header.OpCode != gobwas.OpPong || string(f.Payload) != "beat-1" {
		t.Fatalf("ping answered with %v %q", f.Header.OpCode, f.Payload)
	}
	if code, msg := readAnswer(t, nc, br); code != 0 || msg != "machine online success" {
		t.Fatalf("fragmented online answered %d %q", code, msg)
	}
	if _, err := nc.Write(maskedFrame(t, gobwas.OpClose, true, string(gobwas.NewCloseFrameBody(gobwas.StatusNormalClosure, "bye")))); err != nil {
		t.Fatal(err)
	}
	f := readFrame(t, nc, br)
	if code, _ := gobwas.ParseCloseFrameData(f.Payload); f.Header.OpCode != gobwas.OpClose || code != gobwas.StatusNormalClosure {
		t.Fatalf("close answered with %v %d", f.Header.OpCode, code)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the node kept the connection open after the close handshake")
	}
}

// TestProtocolErrorsClose1002: frames RFC 6455 forbids close the
// connection with 1002 and a reason.
func TestProtocolErrorsClose1002(t *testing.T) {
	addr, _ := rawServer(t)
	var unmasked bytes.Buffer
	_ = gobwas.WriteFrame(&unmasked, gobwas.NewTextFrame([]byte(onlineExample)))
	for _, tc := range []struct {
		name, reason string
		frame        []byte
	}{
		{"unmasked", "masked", unmasked.Bytes()},
		{"continuation first", "continuation", maskedFrame(t, gobwas.OpContinuation, true, "x")},
		{"ping over 125 bytes", "control frame", maskedFrame(t, gobwas.OpPing, true, strings.Repeat("p", 126))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, br := rawDial(t, addr)
			if _, err := nc.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			f := readFrame(t, nc, br)
			code, reason := gobwas.ParseCloseFrameData(f.Payload)
			if f.Header.OpCode != gobwas.OpClose || code != gobwas.StatusProtocolError || !strings.Contains(reason, tc.reason) {
				t.Fatalf("answered %v %d %q, want close 1002 naming %q", f.Header.OpCode, code, reason, tc.reason)
			}
		})
	}
}

// TestServedOverTLS: a TLS connection has no descriptor the poller can
// read; it is served by a goroutine of its own, with the same protocol.
func TestServedOverTLS(t *testing.T) {
	svc, store := newSessions(t)
	h := ws.NewHandler(svc, ws.Options{Clock: fixedClock{}})
	srv := httptest.NewTLSServer(h)
	t.Cleanup(func() {
		_ = h.Drain(context.Background())
		srv.Close()
	})
	ctx, cancel := timeout()
	defer cancel()
	c, _, err := websocket.Dial(ctx, "wss"+strings.TrimPrefix(srv.URL, "https"), &websocket.DialOptions{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	cl := &client{t: t, c: c}
	cl.expect(onlineExample, 0, "machine online success")
	if n := ws.Polled(h); n > 0 {
		t.Fatalf("the poller watches %d connections; a TLS one has no descriptor to poll", n)
	}
	cl.expect(envelope(2, 2, gpuBody), 0, "add machine tm success")
	if got := cl.raw("ping"); got != "pong" {
		t.Fatalf("text ping answered %q", got)
	}
	c.CloseRead(ctx) // reads the pong for Ping
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping frame: %v", err)
	}
	_ = c.Close(websocket.StatusNormalClosure, "")
	for {
		conn, err := store.GetConnection(context.Background(), exampleKey)
		if err != nil || conn.NodeID == "" {
			break // released
		}
		if ctx.Err() != nil {
			t.Fatalf("machine still held after the TLS connection closed: %+v", conn)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPingFloodWithoutReadingIsBounded: with no message rate limit, an
// agent that sends pings as fast as it can and never reads the pongs does
// not make the node pile up a goroutine per pong it cannot write.
func TestPingFloodWithoutReadingIsBounded(t *testing.T) {
	addr, _ := rawServer(t)
	before := runtime.NumGoroutine()
	nc, _ := rawDial(t, addr)
	ping := maskedFrame(t, gobwas.OpPing, true, strings.Repeat("p", 125))
	flood := bytes.Repeat(ping, 1000)
	_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	for i := 0; i < 300; i++ { // 300,000 pings: 38 MB of pongs, more than socket buffers hold
		if _, err := nc.Write(flood); err != nil {
			break // the node stopped reading: its pongs are not read either
		}
	}
	if n := runtime.NumGoroutine(); n > before+20 {
		t.Fatalf("%d goroutines while flooded, %d before", n, before)
	}
}

// TestMessagesBeforeAHangUpAreServed: an agent that sends its online and a
// report and shuts its side at once (half-close) still gets both answers.
func TestMessagesBeforeAHangUpAreServed(t *testing.T) {
	addr, _ := rawServer(t)
	nc, br := rawDial(t, addr)
	frames := append(maskedText(t, onlineExample), maskedText(t, envelope(2, 2, gpuBody))...)
	if _, err := nc.Write(frames); err != nil {
		t.Fatal(err)
	}
	if err := nc.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if code, msg := readAnswer(t, nc, br); code != 0 || msg != "machine online success" {
		t.Fatalf("online answered %d %q", code, msg)
	}
	if code, msg := readAnswer(t, nc, br); code != 0 || msg != "add machine tm success" {
		t.Fatalf("report answered %d %q", code, msg)
	}
}
