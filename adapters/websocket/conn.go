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
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"go.uber.org/zap"

	"ddn/domain"
	"ddn/domain/session"
)

// Connection states: open; closing once a close frame was sent (the agent's
// answer is awaited); done once the socket is closed.
const (
	stateOpen int32 = iota
	stateClosing
	stateDone
)

// closeWait bounds the wait for the agent's answer to a close frame.
const closeWait = 5 * time.Second

var (
	errClosing      = errors.New("connection closing")
	errCloseTimeout = errors.New("no answer to the close frame")
)

// conn is one agent connection. On Linux an idle one has no goroutine: the
// handler's poller reads it when it has bytes, answers pings, and starts a
// worker (work) for whole messages; the connection is read again only once
// the worker is done, so messages are served in order. A connection the
// poller cannot watch (TLS, other systems) is read by a goroutine of its own
// (readLoop). Writes may come from the worker, the poller and Notify.
type conn struct {
	h        *Handler
	nc       net.Conn
	session  *session.Session
	log      connLog
	boundKey domain.MachineKey // guarded by h.mu
	adm      *admission
	opened   time.Time

	// rc and pollID are set when the poller watches the connection.
	rc     syscall.RawConn
	pollID uint64

	// mu is held by whoever handles the connection's input: the poller
	// while it parses a read, the worker while it serves messages.
	mu        sync.Mutex
	armedOnce bool
	frames    frameState
	queue     []message
	limit     *limiter

	// wmu orders writes; no frame follows a close frame.
	wmu       sync.Mutex
	closeSent bool
	// pongPending is set while a control frame waits for a goroutine to
	// write it.
	pongPending atomic.Bool

	state atomic.Int32
	// policyClosed is set once the connection is being closed for abuse.
	policyClosed atomic.Bool

	hbMu      sync.Mutex
	heartbeat *time.Timer
	deadline  *time.Timer // first online message
	closing   *time.Timer // answer to the close frame
}

// start begins serving the connection: bytes sent with the handshake
// first, then whatever the agent sends.
func (c *conn) start(early []byte) {
	c.hbMu.Lock()
	if c.state.Load() == stateDone { // drained before it started
		c.hbMu.Unlock()
		return
	}
	c.heartbeat = time.AfterFunc(c.h.opts.HeartbeatTimeout, func() {
		c.log.logBase(zap.InfoLevel, "heartbeat timeout: closing connection")
		c.closeWith(ws.StatusPolicyViolation, "heartbeat timeout")
	})
	if d := c.h.opts.Limits.OnlineDeadline; d > 0 {
		c.deadline = time.AfterFunc(d, c.onlineOverdue)
	}
	c.hbMu.Unlock()
	if c.h.watch(c) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(early) > 0 {
			c.input(early)
		}
		c.next()
		return
	}
	go c.readLoop(early)
}

