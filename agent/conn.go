// Package agent is the machine side of the wire protocol (PROTOCOL.md): a
// connection that goes online, reports and pings, and a client that keeps
// one alive across node restarts. The reference agent and the load
// generator are built on it.
package agent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"ddn/internal/wire"
)

// Machine identifies the machine an agent speaks for (the type-1 body).
type Machine = wire.Online

// ShortTermInfo is a type-2 body (GPU machines); GPU memory in MiB as
// nvidia-smi prints it.
type ShortTermInfo = wire.ShortTerm

// BandwidthInfo is a type-4 body (bandwidth-mining machines).
type BandwidthInfo = wire.Bandwidth

// CodeError is a request the node answered with a non-zero code.
type CodeError struct {
	Code    uint32
	Message string
}

func (e *CodeError) Error() string { return fmt.Sprintf("code %d: %s", e.Code, e.Message) }

// Conn is one connection to a node. A reader goroutine, owned by the
// connection and stopped by Close or a broken connection, reads every frame:
// answers go to the waiting request, notifies to OnNotify, type-5 requests
// to InfoRequested, pongs to Ping.
type Conn struct {
	ws      *websocket.Conn
	seq     atomic.Uint64
	answers chan wire.Envelope
	done    chan struct{}
	err     error
	// onNotify receives the body of each type-3 notify.
	onNotify func(body []byte)
	// infoRequested holds a type-5 request not yet answered (several
	// coalesce into one).
	infoRequested chan struct{}
}

// Dial connects to a node's WebSocket endpoint (ws://host:port/websocket);
// onNotify (may be nil) receives type-3 notify bodies.
func Dial(ctx context.Context, url string, onNotify func(body []byte)) (*Conn, error) {
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	ws.SetReadLimit(1 << 20)
	c := &Conn{ws: ws, answers: make(chan wire.Envelope, 1), done: make(chan struct{}), onNotify: onNotify,
		infoRequested: make(chan struct{}, 1)}
	go c.read()
	return c, nil
}

func (c *Conn) read() {
	defer close(c.done)
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		var resp wire.Envelope
		if err := json.Unmarshal(data, &resp); err != nil {
			continue // not an envelope ("pong" to a text ping, say)
		}
		if resp.Type == wire.TypeNotify && resp.ID == 0 {
			if c.onNotify != nil {
				b, _ := base64.StdEncoding.DecodeString(resp.Body)
				c.onNotify(b)
			}
			continue
		}
		if resp.Type == wire.TypeRequestInfo && resp.ID == 0 {
			select { // the node asks for the machine info again (type 5)
			case c.infoRequested <- struct{}{}:
			default:
			}
			continue
		}
		c.answers <- resp
	}
}

// InfoRequested receives when the node asked for the machine info again
// (a type-5 request: the node has no scored info of this machine).
func (c *Conn) InfoRequested() <-chan struct{} { return c.infoRequested }

// Done is closed when the connection ends; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (after Done is closed).
func (c *Conn) Err() error { return c.err }

// Close ends the connection and waits for its reader.
func (c *Conn) Close() error {
	err := c.ws.Close(websocket.StatusNormalClosure, "agent closing")
	<-c.done
	return err
}

// abort drops the connection without a close handshake (the node is not
// answering: a handshake would only wait for it) and waits for the reader.
func (c *Conn) abort() {
	_ = c.ws.CloseNow()
	<-c.done
}

// Online binds the connection to m.
func (c *Conn) Online(ctx context.Context, m Machine) error { return c.call(ctx, wire.TypeOnline, m) }

// ReportShortTerm sends a type-2 report; nil means the node stored it.
func (c *Conn) ReportShortTerm(ctx context.Context, info ShortTermInfo) error {
	return c.call(ctx, wire.TypeShortTerm, info)
}

// ReportBandwidth sends a type-4 report; nil means the node stored it.
func (c *Conn) ReportBandwidth(ctx context.Context, info BandwidthInfo) error {
	return c.call(ctx, wire.TypeBandwidth, info)
}

// Ping sends a WebSocket ping (the heartbeat) and waits for the pong.
func (c *Conn) Ping(ctx context.Context) error { return c.ws.Ping(ctx) }

// call sends one request and waits for its answer; one call at a time.
func (c *Conn) call(ctx context.Context, typ uint32, body any) error {
	id := c.seq.Add(1)
	req, err := wire.EncodeRequest(id, typ, time.Now().UnixMilli(), body)
	if err != nil {
		return fmt.Errorf("encode body: %w", err)
	}
	if err := c.ws.Write(ctx, websocket.MessageText, req); err != nil {
		return fmt.Errorf("send type %d: %w", typ, err)
	}
	select {
	case resp := <-c.answers:
		if resp.ID != id {
			return fmt.Errorf("answer for id %d while waiting for %d", resp.ID, id)
		}
		if resp.Code != 0 {
			return &CodeError{Code: resp.Code, Message: resp.Message}
		}
		return nil
	case <-c.done:
		return fmt.Errorf("connection ended waiting for type %d: %w", typ, c.err)
	case <-ctx.Done():
		return fmt.Errorf("waiting for type %d: %w", typ, ctx.Err())
	}
}

// IsCode tells whether err is a node answer with that code.
func IsCode(err error, code uint32) bool {
	var ce *CodeError
	return errors.As(err, &ce) && ce.Code == code
}
