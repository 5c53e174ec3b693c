package websocket

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"ddn/domain"
)

// Refusal reasons, as counted by a LimitObserver.
const (
	RefusedNodeFull  = "node_full"
	RefusedPerIP     = "per_ip"
	RefusedAnonymous = "anonymous"
	RefusedDraining  = "draining"
	ClosedRateLimit  = "rate_limit"
	ClosedNoOnline   = "online_deadline"
)

// LimitObserver counts connections refused at the upgrade and connections
// closed for abuse, so operators see attacks and undersized limits; it must
// not block.
type LimitObserver interface {
	ConnectionRefused(reason string)
	ConnectionPolicyClosed(reason string)
}

// Limits bound what one node and one client may hold; zero fields are off.
type Limits struct {
	// MaxConnections caps the node's open connections; more are refused 503.
	MaxConnections int
	// MaxConnectionsPerIP caps one client IP's open connections; more are refused 429.
	MaxConnectionsPerIP int
	// MaxAnonymous caps connections that have not gone online yet; more are refused 503.
	MaxAnonymous int
	// OnlineDeadline closes (1008) a connection with no successful online by then; it pauses while an online is served.
	OnlineDeadline time.Duration
	// MessageRate is the sustained messages per second one connection may
	// send (token bucket of MessageBurst); beyond it messages answer code 1.
	MessageRate  float64
	MessageBurst int
	// RateStrikes rate-limited messages in a row close the connection (1008).
	RateStrikes int
}

// admission is a connection's place in the counts, held from the upgrade
// until the connection ends.
type admission struct {
	ip        string
	anonymous bool
}

// admit reserves a slot for a connection from ip or says why not, with the
// HTTP status to refuse with.
func (h *Handler) admit(ip string) (*admission, int, string, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.opts.Limits
	switch {
	case h.draining:
		return nil, http.StatusServiceUnavailable, RefusedDraining, "node shutting down"
	case l.MaxConnections > 0 && h.admitted >= l.MaxConnections:
		return nil, http.StatusServiceUnavailable, RefusedNodeFull, "node at its connection limit; try another node"
	case l.MaxConnectionsPerIP > 0 && h.perIP[ip] >= l.MaxConnectionsPerIP:
		return nil, http.StatusTooManyRequests, RefusedPerIP, "too many connections from this address"
	case l.MaxAnonymous > 0 && h.anonymous >= l.MaxAnonymous:
		return nil, http.StatusServiceUnavailable, RefusedAnonymous, "too many connections waiting to go online; try again later"
	}
	h.admitted++
	h.perIP[ip]++
	h.anonymous++
	return &admission{ip: ip, anonymous: true}, 0, "", ""
}

// release gives a's slots back.
func (h *Handler) release(a *admission) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.admitted--
	if h.perIP[a.ip]--; h.perIP[a.ip] <= 0 {
		delete(h.perIP, a.ip)
	}
	if a.anonymous {
		a.anonymous = false
		h.anonymous--
	}
}

// identified moves a connection out of the anonymous count (it went online).
func (h *Handler) identified(a *admission) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if a.anonymous {
		a.anonymous = false
		h.anonymous--
	}
}

// refuse answers an upgrade the limits do not allow, with the JSON error body
// every endpoint uses.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, reason, msg string) {
	h.opts.LimitObserver.ConnectionRefused(reason)
	h.opts.Logger.Debug("connection refused", zap.String("reason", reason), zap.String("client_ip", h.opts.ClientIP(r)))
	code := domain.CodeInternal
	if status == http.StatusTooManyRequests {
		code = domain.CodeParameter
	}
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "5")
	}
	w.WriteHeader(status)
	_, _ = w.Write(appendError(nil, code, msg))
}

func appendError(dst []byte, code domain.Code, msg string) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendUint(dst, uint64(code), 10)
	dst = append(dst, `,"message":`...)
	m, _ := json.Marshal(msg) // a string always marshals
	dst = append(dst, m...)
	return append(dst, "}\n"...)
}

// limiter is one connection's message budget.
type limiter struct {
	bucket  *rate.Limiter
	strikes int
}

func newLimiter(l Limits) *limiter {
	if l.MessageRate <= 0 {
		return nil
	}
	burst := max(l.MessageBurst, 1)
	return &limiter{bucket: rate.NewLimiter(rate.Limit(l.MessageRate), burst)}
}

// allow spends a token at now; it reports whether the message may be served
// and whether the connection has abused the budget long enough to be closed.
func (l *limiter) allow(now time.Time, strikes int) (ok, closeConn bool) {
	if l == nil {
		return true, false
	}
	if l.bucket.AllowN(now, 1) {
		l.strikes = 0
		return true, false
	}
	l.strikes++
	return false, strikes > 0 && l.strikes >= strikes
}

// errRateLimited is the code 1 answer to a message over the budget.
var errRateLimited = &wireError{code: domain.CodeParameter, msg: "rate limited"}

// closePolicy closes the connection for abuse with a reason the client sees.
// Any goroutine may call it; extra are fields only the caller may read.
func (c *conn) closePolicy(reason, msg string, extra ...zap.Field) {
	if !c.policyClosed.CompareAndSwap(false, true) {
		return
	}
	c.h.opts.LimitObserver.ConnectionPolicyClosed(reason)
	c.log.logBase(zap.InfoLevel, "closing connection", append([]zap.Field{zap.String("reason", msg)}, extra...)...)
	c.closeWith(websocket.StatusPolicyViolation, msg)
}

type nopLimitObserver struct{}

func (nopLimitObserver) ConnectionRefused(string)      {}
func (nopLimitObserver) ConnectionPolicyClosed(string) {}
