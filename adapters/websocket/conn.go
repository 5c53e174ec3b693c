package websocket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"ddn/app/session"
	"ddn/domain"
	"ddn/internal/wire"
)

// maxQueued bounds the messages read ahead of the one being served; past
// it the connection is not read until the worker catches up.
const maxQueued = 16

// linger is how long a worker waits for the next message before it exits:
// an agent that keeps sending keeps its worker (and the stack it grew), an
// idle one holds none.
const linger = time.Second

// message is one whole data message read from the agent.
type message struct {
	typ  websocket.MessageType
	data []byte
}

// conn is one agent connection. Its request's goroutine reads it (serve);
// whole messages go to a worker goroutine, started when there is something
// to serve and gone once the queue stayed empty for linger, so that pings
// are answered while a slow online is served and messages are answered in
// order. Writes
// may come from the worker, the library's ping answers and Notify.
type conn struct {
	h        *Handler
	ws       *websocket.Conn
	session  *session.Session
	log      connLog
	boundKey domain.MachineKey // guarded by h.mu
	adm      *admission
	opened   time.Time
	limit    *limiter // used by the reading goroutine only

	// qmu guards the queue; qcond wakes the reader when the queue has room
	// and serve when the worker is gone.
	qmu     sync.Mutex
	qcond   sync.Cond
	queue   []message
	working bool
	ended   bool
	// readDone: the reader is gone, a waiting worker exits at once.
	readDone bool
	// wake tells a worker waiting out its linger that a message is queued
	// or the reader is gone (capacity 1, sent without blocking).
	wake chan struct{}

	closing atomic.Bool
	// policyClosed is set once the connection is being closed for abuse.
	policyClosed atomic.Bool

	hbMu      sync.Mutex
	heartbeat *time.Timer
	deadline  *time.Timer // first online message
}

// serve reads the connection until it ends, then waits for the worker.
func (c *conn) serve() {
	c.hbMu.Lock()
	c.heartbeat = time.AfterFunc(c.h.opts.HeartbeatTimeout, func() {
		c.log.logBase(zap.InfoLevel, "heartbeat timeout: closing connection")
		c.closeWith(websocket.StatusPolicyViolation, "heartbeat timeout")
	})
	if d := c.h.opts.Limits.OnlineDeadline; d > 0 {
		c.deadline = time.AfterFunc(d, c.onlineOverdue)
	}
	c.hbMu.Unlock()
	err := c.readLoop()
	c.logEnd(err)
	c.hbMu.Lock()
	for _, t := range []*time.Timer{c.heartbeat, c.deadline} {
		if t != nil {
			t.Stop()
		}
	}
	c.hbMu.Unlock()
	c.qmu.Lock()
	if !errors.Is(err, io.EOF) {
		// A hang-up after whole messages still gets their answers; any
		// other end drops what was not served.
		c.queue = nil
	}
	c.readDone = true
	c.signal()
	for c.working {
		c.qcond.Wait()
	}
	c.ended = true
	c.qmu.Unlock()
	_ = c.ws.CloseNow()
}

// readLoop reads messages until the connection fails or closes.
func (c *conn) readLoop() error {
	for {
		typ, data, err := c.ws.Read(c.h.io)
		if err != nil {
			return err
		}
		if typ == websocket.MessageText && bytes.Equal(data, []byte("ping")) {
			c.beat()
		}
		if ok, cut := c.limit.allow(c.h.opts.Clock.Now(), c.h.opts.Limits.RateStrikes); !ok {
			req, _ := decodeRequest(data)
			c.answer(c.h.base, request{Version: req.Version, ID: req.ID, Type: req.Type}, time.Now(), errRateLimited)
			if cut {
				c.closePolicy(ClosedRateLimit, "rate limited: too many messages", c.log.machineFields()...)
			}
			continue
		}
		c.enqueue(message{typ: typ, data: data})
	}
}

// enqueue hands m to the worker, starting one when none runs; it waits
// while maxQueued messages are ahead.
func (c *conn) enqueue(m message) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	for len(c.queue) >= maxQueued && !c.ended {
		c.qcond.Wait()
	}
	c.queue = append(c.queue, m)
	if !c.working {
		c.working = true
		go c.work()
		return
	}
	c.signal()
}

