package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"

	"ddn/app/transfer"
	"ddn/domain"
)

// Retention is the report retention policy the config endpoint shows, so
// operators see what the node deletes and when.
type Retention struct {
	// ExpireAfter is MongoDB.ExpireTime: reports older than this are deleted.
	ExpireAfter time.Duration
	// Interval is MongoDB.RetentionInterval: how often the node prunes.
	Interval time.Duration
}

// registerManagement adds the admin API: prune, forget a machine, export,
// import, effective configuration.
func registerManagement(mux *routeMux, o Options) {
	admin := func(h http.HandlerFunc) http.HandlerFunc { return requireToken(o.AdminToken, needsFleet(o, h)) }
	mux.HandleFunc("POST /api/v0/admin/prune", admin(pruneHandler(o)))
	mux.HandleFunc("DELETE /api/v0/machines/{project}/{machine_id}", admin(deleteMachineHandler(o)))
	mux.HandleFunc("GET /api/v0/admin/export", admin(exportHandler(o)))
	limit := o.ImportMaxBytes
	if limit <= 0 {
		limit = 1 << 30
	}
	mux.handleLimited("POST /api/v0/admin/import", admin(importHandler(o)), limit)
	mux.HandleFunc("GET /api/v0/admin/config", admin(configHandler(o)))
}

// pruneHandler serves POST /api/v0/admin/prune?before=.
func pruneHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		before, err := queryTime(r, "before")
		if err != nil {
			badParam(w, "before", err.Error())
			return
		}
		if before.IsZero() {
			badParam(w, "before", "is required (RFC 3339 or unix milliseconds)")
			return
		}
		n, err := o.Fleet.PruneReports(r.Context(), before)
		if err != nil {
			storeFailed(w, o, "prune reports", err)
			return
		}
		o.Logger.Info("reports pruned by the admin API", zap.Time("before", before), zap.Int64("removed", n))
		writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": "ok", "removed": n, "before": before})
	}
}

// deleteMachineHandler serves DELETE /api/v0/machines/{project}/{machine_id}?container_id=.
func deleteMachineHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := pathKey(r)
		d, err := o.Fleet.DeleteMachine(r.Context(), key)
		if err != nil {
			storeFailed(w, o, "delete machine", err)
			return
		}
		if d == (domain.MachineDeletion{}) {
			writeError(w, http.StatusNotFound, domain.CodeParameter, "unknown machine "+key.String())
			return
		}
		o.Logger.Info("machine forgotten by the admin API", zap.Stringer("machine", key), zap.Int64("reports_removed", d.Reports),
			zap.Bool("was_connected", d.Connection))
		msg := "machine forgotten"
		if d.Connection {
			msg = "machine forgotten; it was connected: its WebSocket stays open on its node, and its next report or disconnect writes a new record"
		}
		writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": msg,
			"reports_removed": d.Reports, "connection_removed": d.Connection})
	}
}

// exportEnd is the last line of a complete export: what it held.
type exportEnd struct {
	Kind     string `json:"kind"`
	Machines int64  `json:"machines"`
	Reports  int64  `json:"reports"`
}

// exportHandler serves GET /api/v0/admin/export?from=&to=: every machine,
// then the reports in the window, one JSON object per line, streamed; the
// last line is {"kind":"end",...}, or {"kind":"error",...} when the store
// failed mid-way (the status line was sent already).
func exportHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		from, to, ok := timeWindow(w, r)
		if !ok {
			return
		}
		sink := &exportSink{w: w, enc: json.NewEncoder(w)}
		sink.flusher, _ = w.(http.Flusher)
		n, err := transfer.Export(r.Context(), o.Fleet, from, to, sink)
		var ee *transfer.ExportError
		switch {
		case errors.As(err, &ee) && !sink.started:
			storeFailed(w, o, string(ee.Stage), ee.Err)
		case errors.As(err, &ee):
			if r.Context().Err() == nil {
				o.Logger.Error(string(ee.Stage), zap.Error(ee.Err))
				_ = sink.enc.Encode(errorLine{Kind: "error", Code: domain.CodeDatabase, Message: "store failed mid-export; the export is incomplete"})
			}
		case err != nil:
			// The client went away.
		default:
			sink.start()
			_ = sink.enc.Encode(exportEnd{Kind: "end", Machines: n.Machines, Reports: n.Reports})
		}
	}
}

