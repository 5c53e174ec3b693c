// Package websocket serves the machine agents' WebSocket protocol
// (PROTOCOL.md) on github.com/coder/websocket: envelopes, heartbeats,
// limits, and the mapping of the session use cases to result codes.
package websocket

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"ddn/app/session"
	"ddn/domain"
	"ddn/internal/wire"
	"ddn/ports"
)

// Observer is told about connections and messages (the Prometheus adapter
// implements it); it must not block.
type Observer interface {
	ConnectionOpened()
	ConnectionClosed()
	MessageHandled(msgType uint32, code domain.Code, took time.Duration)
}

// Options tune the handler; zero fields take the protocol defaults.
type Options struct {
	// HeartbeatTimeout closes a connection that sent no ping for this long (30s).
	HeartbeatTimeout time.Duration
	// MaxMessageBytes is the largest message read; larger closes with 1009 (64 KiB).
	MaxMessageBytes int64
	// WriteTimeout bounds one write; a client that does not read is dropped (10s).
	WriteTimeout time.Duration
	// CloseTimeout bounds the session cleanup after a connection ends (10s).
	CloseTimeout time.Duration
	// OriginPatterns lists allowed browser origins; empty accepts any origin
	// (agents are not browsers).
	OriginPatterns []string
	// ClientIP extracts the agent's address; default: the host of RemoteAddr.
	ClientIP func(r *http.Request) string
	Logger   *zap.Logger
	Observer Observer
	Clock    ports.Clock

	// Limits bound connections and message rates; zero fields are off.
	Limits Limits
	// LimitObserver counts refusals and policy closes (default: none).
	LimitObserver LimitObserver
	// VerifySignatures checks pub_key/sign with Verifier: a bad signature
	// answers code 3. RequireSignatures also refuses unsigned messages.
	VerifySignatures, RequireSignatures bool
	Verifier                            ports.SignatureVerifier
}

// Handler serves GET /websocket.
type Handler struct {
	svc  *session.Service
	opts Options

	mu       sync.Mutex
	draining bool
	conns    map[*conn]struct{}
	byKey    map[domain.MachineKey]*conn
	closed   *sync.Cond
	// base is the context messages are served in; only Drain ends it.
	base   context.Context
	cancel context.CancelFunc
	// io is base without its cancellation: the context of every read and
	// write. The library ties a cancellable context to each frame (a
	// callback registered on it and removed again), which on base would
	// serialize every frame of every connection on base's lock; a closed
	// connection (Drain closes them all) ends its reads and writes instead.
	io context.Context

	// admitted, perIP and anonymous are the counts the limits bound.
	admitted  int
	perIP     map[string]int
	anonymous int
}

// NewHandler returns a handler running connections through svc.
func NewHandler(svc *session.Service, o Options) *Handler {
	if o.HeartbeatTimeout <= 0 {
		o.HeartbeatTimeout = 30 * time.Second
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 64 << 10
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = 10 * time.Second
	}
	if o.ClientIP == nil {
		o.ClientIP = remoteHost
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.LimitObserver == nil {
		o.LimitObserver = nopLimitObserver{}
	}
	base, cancel := context.WithCancel(context.Background())
	h := &Handler{svc: svc, opts: o, base: base, cancel: cancel, io: context.WithoutCancel(base), conns: map[*conn]struct{}{},
		byKey: map[domain.MachineKey]*conn{}, perIP: map[string]int{}}
	h.closed = sync.NewCond(&h.mu)
	return h
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ServeHTTP upgrades the request and hands the connection to a goroutine
// of the handler's (Drain waits for it), so that net/http's request state
// and its goroutine's stack go with the request; connections over the
// limits or from a browser origin that is not allowed are refused before
// the upgrade.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ip := h.opts.ClientIP(r)
	adm, status, reason, msg := h.admit(ip)
	if adm == nil {
		h.refuse(w, r, status, reason, msg)
		return
	}
	if ok, why := originAllowed(r, h.opts.OriginPatterns); !ok {
		h.release(adm)
		h.opts.Logger.Debug("websocket upgrade refused", zap.String("reason", why), zap.String("client_ip", ip))
		http.Error(w, why, http.StatusForbidden)
		return
	}
	c := &conn{h: h, adm: adm, limit: newLimiter(h.opts.Limits), opened: time.Now(), wake: make(chan struct{}, 1)}
	c.qcond.L = &c.qmu
	ws, err := websocket.Accept(smallBuffers{w}, r, &websocket.AcceptOptions{
		// originAllowed above is the policy; the library's own check
		// would refuse every cross-origin browser.
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
		OnPingReceived:     func(context.Context, []byte) bool { return c.pinged() },
	})
	if err != nil {
		h.release(adm)
		h.opts.Logger.Debug("websocket upgrade refused", zap.Error(err), zap.String("client_ip", ip))
		return
	}
	ws.SetReadLimit(h.opts.MaxMessageBytes)
	c.ws = ws
	c.session = h.svc.Open(ip)
	c.log = connLog{base: h.opts.Logger, connID: c.session.ConnID(), clientIP: ip}
	if !h.track(c) {
		_ = ws.Close(websocket.StatusGoingAway, "node shutting down")
		h.closeSession(c)
		h.release(adm)
		return
	}
	h.opts.Observer.ConnectionOpened()
	go func() {
		c.serve()
		h.closeSession(c)
		h.opts.Observer.ConnectionClosed()
		h.untrack(c)
		h.release(adm)
	}()
}

// closeSession releases the connection's machine with a bounded context of
// its own: the request's context is gone by now.
func (h *Handler) closeSession(c *conn) {
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.CloseTimeout)
	defer cancel()
	if err := c.session.Close(ctx); err != nil {
		c.log.log(zap.ErrorLevel, "release machine on disconnect", zap.Error(err))
	}
}

