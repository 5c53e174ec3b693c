// Package httpapi serves the node's HTTP surface on its listener: the
// WebSocket endpoint, health, readiness and metrics, with JSON errors.
package httpapi

import (
	"context"
	"encoding/json"
	"net"
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
	// Sessions lists this node's open sockets bound to a machine (GET
	// /api/v0/admin/sessions); the result is served as JSON.
	Sessions func() any
	// Notify sends the unregister notify to a machine wherever it is connected
	// and names the node (POST /api/v0/admin/notify).
	Notify func(ctx context.Context, key domain.MachineKey) (string, error)
	// Geo serves the score calculator and the location lookup (geo.go).
	Geo GeoOptions
	// Contract runs the contract management commands (POST /api/v0/contract/*).
	Contract ContractCommand
	// AdminToken guards /api/v0/admin/*; empty turns the admin API off.
	AdminToken string
	// InternalSecret is accepted in X-Internal-Secret by the contract
	// routes (as is the admin token); OpenContractRoutes lists the
	// contract actions served without any credential.
	InternalSecret     string
	OpenContractRoutes []string
	// CORS are the cross-origin headers (cors.go); zero sends none.
	CORS CORS
	// ClientIP names the caller (GET /api/v0/location without ip); default
	// the host of RemoteAddr.
	ClientIP func(r *http.Request) string
	// FleetMetrics serves GET /metrics/prometheus; NodeMetrics GET /metrics.
	FleetMetrics, NodeMetrics http.Handler
	Version, NodeID           string
	Logger                    *zap.Logger

	// Fleet is what the query and management API read and write.
	Fleet FleetStore
	// ReadToken, when set, guards the query API (the admin token works too);
	// empty leaves reads open.
	ReadToken string
	// Config is the effective configuration with secrets redacted
	// (GET /api/v0/admin/config).
	Config map[string]any
	// Retention is the report retention policy, shown with the configuration.
	Retention Retention
	// BodyMaxBytes caps every request body (default 64 KiB);
	// ImportMaxBytes caps POST /api/v0/admin/import (default 1 GiB).
	BodyMaxBytes, ImportMaxBytes int64
	// Now is the clock of "last hour" and default time windows; nil is time.Now.
	Now func() time.Time
	// Console serves the web console at / and /console/ (on AdminAddr too).
	Console http.Handler
	// AdminSeparate leaves metrics and /api/v0/admin/* off this handler:
	// they are served by NewAdmin on AdminAddr.
	AdminSeparate bool
}

// New returns the node's HTTP handler: every route, or, with AdminSeparate,
// every route but the operator surface (NewAdmin serves that).
func New(o Options) http.Handler {
	o = o.withDefaults()
	mux := newRouteMux(o.BodyMaxBytes)
	registerPublic(mux, o)
	if !o.AdminSeparate {
		registerAdmin(mux, o)
	}
	return withCORS(o.CORS, jsonErrors(mux.ServeMux))
}

// Routes lists every route New registers, as "METHOD /path" patterns; the
// OpenAPI test compares it with the document.
func Routes() []string {
	o := Options{}.withDefaults()
	mux := newRouteMux(0)
	registerPublic(mux, o)
	registerAdmin(mux, o)
	return mux.patterns
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ClientIP == nil {
		o.ClientIP = func(r *http.Request) string {
			if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
				return host
			}
			return r.RemoteAddr
		}
	}
	return o
}

// registerPublic adds what agents and readers use: the WebSocket, health,
// cluster, query, score and location routes, and the API document.
func registerPublic(mux *routeMux, o Options) {
	mux.Handle("GET /websocket", upgradeOnly(o.WebSocket))
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
	mux.HandleFunc("GET /api/v0/cluster/nodes", clusterNodesHandler(o))
	registerGeo(mux, o)
	registerQuery(mux, o)
	mux.HandleFunc("GET /api/openapi.json", openAPIHandler)
	registerConsole(mux, o)
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