// exportSink writes an export as NDJSON, sending the status line with the
// first page.
type exportSink struct {
	w       http.ResponseWriter
	enc     *json.Encoder
	flusher http.Flusher
	started bool
}

func (s *exportSink) start() {
	if !s.started {
		s.w.Header().Set("Content-Type", "application/x-ndjson")
		s.w.Header().Set("Content-Disposition", `attachment; filename="ddn-export.ndjson"`)
		s.w.WriteHeader(http.StatusOK)
		s.started = true
	}
}

// Machine implements transfer.Sink.
func (s *exportSink) Machine(m domain.Machine) error {
	s.start()
	v := machineOf(m)
	v.Kind = "machine"
	return s.enc.Encode(v)
}

// Report implements transfer.Sink.
func (s *exportSink) Report(r domain.Report) error {
	if err := s.enc.Encode(reportOf(r, true)); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	return nil
}

// Flush implements transfer.Sink.
func (s *exportSink) Flush() {
	s.start()
	if s.flusher != nil {
		s.flusher.Flush()
	}
}

// errorLine ends an export that failed after its first line.
type errorLine struct {
	Kind    string      `json:"kind"`
	Code    domain.Code `json:"code"`
	Message string      `json:"message"`
}

// importLine is any line of an export: a machine, a report or the end.
type importLine struct {
	Kind string `json:"kind"`
	machineView
	Timestamp time.Time `json:"timestamp"`
}

// importHandler serves POST /api/v0/admin/import: an export's lines, loaded
// idempotently: machines are written whole by key, reports inserted unless
// one of the same machine and timestamp is stored.
func importHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		im := transfer.NewImport(o.Fleet)
		answer := func(status int, code domain.Code, msg string) {
			c := im.Counts()
			writeJSON(w, status, map[string]any{"code": code, "message": msg, "machines": c.Machines,
				"reports_imported": c.ReportsImported, "reports_skipped": c.ReportsSkipped})
		}
		// refuse answers a bad line after storing what came before it.
		refuse := func(status int, code domain.Code, msg string) {
			if err := im.Finish(ctx); err != nil {
				storeFailed(w, o, "import reports", err)
				return
			}
			answer(status, code, msg+"; the lines before it were imported")
		}
		dec := json.NewDecoder(r.Body)
		for line := 1; ; line++ {
			var l importLine
			err := dec.Decode(&l)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if tooLarge(err) {
					refuse(http.StatusRequestEntityTooLarge, domain.CodeParameter, "import body too large (Admin.ImportMaxBytes)")
					return
				}
				refuse(http.StatusBadRequest, domain.CodeParse, fmt.Sprintf("line %d is not JSON: %v", line, err))
				return
			}
			switch l.Kind {
			case "machine":
				err = im.Machine(ctx, l.domain())
			case "report":
				err = im.Report(ctx, domain.Report{Key: l.key(), Timestamp: l.Timestamp.UTC(), ShortTerm: l.ShortTerm.domain(), Bandwidth: l.Bandwidth.domain()})
			case "end", "error":
				// The export's own summary (or its failure note): nothing to store.
			default:
				refuse(http.StatusBadRequest, domain.CodeParameter, fmt.Sprintf("line %d: kind must be machine or report, got %q", line, l.Kind))
				return
			}
			switch {
			case errors.Is(err, domain.ErrInvalidParam):
				refuse(http.StatusBadRequest, domain.CodeParameter, fmt.Sprintf("line %d: %v", line, err))
				return
			case err != nil:
				storeFailed(w, o, "import", err)
				return
			}
		}
		if err := im.Finish(ctx); err != nil {
			storeFailed(w, o, "import reports", err)
			return
		}
		c := im.Counts()
		o.Logger.Info("import by the admin API", zap.Int64("machines", c.Machines), zap.Int64("reports_imported", c.ReportsImported), zap.Int64("reports_skipped", c.ReportsSkipped))
		answer(http.StatusOK, domain.CodeOK, "imported")
	}
}

// configHandler serves GET /api/v0/admin/config: the effective
// configuration, secrets redacted, and the retention policy.
func configHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": "ok", "config": o.Config,
			"retention": map[string]any{
				"expire_after_seconds": int64(o.Retention.ExpireAfter / time.Second),
				"interval":             o.Retention.Interval.String(),
				"enabled":              o.Retention.ExpireAfter > 0 && o.Retention.Interval > 0,
			}})
	}
}
