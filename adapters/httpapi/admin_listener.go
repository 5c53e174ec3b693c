package httpapi

import "net/http"

// registerAdmin adds the operator surface: metrics, the admin API, machine
// deletion and the contract commands. It is served on the public listener,
// or alone on AdminAddr (NewAdmin).
func registerAdmin(mux *routeMux, o Options) {
	mux.Handle("GET /metrics/prometheus", o.FleetMetrics)
	mux.Handle("GET /metrics", o.NodeMetrics)
	mux.HandleFunc("GET /api/v0/admin/outbox", requireToken(o.AdminToken, outboxHandler(o)))
	registerOutboxActions(mux, o)
	mux.HandleFunc("POST /api/v0/admin/notify", requireToken(o.AdminToken, notifyHandler(o)))
	mux.HandleFunc("GET /api/v0/admin/sessions", requireToken(o.AdminToken, sessionsHandler(o)))
	registerManagement(mux, o)
	contractRoutes(mux, o)
}

// NewAdmin returns the handler of the separate admin listener (AdminAddr):
// the operator surface, and health so it can be probed.
func NewAdmin(o Options) http.Handler {
	o = o.withDefaults()
	mux := newRouteMux(o.BodyMaxBytes)
	registerAdmin(mux, o)
	registerAdminReads(mux, o)
	registerConsole(mux, o)
	mux.HandleFunc("GET /healthz", healthz(o))
	// No CORS headers here: the admin listener is for operators and
	// monitoring, not for pages of other origins (the original had none).
	return jsonErrors(mux.ServeMux)
}
