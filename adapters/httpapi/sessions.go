package httpapi

import (
	"net/http"

	"ddn/domain"
)

// sessionsHandler lists this node's open sockets bound to a machine
// (GET /api/v0/admin/sessions): what the node serves, as opposed to the
// claims the store holds for it, so that the two can be compared from the
// outside (the cluster invariant of the fault tests).
func sessionsHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		var sessions any = []any{}
		if o.Sessions != nil {
			sessions = o.Sessions()
		}
		writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": "ok", "node_id": o.NodeID, "sessions": sessions})
	}
}
