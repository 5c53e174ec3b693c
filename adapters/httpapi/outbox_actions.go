package httpapi

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"ddn/domain"
)

// registerOutboxActions adds the operator's answers to a dead-lettered
// side effect: deliver it again, or drop it.
func registerOutboxActions(mux *routeMux, o Options) {
	mux.HandleFunc("POST /api/v0/admin/outbox/{id}/retry", requireToken(o.AdminToken, outboxActionHandler(o, "retry")))
	mux.HandleFunc("POST /api/v0/admin/outbox/{id}/drop", requireToken(o.AdminToken, outboxActionHandler(o, "drop")))
}

// outboxActionHandler serves retry (a dead entry becomes ready, due now,
// its attempts counted afresh) and drop (a dead entry is cancelled, with
// the operator named as the reason). Only dead entries are touched: one
// that is ready or pending belongs to the outbox's own delivery.
func outboxActionHandler(o Options, action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if o.Outbox == nil {
			notConfigured.ServeHTTP(w, r)
			return
		}
		id := r.PathValue("id")
		e, err := o.Outbox.GetOutbox(r.Context(), id)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			writeError(w, http.StatusNotFound, domain.CodeParameter, "no outbox entry "+id)
			return
		case err != nil:
			storeFailed(w, o, "get outbox entry", err)
			return
		}
		if e.Status != domain.OutboxDead {
			writeError(w, http.StatusConflict, domain.CodeParameter, "entry is "+string(e.Status)+": only dead-lettered entries can be retried or dropped")
			return
		}
		now := o.Now().UTC()
		switch action {
		case "retry":
			e.Status, e.Attempts, e.NextAttemptAt = domain.OutboxReady, 0, now
		default:
			e.Status, e.DoneAt, e.LastError = domain.OutboxCancelled, now, "dropped by an operator; last error: "+e.LastError
		}
		if err := o.Outbox.UpdateOutbox(r.Context(), e); err != nil {
			storeFailed(w, o, "update outbox entry", err)
			return
		}
		o.Logger.Info("outbox entry "+action, zap.String("id", id), zap.String("event", string(e.Event.Kind)), zap.Stringer("machine", e.Event.Key))
		writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": action + " done", "entry": outboxView([]domain.OutboxEntry{e})[0]})
	}
}
