package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"

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

// exportPage is how many machines an export reads at a time.
const exportPage = 500

// importBatch is how many imported reports are checked and stored at a
// time: the embedded store scans machine_tm once per batch.
const importBatch = 5000

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
		ctx := r.Context()
		flusher, _ := w.(http.Flusher)
		enc := json.NewEncoder(w)
		end := exportEnd{Kind: "end"}
		started := false
		start := func() {
			if !started {
				w.Header().Set("Content-Type", "application/x-ndjson")
				w.Header().Set("Content-Disposition", `attachment; filename="ddn-export.ndjson"`)
				w.WriteHeader(http.StatusOK)
				started = true
			}
		}
		fail := func(op string, err error) {
			if !started {
				storeFailed(w, o, op, err)
				return
			}
			o.Logger.Error(op, zap.Error(err))
			_ = enc.Encode(errorLine{Kind: "error", Code: domain.CodeDatabase, Message: "store failed mid-export; the export is incomplete"})
		}
		var after *domain.MachineKey
		for {
			ms, err := o.Fleet.ListMachines(ctx, domain.MachineFilter{After: after, Limit: exportPage})
			if err != nil {
				fail("export machines", err)
				return
			}
			start()
			for _, m := range ms {
				v := machineOf(m)
				v.Kind = "machine"
				if err := enc.Encode(v); err != nil {
					return // the client went away
				}
				end.Machines++
			}
			if flusher != nil {
				flusher.Flush()
			}
			if len(ms) < exportPage {
				break
			}
			k := ms[len(ms)-1].Key
			after = &k
		}
		err := o.Fleet.ScanReports(ctx, from, to, func(rep domain.Report) error {
			if err := enc.Encode(reportOf(rep, true)); err != nil {
				return fmt.Errorf("write export: %w", err)
			}
			end.Reports++
			if flusher != nil && end.Reports%exportPage == 0 {
				flusher.Flush()
			}
			return nil
		})
		if err != nil {
			if ctx.Err() == nil {
				fail("export reports", err)
			}
			return
		}
		_ = enc.Encode(end)
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
		var machines, inserted, seen int64
		var batch []domain.Report
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			n, err := o.Fleet.ImportReports(r.Context(), batch)
			inserted += n
			batch = batch[:0]
			return err
		}
		answer := func(status int, code domain.Code, msg string) {
			writeJSON(w, status, map[string]any{"code": code, "message": msg, "machines": machines,
				"reports_imported": inserted, "reports_skipped": seen - int64(len(batch)) - inserted})
		}
		dec := json.NewDecoder(r.Body)
		for line := 1; ; line++ {
			var l importLine
			err := dec.Decode(&l)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if ferr := flush(); ferr != nil {
					storeFailed(w, o, "import reports", ferr)
					return
				}
				if tooLarge(err) {
					answer(http.StatusRequestEntityTooLarge, domain.CodeParameter, "import body too large (Admin.ImportMaxBytes); what came before was imported")
					return
				}
				answer(http.StatusBadRequest, domain.CodeParse, fmt.Sprintf("line %d is not JSON: %v; the lines before it were imported", line, err))
				return
			}
			key := l.key()
			switch l.Kind {
			case "machine":
				if err := key.Validate(); err != nil {
					_ = flush()
					answer(http.StatusBadRequest, domain.CodeParameter, fmt.Sprintf("line %d: %v; the lines before it were imported", line, err))
					return
				}
				if err := o.Fleet.PutMachine(r.Context(), l.domain()); err != nil {
					storeFailed(w, o, "import machine", err)
					return
				}
				machines++
			case "report":
				if err := key.Validate(); err != nil || l.Timestamp.IsZero() || (l.ShortTerm == nil) == (l.Bandwidth == nil) {
					_ = flush()
					answer(http.StatusBadRequest, domain.CodeParameter, fmt.Sprintf("line %d: a report needs machine_id, project, timestamp and one of deeplink_st or deeplink_bw; the lines before it were imported", line))
					return
				}
				batch = append(batch, domain.Report{Key: key, Timestamp: l.Timestamp.UTC(), ShortTerm: l.ShortTerm.domain(), Bandwidth: l.Bandwidth.domain()})
				seen++
				if len(batch) >= importBatch {
					if err := flush(); err != nil {
						storeFailed(w, o, "import reports", err)
						return
					}
				}
			case "end", "error":
				// The export's own summary (or its failure note): nothing to store.
			default:
				_ = flush()
				answer(http.StatusBadRequest, domain.CodeParameter, fmt.Sprintf("line %d: kind must be machine or report, got %q; the lines before it were imported", line, l.Kind))
				return
			}
		}
		if err := flush(); err != nil {
			storeFailed(w, o, "import reports", err)
			return
		}
		o.Logger.Info("import by the admin API", zap.Int64("machines", machines), zap.Int64("reports_imported", inserted), zap.Int64("reports_skipped", seen-inserted))
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
