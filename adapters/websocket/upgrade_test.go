package websocket_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	ws "ddn/adapters/websocket"
)

// rawServer serves the handler for clients that write frames by hand.
func rawServer(t *testing.T) string {
	t.Helper()
	svc, _ := newSessions(t)
	h := ws.NewHandler(svc, ws.Options{Clock: fixedClock{}})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		_ = h.Drain(context.Background())
		srv.Close()
	})
	return strings.TrimPrefix(srv.URL, "http://")
}

const handshake = "GET /websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// Opcodes of RFC 6455 section 5.2, for frames these tests write by hand.
const (
	opContinuation byte = 0x0
	opText         byte = 0x1
	opClose        byte = 0x8
	opPing         byte = 0x9
	opPong         byte = 0xa
)

func maskedText(t *testing.T, payload string) []byte {
	t.Helper()
	return maskedFrame(t, opText, true, payload)
}

// frame is one frame read from the node.
type frame struct {
	op      byte
	payload []byte
}

// closeBody is a close frame's payload: the status, then the reason.
func closeBody(code uint16, reason string) string {
	return string([]byte{byte(code >> 8), byte(code)}) + reason
}

// closeCode reads a close frame's payload; 1005 when it has none.
func closeCode(p []byte) (int, string) {
	if len(p) < 2 {
		return 1005, ""
	}
	return int(p[0])<<8 | int(p[1]), string(p[2:])
}