// signal wakes a worker waiting out its linger.
func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// work serves queued messages in order until none is left.
func (c *conn) work() {
	defer func() {
		if p := recover(); p != nil {
			// A bug in one connection's handling ends that connection, not the node.
			c.log.logBase(zap.ErrorLevel, "connection handler panicked; connection closed",
				zap.String("panic", fmt.Sprint(p)), zap.ByteString("stack", debug.Stack()))
			_ = c.ws.CloseNow()
			c.qmu.Lock()
			c.working, c.queue = false, nil
			c.qcond.Broadcast()
			c.qmu.Unlock()
		}
	}()
	var idle *time.Timer
	for {
		c.qmu.Lock()
		if len(c.queue) == 0 && !c.readDone {
			c.qmu.Unlock()
			if idle == nil {
				idle = time.NewTimer(linger)
			} else {
				idle.Reset(linger)
			}
			select {
			case <-c.wake:
			case <-idle.C:
			}
			c.qmu.Lock()
		}
		if len(c.queue) == 0 {
			if idle == nil || c.readDone || !idle.Stop() {
				// The reader is gone, or the linger ran out with nothing queued.
				c.working, c.queue = false, nil
				c.qcond.Broadcast()
				c.qmu.Unlock()
				return
			}
			c.qmu.Unlock()
			continue // a stale wake: wait again
		}
		m := c.queue[0]
		c.queue[0] = message{}
		c.queue = c.queue[1:]
		c.qcond.Broadcast()
		c.qmu.Unlock()
		if !c.closing.Load() {
			c.serveMessage(c.h.base, m)
		}
	}
}

// suspendDeadline stops the online deadline while an online is served.
func (c *conn) suspendDeadline() {
	c.hbMu.Lock()
	defer c.hbMu.Unlock()
	if c.deadline != nil {
		c.deadline.Stop()
	}
}

// resumeDeadline restarts the online deadline after a failed online, with
// what was left of it, or a second to read the answer if nothing was.
func (c *conn) resumeDeadline() {
	c.hbMu.Lock()
	defer c.hbMu.Unlock()
	if c.deadline != nil {
		c.deadline.Reset(max(c.h.opts.Limits.OnlineDeadline-time.Since(c.opened), time.Second))
	}
}

func (c *conn) onlineOverdue() {
	c.closePolicy(ClosedNoOnline, "no online message within "+c.h.opts.Limits.OnlineDeadline.String())
}

// pinged is a ping frame: a heartbeat, answered with a pong while the
// connection keeps within its message budget (a ping flood spends it too).
// The library calls it from the reading goroutine.
func (c *conn) pinged() bool {
	c.beat()
	ok, cut := c.limit.allow(c.h.opts.Clock.Now(), c.h.opts.Limits.RateStrikes)
	if cut {
		c.closePolicy(ClosedRateLimit, "rate limited: too many messages")
	}
	return ok
}

// beat records a heartbeat: the connection lives for another timeout.
func (c *conn) beat() {
	c.hbMu.Lock()
	defer c.hbMu.Unlock()
	if c.heartbeat != nil {
		c.heartbeat.Reset(c.h.opts.HeartbeatTimeout)
	}
}

// serveMessage answers one data message.
func (c *conn) serveMessage(ctx context.Context, m message) {
	start := time.Now()
	if m.typ == websocket.MessageBinary {
		c.answer(ctx, request{}, start, parseError("binary frames are not accepted; send JSON text frames"))
		return
	}
	if bytes.Equal(m.data, []byte("ping")) {
		if err := c.writeText(ctx, []byte("pong")); err != nil {
			c.log.log(zap.InfoLevel, "write pong", zap.Error(err))
		}
		return
	}
	req, err := decodeRequest(m.data)
	var body []byte
	if err == nil {
		body, err = requestBody(req)
	}
	if err != nil {
		// The envelope could not be read: answer id 0, type 0.
		c.answer(ctx, request{}, start, err)
		return
	}
	msg, err := c.handle(ctx, req, body)
	if err == nil {
		c.reply(ctx, req, start, domain.CodeOK, msg)
		return
	}
	c.answer(ctx, req, start, err)
}

// logEnd says why the connection ended.
func (c *conn) logEnd(err error) {
	status := websocket.CloseStatus(err)
	switch {
	case err == nil, status == websocket.StatusNormalClosure, status == websocket.StatusGoingAway, status == websocket.StatusNoStatusRcvd:
		c.log.log(zap.DebugLevel, "connection closed", zap.Int("status", int(status)))
	case status == websocket.StatusMessageTooBig:
		c.log.log(zap.InfoLevel, "connection closed: message larger than the limit", zap.Int64("max_bytes", c.h.opts.MaxMessageBytes))
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, context.Canceled), c.closing.Load():
		c.log.log(zap.DebugLevel, "connection ended", zap.Error(err))
	default:
		c.log.log(zap.InfoLevel, "connection ended", zap.Error(err))
	}
}

// closeWith starts the closing handshake (close frame with status and
// reason; the library waits up to 5 s for the agent's answer) and returns
// at once. Any goroutine may call it.
func (c *conn) closeWith(status websocket.StatusCode, reason string) {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	go func() { _ = c.ws.Close(status, reason) }()
}

