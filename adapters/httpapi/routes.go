// Package httpapi serves the node's HTTP surface on its listener: the
// WebSocket endpoint, health, readiness and metrics, with JSON errors.
package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"go.uber.org/zap"

	"ddn/domain"
	"ddn/ports"
)

// Options are the handlers and facts the routes need; cmd/ddn wires them.
type Options struct {
	// WebSocket serves GET /websocket.
	WebSocket http.Handler
	// Ready reports whether the store answers (GET /readyz).
	Ready func(ctx context.Context) error
	// ClusterNodes lists the cluster's nodes (GET /api/v0/cluster/nodes); the
	// result is served as JSON.
	ClusterNodes func(ctx context.Context) (any, error)
	// Outbox is read by GET /api/v0/admin/outbox.
	Outbox ports.OutboxStore
	// Notify sends the unregister notify to a machine wherever it is connected
	// and names the node (POST /api/v0/admin/notify).
	Notify func(ctx context.Context, key domain.MachineKey) (string, error)
	// AdminToken guards /api/v0/admin/*; empty turns the admin API off.
	AdminToken string
	// FleetMetrics serves GET /metrics/prometheus; NodeMetrics GET /metrics.
	FleetMetrics, NodeMetrics http.Handler
	Version, NodeID           string
	Logger                    *zap.Logger
	// AdminSeparate leaves metrics and /api/v0/admin/* off this handler:
	// they are served by NewAdmin on AdminAddr.
	AdminSeparate bool
}

// New returns the node's HTTP handler.
func New(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	mux := http.NewServeMux()
	mux.Handle("GET /websocket", o.WebSocket)
	if !o.AdminSeparate {
		registerAdmin(mux, o)
	}
	mux.HandleFunc("GET /healthz", healthz(o))
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := o.Ready(ctx); err != nil {
			o.Logger.Warn("not ready: store unreachable", zap.Error(err))
			writeError(w, http.StatusServiceUnavailable, domain.CodeDatabase, "store unreachable")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET /api/v0/cluster/nodes", func(w http.ResponseWriter, r *http.Request) {
		nodes, err := o.ClusterNodes(r.Context())
		if err != nil {
			o.Logger.Error("list cluster nodes", zap.Error(err))
			writeError(w, http.StatusServiceUnavailable, domain.CodeOf(err), "store unreachable")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": "ok", "nodes": nodes})
	})
	return jsonErrors(mux)
}

func healthz(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": o.Version, "node_id": o.NodeID})
	}
}

// NewServer returns an http.Server with the timeouts a public listener needs.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

type errorBody struct {
	Code    domain.Code `json:"code"`
	Message string      `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code domain.Code, msg string) {
	writeJSON(w, status, errorBody{Code: code, Message: msg})
}

// jsonErrors turns the mux's plain-text 404 and 405 answers into the
// {code, message} JSON every endpoint answers errors with.
func jsonErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		if pattern == "" {
			probe := &statusProbe{header: http.Header{}}
			mux.ServeHTTP(probe, r) // unmatched: learn whether it is 404 or 405
			if allow := probe.header.Get("Allow"); allow != "" {
				w.Header().Set("Allow", allow)
			}
			if probe.status == http.StatusMethodNotAllowed {
				writeError(w, http.StatusMethodNotAllowed, domain.CodeParameter, "method not allowed")
				return
			}
			writeError(w, http.StatusNotFound, domain.CodeParameter, "not found")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// statusProbe records the status of the mux's own error answer.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(s int)           { p.status = s }
