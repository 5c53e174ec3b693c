package websocket

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"ddn/domain"
	"ddn/domain/session"
)

// conn is one agent connection. Its reader goroutine (serve) owns the session;
// writes may come from it and from Notify.
type conn struct {
	h        *Handler
	ws       *websocket.Conn
	session  *session.Session
	log      connLog
	boundKey domain.MachineKey
	adm      *admission
	limit    *limiter
	// policyClosed is set once the connection is being closed for abuse.
	policyClosed atomic.Bool

	hbMu      sync.Mutex
	heartbeat *time.Timer
	deadline  *time.Timer // first online message
}

// pinged is a ping frame: a heartbeat, answered with a pong while the
// connection keeps within its message budget (a ping flood spends it too).
func (c *conn) pinged(context.Context, []byte) bool {
	c.beat()
	ok, cut := c.limit.allow(c.h.opts.Clock.Now(), c.h.opts.Limits.RateStrikes)
	if cut {
		go c.closePolicy(ClosedRateLimit, "rate limited: too many messages")
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

// serve reads frames until the connection ends.
func (c *conn) serve(ctx context.Context) {
	c.hbMu.Lock()
	c.heartbeat = time.AfterFunc(c.h.opts.HeartbeatTimeout, func() {
		c.log.logBase(zap.InfoLevel, "heartbeat timeout: closing connection")
		_ = c.ws.Close(websocket.StatusPolicyViolation, "heartbeat timeout")
	})
	if d := c.h.opts.Limits.OnlineDeadline; d > 0 {
		c.deadline = time.AfterFunc(d, func() {
			c.closePolicy(ClosedNoOnline, "no online message within "+d.String())
		})
	}
	c.hbMu.Unlock()
	defer func() {
		c.hbMu.Lock()
		c.heartbeat.Stop()
		if c.deadline != nil {
			c.deadline.Stop()
		}
		c.hbMu.Unlock()
	}()
	for {
		typ, frame, err := c.ws.Read(ctx)
		if err != nil {
			c.logEnd(err)
			return
		}
		start := time.Now()
		if ok, cut := c.limit.allow(c.h.opts.Clock.Now(), c.h.opts.Limits.RateStrikes); !ok {
			req, _ := decodeRequest(frame)
			c.answer(ctx, request{Version: req.Version, ID: req.ID, Type: req.Type}, start, errRateLimited)
			if cut {
				c.closePolicy(ClosedRateLimit, "rate limited: too many messages", c.log.machineFields()...)
				return
			}
			continue
		}
		if typ == websocket.MessageBinary {
			c.answer(ctx, request{}, start, parseError("binary frames are not accepted; send JSON text frames"))
			continue
		}
		if bytes.Equal(frame, []byte("ping")) {
			c.beat()
			if err := c.writeRaw(ctx, []byte("pong")); err != nil {
				c.log.log(zap.InfoLevel, "write pong", zap.Error(err))
				return
			}
			continue
		}
		req, err := decodeRequest(frame)
		if err != nil {
			// The header could not be trusted: answer id 0, type 0.
			c.answer(ctx, request{Version: req.Version}, start, err)
			continue
		}
		msg, err := c.handle(ctx, req)
		if err == nil {
			c.reply(ctx, req, start, domain.CodeOK, msg)
			continue
		}
		c.answer(ctx, req, start, err)
	}
}

func (c *conn) logEnd(err error) {
	status := websocket.CloseStatus(err)
	switch {
	case status == websocket.StatusMessageTooBig:
		c.log.log(zap.InfoLevel, "connection closed: frame larger than the limit", zap.Int64("max_bytes", c.h.opts.MaxMessageBytes))
	case status != -1 || errors.Is(err, context.Canceled):
		c.log.log(zap.DebugLevel, "connection closed", zap.Int("status", int(status)))
	default:
		c.log.log(zap.DebugLevel, "connection ended", zap.Error(err))
	}
}

// handle runs one request and returns the success message.
func (c *conn) handle(ctx context.Context, req request) (string, error) {
	switch req.Type {
	case typeOnline, typeShortTerm, typeBandwidth:
	case typeReserved:
		return "", paramError("message type 0 is reserved")
	default:
		return "", paramError("unknown message type %d", req.Type)
	}
	body, err := req.body()
	if err != nil {
		return "", err
	}
	signer, err := c.signer(req, body)
	if err != nil {
		return "", err
	}
	switch req.Type {
	case typeOnline:
		var b onlineBody
		if err := decodeBody(body, "online", &b); err != nil {
			return "", err
		}
		or, err := b.domain()
		if err != nil {
			return "", err
		}
		if err := c.session.Online(ctx, or); err != nil {
			return "", err
		}
		c.h.bind(c, or.Key)
		c.h.identified(c.adm)
		c.hbMu.Lock()
		if c.deadline != nil {
			c.deadline.Stop()
		}
		c.hbMu.Unlock()
		c.log.machine = or.Key.String()
		return "machine online success", nil
	case typeShortTerm:
		if _, bound := c.session.Machine(); !bound {
			return "", domain.ErrNotOnline
		}
		var b shortTermBody
		if err := decodeBody(body, "machine info", &b); err != nil {
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
		if err := decodeBody(body, "bandwidth machine info", &b); err != nil {
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
	var de *domain.DetailError
	if errors.As(err, &de) {
		return domain.CodeOf(de.Err), de.Error()
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
	ctx, cancel := context.WithTimeout(ctx, c.h.opts.WriteTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, p); err != nil {
		_ = c.ws.CloseNow()
		return err
	}
	return nil
}
