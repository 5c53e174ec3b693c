package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/gobwas/ws"
)

// Message types of the protocol (PROTOCOL.md).
const (
	typeOnline    = 1
	typeShortTerm = 2
	typeNotify    = 3
	typeBandwidth = 4
)

// maxAnswerBytes bounds a frame from the node; answers are a few hundred bytes.
const maxAnswerBytes = 1 << 16

// errServerClosed is a close frame from the node (drain, heartbeat timeout, ...).
var errServerClosed = errors.New("node closed the connection")

// answerError is a request the node answered with a non-zero code.
type answerError struct{ code uint32 }

func (e *answerError) Error() string { return fmt.Sprintf("answered code %d", e.code) }

// wsConn is one simulated agent's connection: a raw WebSocket (gobwas/ws)
// driven by the agent's single goroutine. Nothing runs in the background:
// pongs and notifies waiting in the socket are read when the next answer is
// awaited, so a held connection costs a socket, a small read buffer and the
// goroutine's stack.
type wsConn struct {
	nc  net.Conn
	br  *bufio.Reader
	hdr []byte
	seq uint64
}

// dialWS opens a WebSocket to url.
func dialWS(ctx context.Context, url string, timeout time.Duration) (*wsConn, error) {
	nc, br, _, err := ws.Dialer{Timeout: timeout}.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	if br != nil {
		// The node wrote frames right after the handshake: keep that reader.
		return &wsConn{nc: nc, br: br, hdr: make([]byte, 2, ws.MaxHeaderSize-2)}, nil
	}
	return &wsConn{nc: nc, br: bufio.NewReaderSize(nc, 512), hdr: make([]byte, 2, ws.MaxHeaderSize-2)}, nil
}

// writeFrame writes one masked client frame in a single write. The buffer
// is not kept: between requests a connection holds no write memory.
func (c *wsConn) writeFrame(op ws.OpCode, payload []byte, deadline time.Time) error {
	f := ws.MaskFrameInPlace(ws.NewFrame(op, true, payload))
	buf := &appendWriter{b: make([]byte, 0, ws.HeaderSize(f.Header)+len(f.Payload))}
	if err := ws.WriteHeader(buf, f.Header); err != nil {
		return err
	}
	buf.b = append(buf.b, f.Payload...)
	_ = c.nc.SetWriteDeadline(deadline)
	_, err := c.nc.Write(buf.b)
	return err
}

// appendWriter collects a frame header into a slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// ping sends the heartbeat (a WebSocket ping frame); its pong is read later.
func (c *wsConn) ping(deadline time.Time) error { return c.writeFrame(ws.OpPing, nil, deadline) }

// request sends one envelope with a pre-encoded base64 body and waits for
// the answer with the same id; it returns the node's code.
func (c *wsConn) request(typ uint32, body64 string, deadline time.Time) (uint32, error) {
	c.seq++
	id := c.seq
	msg := make([]byte, 0, 96+len(body64))
	msg = append(msg, `{"version":0,"timestamp":`...)
	msg = strconv.AppendInt(msg, time.Now().UnixMilli(), 10)
	msg = append(msg, `,"id":`...)
	msg = strconv.AppendUint(msg, id, 10)
	msg = append(msg, `,"type":`...)
	msg = strconv.AppendUint(msg, uint64(typ), 10)
	msg = append(msg, `,"pub_key":"","sign":"","body":"`...)
	msg = append(msg, body64...)
	msg = append(msg, `"}`...)
	if err := c.writeFrame(ws.OpText, msg, deadline); err != nil {
		return 0, fmt.Errorf("send type %d: %w", typ, err)
	}
	return c.awaitAnswer(id, deadline)
}

type answer struct {
	ID   uint64 `json:"id"`
	Type uint32 `json:"type"`
	Code uint32 `json:"code"`
}

// awaitAnswer reads frames until the answer to id: pongs are dropped, pings
// answered, notifies skipped, a close frame ends the connection.
func (c *wsConn) awaitAnswer(id uint64, deadline time.Time) (uint32, error) {
	_ = c.nc.SetReadDeadline(deadline)
	var msg []byte
	for {
		h, err := ws.ReadHeaderBuffer(c.br, c.hdr)
		if err != nil {
			return 0, err
		}
		if h.Length > maxAnswerBytes || int64(len(msg))+h.Length > maxAnswerBytes {
			return 0, fmt.Errorf("frame of %d bytes from the node", h.Length)
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(c.br, payload); err != nil {
			return 0, err
		}
		if h.Masked {
			ws.Cipher(payload, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPong:
			continue
		case ws.OpPing:
			if err := c.writeFrame(ws.OpPong, payload, deadline); err != nil {
				return 0, err
			}
			continue
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(payload)
			return 0, fmt.Errorf("%w (%d %s)", errServerClosed, code, reason)
		}
		msg = append(msg, payload...)
		if !h.Fin {
			continue
		}
		var a answer
		err = json.Unmarshal(msg, &a)
		msg = msg[:0]
		if err != nil {
			continue // not an envelope
		}
		if a.Type == typeNotify && a.ID == 0 {
			continue
		}
		if a.ID != id {
			return 0, fmt.Errorf("answer for id %d while waiting for %d", a.ID, id)
		}
		return a.Code, nil
	}
}

// close ends the connection with a close handshake bounded by deadline.
func (c *wsConn) close(deadline time.Time) {
	if c.writeFrame(ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "bench done"), deadline) == nil {
		_ = c.nc.SetReadDeadline(deadline)
		for {
			h, err := ws.ReadHeaderBuffer(c.br, c.hdr)
			if err != nil || h.Length > maxAnswerBytes {
				break
			}
			if _, err := c.br.Discard(int(h.Length)); err != nil || h.OpCode == ws.OpClose {
				break
			}
		}
	}
	_ = c.nc.Close()
}

// encodeBody is the base64 of a JSON body, as the protocol carries it.
func encodeBody(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		// Only the fixed structs of this file are encoded.
		return ""
	}
	return base64.StdEncoding.EncodeToString(raw)
}