// next hands the queued messages to a worker, or has the poller watch the
// connection for its next bytes; the caller holds c.mu.
func (c *conn) next() {
	if c.state.Load() == stateDone {
		return
	}
	if len(c.queue) > 0 {
		go c.work()
		return
	}
	if err := c.h.poll.arm(c); err != nil {
		c.end(fmt.Errorf("watch connection: %w", err))
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

// readable is the poller's: it reads what the socket holds, answers
// pings, and hands whole messages to a worker; otherwise it re-arms.
func (c *conn) readable(buf []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.recoverPanic()
	if c.state.Load() == stateDone {
		return
	}
	n, err := c.h.poll.readNow(c, buf)
	if n > 0 {
		c.input(buf[:n])
	}
	if err != nil {
		c.end(err)
		return
	}
	c.next()
}

// work serves the queued messages, then has the poller read the
// connection again.
func (c *conn) work() {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.recoverPanic()
	c.serveQueue()
	c.next() // the queue is empty: watch again
}

// readLoop reads a connection the poller cannot watch.
func (c *conn) readLoop(early []byte) {
	buf := make([]byte, 4096)
	p, err := early, error(nil)
	for {
		c.consume(p)
		if err != nil {
			c.end(err)
			return
		}
		if c.state.Load() == stateDone {
			return
		}
		var n int
		n, err = c.nc.Read(buf)
		p = buf[:n]
	}
}

// consume handles what readLoop read and serves the messages it completes.
func (c *conn) consume(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.recoverPanic()
	if len(p) > 0 && c.state.Load() != stateDone {
		c.input(p)
	}
	c.serveQueue()
}

// recoverPanic closes the connection when its handling panics: a bug in
// one connection's handling ends that connection, not the node.
func (c *conn) recoverPanic() {
	if p := recover(); p != nil {
		c.log.logBase(zap.ErrorLevel, "connection handler panicked; connection closed",
			zap.String("panic", fmt.Sprint(p)), zap.ByteString("stack", debug.Stack()))
		c.end(errors.New("handler panicked"))
	}
}

// input parses frames from p; the caller holds c.mu. A protocol error or
// a frame over the limit closes the connection.
func (c *conn) input(p []byte) {
	err := c.frames.feed(p, c.h.opts.MaxMessageBytes, c)
	if err == nil || c.state.Load() != stateOpen {
		return
	}
	if errors.Is(err, errFrameTooBig) {
		c.log.log(zap.InfoLevel, "connection closed: frame larger than the limit", zap.Int64("max_bytes", c.h.opts.MaxMessageBytes))
		c.closeWith(ws.StatusMessageTooBig, "message too big")
		return
	}
	c.log.log(zap.InfoLevel, "connection closed: protocol error", zap.Error(err))
	c.closeWith(ws.StatusProtocolError, err.Error())
}

// control handles a control frame (frameSink).
func (c *conn) control(h ws.Header, payload []byte) {
	switch h.OpCode {
	case ws.OpPing:
		if c.state.Load() == stateOpen && c.pinged() {
			var b [2 + ws.MaxControlFramePayloadSize]byte
			c.sendControl(appendFrame(b[:0], ws.OpPong, payload), false)
		}
	case ws.OpClose:
		if !c.state.CompareAndSwap(stateOpen, stateClosing) {
			c.end(nil) // the answer to ours
			return
		}
		code, _ := ws.ParseCloseFrameData(payload)
		c.log.log(zap.DebugLevel, "connection closed", zap.Int("status", int(code)))
		var b [2 + ws.MaxControlFramePayloadSize]byte
		frame := appendFrame(b[:0], ws.OpClose, nil)
		if !code.Empty() {
			frame = appendCloseFrame(b[:0], code, "")
		}
		c.sendControl(frame, true)
	}
}

// data queues a whole message for the worker (frameSink).
func (c *conn) data(op ws.OpCode, payload []byte) {
	if c.state.Load() == stateOpen {
		c.queue = append(c.queue, message{op: op, data: bytes.Clone(payload)})
	}
}

// pinged is a ping frame: a heartbeat, answered with a pong while the
// connection keeps within its message budget (a ping flood spends it too).
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

// serveQueue serves the queued messages in order; the caller holds c.mu.
func (c *conn) serveQueue() {
	for len(c.queue) > 0 && c.state.Load() == stateOpen {
		m := c.queue[0]
		c.queue[0] = message{}
		c.queue = c.queue[1:]
		c.serveMessage(c.h.base, m)
	}
	c.queue = nil
}

// serveMessage answers one data message.
func (c *conn) serveMessage(ctx context.Context, m message) {
	start := time.Now()
	if ok, cut := c.limit.allow(c.h.opts.Clock.Now(), c.h.opts.Limits.RateStrikes); !ok {
		req, _ := decodeRequest(m.data)
		c.answer(ctx, request{Version: req.Version, ID: req.ID, Type: req.Type}, start, errRateLimited)
		if cut {
			c.closePolicy(ClosedRateLimit, "rate limited: too many messages", c.log.machineFields()...)
		}
		return
	}
	if m.op == ws.OpBinary {
		c.answer(ctx, request{}, start, parseError("binary frames are not accepted; send JSON text frames"))
		return
	}
	if bytes.Equal(m.data, []byte("ping")) {
		c.beat()
		if err := c.writeRaw(ctx, []byte("pong")); err != nil {
			c.log.log(zap.InfoLevel, "write pong", zap.Error(err))
		}
		return
	}
	req, err := decodeRequest(m.data)
	var body []byte
	if err == nil {
		body, err = req.body()
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

// logEnd says why the connection ended; the caller holds c.mu.
func (c *conn) logEnd(err error) {
	switch {
	case err == nil:
		c.log.log(zap.DebugLevel, "connection closed")
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		c.log.log(zap.DebugLevel, "connection ended by the agent")
	default:
		c.log.log(zap.DebugLevel, "connection ended", zap.Error(err))
	}
}

// closeWith starts the closing handshake: a close frame with status and
// reason, then the connection ends when the agent answers it, hangs up, or
// after closeWait. Any goroutine may call it; it does not wait.
func (c *conn) closeWith(status ws.StatusCode, reason string) {
	if !c.state.CompareAndSwap(stateOpen, stateClosing) {
		return
	}
	c.hbMu.Lock()
	if c.state.Load() != stateDone {
		c.closing = time.AfterFunc(closeWait, func() { c.end(errCloseTimeout) })
	}
	c.hbMu.Unlock()
	frame := appendCloseFrame(nil, status, reason)
	go func() {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		if c.closeSent {
			return
		}
		c.closeSent = true
		if err := c.writeLocked(c.h.base, frame); err != nil {
			c.end(err)
		}
	}()
}

// closeNow cuts the connection without a closing handshake.
func (c *conn) closeNow() { c.end(errors.New("cut")) }

// end closes the socket and releases the connection's machine, once. Any
// goroutine may call it.
func (c *conn) end(err error) {
	if c.state.Swap(stateDone) == stateDone {
		return
	}
	_ = c.nc.Close()
	go c.h.finish(c, err)
}

// sendControl writes a control frame (a pong, the answer to a close)
// without waiting: the poller must not block on one agent. What the socket
// does not take at once is written by a goroutine, bounded by WriteTimeout;
// while one is, further pongs are dropped (RFC 6455 5.5.3 allows answering
// only the latest ping), so a ping flood from an agent that does not read
// cannot pile up goroutines. thenEnd ends the connection once the frame is
// written.
func (c *conn) sendControl(frame []byte, thenEnd bool) {
	isClose := ws.OpCode(frame[0]&0x0f) == ws.OpClose
	if !isClose && c.pongPending.Load() {
		return
	}
	if !c.wmu.TryLock() {
		c.sendLater(bytes.Clone(frame), isClose, thenEnd, false)
		return
	}
	if c.closeSent {
		c.wmu.Unlock()
		return
	}
	c.closeSent = isClose
	n := 0
	if c.rc != nil {
		n = c.h.poll.writeNow(c, frame)
	}
	if n < len(frame) {
		c.sendLater(bytes.Clone(frame[n:]), isClose, thenEnd, true)
		return
	}
	c.wmu.Unlock()
	if thenEnd {
		c.end(nil)
	}
}

// sendLater writes what sendControl could not, on a goroutine of its own;
// locked: the caller holds c.wmu and hands it over.
func (c *conn) sendLater(b []byte, isClose, thenEnd, locked bool) {
	c.pongPending.Store(true)
	go func() {
		if !locked {
			c.wmu.Lock()
		}
		defer c.wmu.Unlock()
		defer c.pongPending.Store(false)
		if c.closeSent && !locked {
			return
		}
		c.closeSent = c.closeSent || isClose
		if err := c.writeLocked(c.h.base, b); err != nil || thenEnd {
			c.end(err)
		}
	}()
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func (c *conn) write(ctx context.Context, r response) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	*bp = appendResponse((*bp)[:0], r)
	return c.writeRaw(ctx, *bp)
}

// writeRaw sends one text frame within WriteTimeout; a client that does not
// read in time is cut off so it cannot hold the node's resources.
func (c *conn) writeRaw(ctx context.Context, p []byte) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	*bp = appendFrame((*bp)[:0], ws.OpText, p)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return errClosing
	}
	if err := c.writeLocked(ctx, *bp); err != nil {
		c.end(err)
		return err
	}
	return nil
}

// writeLocked writes b within WriteTimeout (or ctx's deadline if sooner);
// the caller holds c.wmu.
func (c *conn) writeLocked(ctx context.Context, b []byte) error {
	deadline := time.Now().Add(c.h.opts.WriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.nc.SetWriteDeadline(deadline); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	// A deadline left in the past would fail the poller's writes (pongs)
	// without trying them.
	return c.nc.SetWriteDeadline(time.Time{})
}

// handle runs one request and returns the success message.
func (c *conn) handle(ctx context.Context, req request, body []byte) (string, error) {
	switch req.Type {
	case typeOnline, typeShortTerm, typeBandwidth:
	default: // 0 is reserved, 3 and 5 go the other way
		return "", paramError("unknowned request message type")
	}
	signer, err := c.signer(req, body)
	if err != nil {
		return "", err
	}
	switch req.Type {
	case typeOnline:
		var b onlineBody
		if err := decodeBody(body, onlineBodyFailed, &b); err != nil {
			return "", err
		}
		or, err := b.domain()
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
		c.log.machine = or.Key.String()
		return "machine online success", nil
	case typeShortTerm:
		if _, bound := c.session.Machine(); !bound {
			return "", domain.ErrNotOnline
		}
		var b shortTermBody
		if err := decodeBody(body, shortTermBodyFailed, &b); err != nil {
			return "", err
		}
		if err := checkWallet(signer, b.Wallet); err != nil {
			return "", err
		}
		return "add machine tm success", c.session.ReportShortTerm(ctx, b.domain())
	default:
		if _, bound := c.session.Machine(); !bound {
			return "", domain.ErrNotOnline
		}
		var b bandwidthBody
		if err := decodeBody(body, bandwidthBodyFailed, &b); err != nil {
			return "", err
		}
		if err := checkWallet(signer, b.Wallet); err != nil {
			return "", err
		}
		return "add machine bandwidth tm success", c.session.ReportBandwidth(ctx, b.domain())
	}
}

// answer replies to a failed request with the code and message the protocol
// asks for; internal details go to the log, not to the agent.
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
	var fe *domain.FieldError
	if errors.As(err, &fe) {
		return domain.CodeParameter, fe.Error()
	}
	var te *domain.TextError
	if errors.As(err, &te) {
		return domain.CodeOf(te.Err), te.Text
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
	err := c.write(ctx, response{Version: req.Version, Timestamp: c.h.opts.Clock.Now().UnixMilli(), ID: req.ID, Type: req.Type, Code: code, Message: msg})
	c.h.opts.Observer.MessageHandled(req.Type, code, time.Since(start))
	if err != nil {
		c.log.log(zap.InfoLevel, "write response", zap.Error(err))
	}
}
