package httpapi

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"go.uber.org/zap"

	"ddn/domain"
)

// ServerLimits are the bounds every HTTP request on a listener gets, so a
// slow or oversized client cannot hold the node; zero fields keep NewServer's.
type ServerLimits struct {
	// ReadHeaderTimeout bounds the request line and headers (the WebSocket handshake too).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the whole request including its body; a WebSocket
	// is not affected once upgraded (net/http clears deadlines on hijack).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing one answer.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle for this long.
	IdleTimeout time.Duration
	// MaxBodyBytes caps every request body (413 beyond it).
	MaxBodyBytes int64
}

// Apply sets l's bounds on srv.
func (l ServerLimits) Apply(srv *http.Server) {
	if l.ReadHeaderTimeout > 0 {
		srv.ReadHeaderTimeout = l.ReadHeaderTimeout
	}
	if l.ReadTimeout > 0 {
		srv.ReadTimeout = l.ReadTimeout
	}
	if l.WriteTimeout > 0 {
		srv.WriteTimeout = l.WriteTimeout
	}
	if l.IdleTimeout > 0 {
		srv.IdleTimeout = l.IdleTimeout
	}
}

// Harden wraps a listener's handler so that a panic in any handler is
// logged, without the request's headers (Authorization holds a token), and
// answered 500 while the node keeps serving. Bodies are capped per route by
// the route mux (Options.BodyMaxBytes).
func Harden(h http.Handler, log *zap.Logger) http.Handler {
	if log == nil {
		log = zap.NewNop()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p) // net/http's own way to abort; it logs nothing
			}
			log.Error("handler panicked; request dropped",
				zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr),
				zap.String("panic", fmt.Sprint(p)), zap.ByteString("stack", debug.Stack()))
			writeError(w, http.StatusInternalServerError, domain.CodeInternal, "internal error")
		}()
		h.ServeHTTP(w, r)
	})
}