// readAnswer reads the next text frame and decodes its code and message.
func readAnswer(t *testing.T, nc net.Conn, br *bufio.Reader) (uint32, string) {
	t.Helper()
	f := readFrame(t, nc, br)
	var a struct {
		Code    uint32 `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(f.payload, &a); err != nil {
		t.Fatalf("answer %q: %v", f.payload, err)
	}
	return a.Code, a.Message
}

// TestFramesSentWithTheHandshakeAreRead: an agent that writes its online
// message in the same packet as its handshake is answered (the bytes net/http
// had already buffered move to the connection's own, smaller buffer).
func TestFramesSentWithTheHandshakeAreRead(t *testing.T) {
	addr := rawServer(t)
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

// maskedFrame is a client frame (RFC 6455 section 5.2): masked, with the
// key 0x01020304.
func maskedFrame(t *testing.T, op byte, fin bool, payload string) []byte {
	t.Helper()
	return rawFrame(op, fin, true, []byte(payload))
}

func rawFrame(op byte, fin, masked bool, p []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var maskBit byte
	if masked {
		maskBit = 0x80
	}
	out := []byte{b0}
	switch n := len(p); {
	case n < 126:
		out = append(out, maskBit|byte(n))
	case n < 1<<16:
		out = append(out, maskBit|126, byte(n>>8), byte(n))
	default:
		out = append(out, maskBit|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !masked {
		return append(out, p...)
	}
	key := [4]byte{1, 2, 3, 4}
	out = append(out, key[:]...)
	for i, c := range p {
		out = append(out, c^key[i%4])
	}
	return out
}

// readFrame reads the server's next frame (unmasked, unfragmented).
func readFrame(t *testing.T, nc net.Conn, br *bufio.Reader) frame {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	if h[1]&0x80 != 0 {
		t.Fatal("the server masked a frame")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		_, _ = io.ReadFull(br, l[:])
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		_, _ = io.ReadFull(br, l[:])
		n = binary.BigEndian.Uint64(l[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		t.Fatalf("read frame payload: %v", err)
	}
	return frame{op: h[0] & 0x0f, payload: p}
}

// TestControlFrames: pings are answered with their payload, also between
// the fragments of a message; a close is answered with its status and the
// node hangs up.
func TestControlFrames(t *testing.T) {
	addr := rawServer(t)
	nc, br := rawDial(t, addr)
	online := onlineExample
	stream := append(maskedFrame(t, opText, false, online[:20]), maskedFrame(t, opPing, true, "beat-1")...)
	stream = append(stream, maskedFrame(t, opContinuation, true, online[20:])...)
	// Written a few bytes at a time: frames split across the node's reads.
	for i := 0; i < len(stream); i += 5 {
		if _, err := nc.Write(stream[i:min(i+5, len(stream))]); err != nil {
			t.Fatal(err)
		}
	}
	if f := readFrame(t, nc, br); f.op != opPong || string(f.payload) != "beat-1" {
		t.Fatalf("ping answered with %v %q", f.op, f.payload)
	}
	if code, msg := readAnswer(t, nc, br); code != 0 || msg != "machine online success" {
		t.Fatalf("fragmented online answered %d %q", code, msg)
	}
	if _, err := nc.Write(maskedFrame(t, opClose, true, closeBody(1000, "bye"))); err != nil {
		t.Fatal(err)
	}
	f := readFrame(t, nc, br)
	if code, _ := closeCode(f.payload); f.op != opClose || code != 1000 {
		t.Fatalf("close answered with %v %d", f.op, code)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the node kept the connection open after the close handshake")
	}
}

// TestProtocolErrorsClose1002: frames RFC 6455 forbids close the
// connection with 1002 and a reason.
func TestProtocolErrorsClose1002(t *testing.T) {
	addr := rawServer(t)
	for _, tc := range []struct {
		name      string
		frame     []byte
		mayHangUp bool
	}{
		// RFC 6455 5.1: the server MUST close; a close frame (1002) MAY precede.
		{"unmasked", rawFrame(opText, true, false, []byte(onlineExample)), true},
		{"continuation first", maskedFrame(t, opContinuation, true, "x"), false},
		{"text during a fragmented message", append(maskedFrame(t, opText, false, "{"), maskedFrame(t, opText, true, "}")...), false},
		{"ping over 125 bytes", maskedFrame(t, opPing, true, strings.Repeat("p", 126)), false},
		{"fragmented ping", maskedFrame(t, opPing, false, "p"), false},
		{"reserved opcode", maskedFrame(t, 0x3, true, "x"), false},
		{"reserved bits", func() []byte { f := maskedText(t, onlineExample); f[0] |= 0x40; return f }(), false},
		{"close with a 1-byte payload", maskedFrame(t, opClose, true, "x"), false},
		{"close with a reserved status 1005", maskedFrame(t, opClose, true, closeBody(1005, "")), false},
		{"close with an invalid status 999", maskedFrame(t, opClose, true, closeBody(999, "")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, br := rawDial(t, addr)
			if _, err := nc.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := br.Peek(1); err != nil && tc.mayHangUp {
				return // closed without a close frame, which RFC 6455 5.1 allows here
			}
			f := readFrame(t, nc, br)
			code, reason := closeCode(f.payload)
			if f.op != opClose || code != 1002 {
				t.Fatalf("answered %v %d %q, want close 1002", f.op, code, reason)
			}
			if _, err := br.ReadByte(); err == nil {
				t.Fatal("the node kept the connection open after a protocol error")
			}
		})
	}
}

// TestServedOverTLS: a TLS connection is served as a plain one.
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
	addr := rawServer(t)
	before := runtime.NumGoroutine()
	nc, _ := rawDial(t, addr)
	ping := maskedFrame(t, opPing, true, strings.Repeat("p", 125))
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
	addr := rawServer(t)
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

// TestCloseHandshake: RFC 6455 5.5.1 and 7.4 from both ends. An agent's
// close without a status is answered with an empty close, never with the
// reserved 1005; one with a status is echoed; and a close the node starts
// (a drain) carries 1001 and its reason, waits for the agent's close, then
// the node hangs up and the machine is released.
func TestCloseHandshake(t *testing.T) {
	t.Run("empty close answered empty", func(t *testing.T) {
		nc, br := rawDial(t, rawServer(t))
		if _, err := nc.Write(maskedFrame(t, opClose, true, "")); err != nil {
			t.Fatal(err)
		}
		if f := readFrame(t, nc, br); f.op != opClose || len(f.payload) != 0 {
			t.Fatalf("empty close answered with opcode %d payload %q, want an empty close", f.op, f.payload)
		}
		if _, err := br.ReadByte(); err == nil {
			t.Fatal("the node kept the connection open after the close handshake")
		}
	})
	t.Run("status echoed", func(t *testing.T) {
		nc, br := rawDial(t, rawServer(t))
		if _, err := nc.Write(maskedFrame(t, opClose, true, closeBody(4001, "agent restarting"))); err != nil {
			t.Fatal(err)
		}
		if code, _ := closeCode(readFrame(t, nc, br).payload); code != 4001 {
			t.Fatalf("close 4001 answered with %d", code)
		}
	})
	t.Run("node-initiated", func(t *testing.T) {
		svc, store := newSessions(t)
		h := ws.NewHandler(svc, ws.Options{Clock: fixedClock{}})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		nc, br := rawDial(t, strings.TrimPrefix(srv.URL, "http://"))
		if _, err := nc.Write(maskedText(t, onlineExample)); err != nil {
			t.Fatal(err)
		}
		if code, _ := readAnswer(t, nc, br); code != 0 {
			t.Fatalf("online answered %d", code)
		}
		drained := make(chan error, 1)
		go func() { drained <- h.Drain(context.Background()) }()
		f := readFrame(t, nc, br)
		if code, reason := closeCode(f.payload); f.op != opClose || code != 1001 || reason != "node shutting down" {
			t.Fatalf("drain sent opcode %d %d %q, want close 1001 \"node shutting down\"", f.op, code, reason)
		}
		select {
		case err := <-drained:
			t.Fatalf("drain ended (%v) before the agent answered the close", err)
		case <-time.After(50 * time.Millisecond):
		}
		if _, err := nc.Write(maskedFrame(t, opClose, true, closeBody(1001, ""))); err != nil {
			t.Fatal(err)
		}
		if _, err := br.ReadByte(); err == nil {
			t.Fatal("the node kept the connection open after the agent answered its close")
		}
		if err := <-drained; err != nil {
			t.Fatal(err)
		}
		if _, err := store.GetConnection(context.Background(), exampleKey); err == nil {
			t.Fatal("the machine is still claimed after the drain")
		}
	})
}
