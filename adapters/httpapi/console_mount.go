package httpapi

import (
	"net/http"

	"go.uber.org/zap"

	"ddn/domain"
)

// registerConsole mounts the web console (Options.Console), when there is
// one: its page at / and its files under /console/. They are HTML, not API,
// so they are not in the recording mux nor the OpenAPI document. The
// console only calls this API, so it sees what the token its user enters
// may see.
func registerConsole(mux *routeMux, o Options) {
	if o.Console == nil {
		return
	}
	mux.ServeMux.Handle("GET /{$}", o.Console)
	mux.ServeMux.Handle("GET /console/", o.Console)
}

// registerAdminReads adds to the admin listener the reads its console
// calls (query, uptime, cluster nodes), with the same guards as on Addr.
func registerAdminReads(mux *routeMux, o Options) {
	mux.HandleFunc("GET /api/v0/cluster/nodes", clusterNodesHandler(o))
	registerQuery(mux, o)
}

// clusterNodesHandler serves GET /api/v0/cluster/nodes.
func clusterNodesHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		nodes, err := o.ClusterNodes(r.Context())
		if err != nil {
			o.Logger.Error("list cluster nodes", zap.Error(err))
			writeError(w, http.StatusServiceUnavailable, domain.CodeOf(err), "store unreachable")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": "ok", "nodes": nodes})
	}
}
