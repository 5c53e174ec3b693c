package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"ddn/domain"
)

// requireToken guards admin routes: with no token configured the admin API
// is off (403), not open; a missing or wrong bearer token is 401. Tokens are
// compared in constant time.
func requireToken(token string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			writeError(w, http.StatusForbidden, domain.CodeParameter, "admin API is disabled: set Admin.Token")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !sameToken(got, token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ddn"`)
			writeError(w, http.StatusUnauthorized, domain.CodeParameter, "missing or wrong bearer token")
			return
		}
		next(w, r)
	}
}

// sameToken compares in constant time, also in the length: both sides are
// hashed first, so neither a prefix nor the token's length leaks through timing.
func sameToken(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// outboxHandler serves GET /api/v0/admin/outbox?status=&limit=.
func outboxHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status := r.URL.Query().Get("status")
		switch status {
		case "", "pending", "ready", "done", "dead", "cancelled":
		default:
			writeError(w, http.StatusBadRequest, domain.CodeParameter, "status must be one of pending, ready, done, dead, cancelled")
			return
		}
		limit := 100
		if s := r.URL.Query().Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 10000 {
				writeError(w, http.StatusBadRequest, domain.CodeParameter, "limit must be a number from 1 to 10000")
				return
			}
			limit = n
		}
		entries, err := o.Outbox.ListOutbox(r.Context(), domain.OutboxFilter{Status: domain.OutboxStatus(status), Limit: limit})
		var counts map[domain.OutboxStatus]int64
		if err == nil {
			counts, err = o.Outbox.CountOutbox(r.Context())
		}
		if err != nil {
			o.Logger.Error("list outbox", zap.Error(err))
			writeError(w, http.StatusServiceUnavailable, domain.CodeDatabase, "store unreachable")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": "ok", "counts": counts, "entries": outboxView(entries)})
	}
}

// notifyHandler serves POST /api/v0/admin/notify: send the unregister
// notify (type 3) to a machine's connection on whichever node holds it.
func notifyHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			MachineID   string `json:"machine_id"`
			Project     string `json:"project"`
			ContainerID string `json:"container_id"`
		}
		dec := json.NewDecoder(r.Body)
		if err := dec.Decode(&req); tooLarge(err) {
			writeError(w, http.StatusRequestEntityTooLarge, domain.CodeParameter, "request body too large")
			return
		} else if err != nil {
			writeError(w, http.StatusBadRequest, domain.CodeParse, "body must be a JSON object with machine_id, project and container_id")
			return
		}
		key := domain.MachineKey{MachineID: req.MachineID, Project: req.Project, ContainerID: req.ContainerID}
		if err := key.Validate(); err != nil {
			writeError(w, http.StatusBadRequest, domain.CodeParameter, err.Error())
			return
		}
		node, err := o.Notify(r.Context(), key)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			writeError(w, http.StatusNotFound, domain.CodeParameter, "machine is not connected")
		case err != nil:
			o.Logger.Error("notify", zap.Stringer("machine", key), zap.Error(err))
			writeError(w, http.StatusServiceUnavailable, domain.CodeOf(err), "store unreachable")
		default:
			writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": "notify sent", "node_id": node})
		}
	}
}