func (h *Handler) track(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return false
	}
	h.conns[c] = struct{}{}
	return true
}

func (h *Handler) untrack(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, c)
	if key := c.boundKey; key != (domain.MachineKey{}) && h.byKey[key] == c {
		delete(h.byKey, key)
	}
	h.closed.Broadcast()
}

func (h *Handler) bind(c *conn, key domain.MachineKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.boundKey = key
	h.byKey[key] = c
}

// Open counts the connections being served.
func (h *Handler) Open() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// Notify sends a type-3 notify with body to the connection bound to key on
// this node, and reports whether there was one.
func (h *Handler) Notify(ctx context.Context, key domain.MachineKey, body []byte) bool {
	h.mu.Lock()
	c := h.byKey[key]
	h.mu.Unlock()
	if c == nil {
		return false
	}
	return c.write(ctx, wire.Response{Timestamp: h.opts.Clock.Now().UnixMilli(), Type: wire.TypeNotify, Message: "notify", Body: body}) == nil
}

// RequestInfo sends the type-5 "request machine info" message (id 0, code
// 0, empty body) to the connection bound to key on this node.
func (h *Handler) RequestInfo(ctx context.Context, key domain.MachineKey) bool {
	h.mu.Lock()
	c := h.byKey[key]
	h.mu.Unlock()
	if c == nil {
		return false
	}
	return c.write(ctx, wire.Response{Timestamp: h.opts.Clock.Now().UnixMilli(), Type: wire.TypeRequestInfo, Message: RequestInfoMessage}) == nil
}

// RequestInfoMessage is the message of a type-5 request, the current original's.
const RequestInfoMessage = "request machine info"

// Kick closes the connection connID bound to key on this node (it was
// replaced by a newer connection) and reports whether there was one.
func (h *Handler) Kick(_ context.Context, key domain.MachineKey, connID, reason string) bool {
	h.mu.Lock()
	c := h.byKey[key]
	h.mu.Unlock()
	if c == nil || c.session.ConnID() != connID {
		return false
	}
	c.closeWith(websocket.StatusPolicyViolation, reason)
	return true
}

// Drain refuses new connections, closes every open one with 1001 (going
// away) so agents reconnect elsewhere, and waits until each one's machine is
// released. When ctx ends first, the remaining connections are cut.
func (h *Handler) Drain(ctx context.Context) error {
	h.mu.Lock()
	h.draining = true
	for c := range h.conns {
		c.closeWith(websocket.StatusGoingAway, "node shutting down")
	}
	h.mu.Unlock()

	stop := context.AfterFunc(ctx, func() {
		h.cancel()
		h.mu.Lock()
		defer h.mu.Unlock()
		for c := range h.conns {
			c.closeNow()
		}
		h.closed.Broadcast()
	})
	defer stop()
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(h.conns) > 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h.closed.Wait()
	}
	return nil
}

type nopObserver struct{}

func (nopObserver) ConnectionOpened()                                 {}
func (nopObserver) ConnectionClosed()                                 {}
func (nopObserver) MessageHandled(uint32, domain.Code, time.Duration) {}

// systemClock is the wall clock, the default when no clock is injected.
type systemClock struct{}

// Now implements ports.Clock.
func (systemClock) Now() time.Time { return time.Now() }
