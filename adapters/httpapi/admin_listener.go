package httpapi

import "net/http"

// registerAdmin adds the operator surface: metrics and the admin API. It is
// served on the public listener, or alone on AdminAddr (NewAdmin).
func registerAdmin(mux *http.ServeMux, o Options) {
	mux.Handle("GET /metrics/prometheus", o.FleetMetrics)
	mux.Handle("GET /metrics", o.NodeMetrics)
	mux.HandleFunc("GET /api/v0/admin/outbox", requireToken(o.AdminToken, outboxHandler(o)))
	mux.HandleFunc("POST /api/v0/admin/notify", requireToken(o.AdminToken, notifyHandler(o)))
}

// NewAdmin returns the handler of the separate admin listener (AdminAddr):
// metrics, the admin API, and health so it can be probed.
func NewAdmin(o Options) http.Handler {
	mux := http.NewServeMux()
	registerAdmin(mux, o)
	mux.HandleFunc("GET /healthz", healthz(o))
	return jsonErrors(mux)
}