// closeNow cuts the connection without a closing handshake.
func (c *conn) closeNow() {
	c.closing.Store(true)
	_ = c.ws.CloseNow()
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func (c *conn) write(ctx context.Context, r wire.Response) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	*bp = wire.AppendResponse((*bp)[:0], r)
	return c.writeText(ctx, *bp)
}

// writeText sends one text message within WriteTimeout; a client that does
// not read in time is cut off so it cannot hold the node's resources.
func (c *conn) writeText(ctx context.Context, p []byte) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.h.opts.WriteTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, p); err != nil {
		c.closeNow()
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

func (c *conn) handle(ctx context.Context, req request, body []byte) (string, error) {
	switch req.Type {
	case wire.TypeOnline, wire.TypeShortTerm, wire.TypeBandwidth:
	default: // 0 is reserved, 3 and 5 go the other way
		return "", paramError("unknowned request message type")
	}
	signer, err := c.signer(req, body)
	if err != nil {
		return "", err
	}
	switch req.Type {
	case wire.TypeOnline:
		var b wire.Online
		if err := decodeBody(body, onlineBodyFailed, &b); err != nil {
			return "", err
		}
		or, err := b.Request()
		if err != nil {
			return "", err
		}
		// The deadline is for agents that send no online: one that did
		// is not cut off while the node is slow to serve it (a restart
		// storm queues onlines for the store).
		c.suspendDeadline()
		if err := c.session.Online(ctx, or); err != nil {
			c.resumeDeadline()
			return "", err
		}
		c.h.bind(c, or.Key)
		c.h.identified(c.adm)
		c.log.setMachine(or.Key.String())
		return "machine online success", nil
	case wire.TypeShortTerm:
		if _, bound := c.session.Machine(); !bound {
			return "", domain.ErrNotOnline
		}
		var b wire.ShortTerm
		if err := decodeBody(body, shortTermBodyFailed, &b); err != nil {
			return "", err
		}
		if err := checkWallet(signer, b.Wallet); err != nil {
			return "", err
		}
		return "add machine tm success", c.session.ReportShortTerm(ctx, b.Info())
	default:
		if _, bound := c.session.Machine(); !bound {
			return "", domain.ErrNotOnline
		}
		var b wire.Bandwidth
		if err := decodeBody(body, bandwidthBodyFailed, &b); err != nil {
			return "", err
		}
		if err := checkWallet(signer, b.Wallet); err != nil {
			return "", err
		}
		return "add machine bandwidth tm success", c.session.ReportBandwidth(ctx, b.Info())
	}
}

func (c *conn) answer(ctx context.Context, req request, start time.Time, err error) {
	code, msg := describe(err)
	switch code {
	case domain.CodeDatabase, domain.CodeInternal, domain.CodeChain:
		c.log.log(zap.ErrorLevel, "request failed", zap.Uint32("type", req.Type), zap.Uint64("id", req.ID), zap.Error(err))
	default:
		c.log.log(zap.DebugLevel, "request refused", zap.Uint32("type", req.Type), zap.Uint64("id", req.ID), zap.Uint32("code", uint32(code)), zap.Error(err))
	}
	c.reply(ctx, req, start, code, msg)
}

// describe maps an error to its wire code and agent-facing message.
func describe(err error) (domain.Code, string) {
	var we *wireError
	if errors.As(err, &we) {
		return we.code, we.msg
	}
	var te *domain.TextError
	if errors.As(err, &te) {
		return domain.CodeOf(te.Err), te.Text
	}
	var fe *domain.FieldError
	if errors.As(err, &fe) {
		return domain.CodeParameter, fe.Error()
	}
	for _, s := range []error{domain.ErrAlreadyBound, domain.ErrMachineHeld, domain.ErrNotRegistered, domain.ErrNotOnline,
		domain.ErrInvalidInfo, domain.ErrStore, domain.ErrChain, domain.ErrGeo, domain.ErrSignature, domain.ErrInvalidParam, domain.ErrParse} {
		if errors.Is(err, s) {
			return domain.CodeOf(s), s.Error()
		}
	}
	return domain.CodeInternal, "internal error"
}

func (c *conn) reply(ctx context.Context, req request, start time.Time, code domain.Code, msg string) {
	err := c.write(ctx, wire.Response{Version: req.Version, Timestamp: c.h.opts.Clock.Now().UnixMilli(), ID: req.ID, Type: req.Type, Code: uint32(code), Message: msg})
	c.h.opts.Observer.MessageHandled(req.Type, code, time.Since(start))
	if err != nil {
		c.log.log(zap.InfoLevel, "write response", zap.Error(err))
	}
}
