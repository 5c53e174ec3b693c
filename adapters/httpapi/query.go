package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"ddn/domain"
	"ddn/ports"
)

// FleetStore is what the query and management API read and write.
type FleetStore interface {
	ports.MachineStore
	// GetConnection tells whether, and where, a machine is connected now.
	GetConnection(ctx context.Context, key domain.MachineKey) (domain.Connection, error)
	ports.ReportStore
	ports.QueryStore
	ports.PresenceStore
}

// Page limits of the query API.
const (
	defaultMachinesLimit = 100
	maxMachinesLimit     = 1000
	defaultReportsLimit  = 100
	maxReportsLimit      = 10000
)

// registerQuery adds the read API: machines, one machine, its reports, stats.
func registerQuery(mux *routeMux, o Options) {
	read := func(h http.HandlerFunc) http.HandlerFunc {
		return requireRead(o.ReadToken, o.AdminToken, needsFleet(o, h))
	}
	mux.HandleFunc("GET /api/v0/machines", read(listMachinesHandler(o)))
	mux.HandleFunc("GET /api/v0/machines/{project}/{machine_id}", read(getMachineHandler(o)))
	mux.HandleFunc("GET /api/v0/machines/{project}/{machine_id}/reports", read(listReportsHandler(o)))
	mux.HandleFunc("GET /api/v0/stats", read(statsHandler(o)))
	mux.HandleFunc("GET /api/v0/machines/incomplete", read(incompleteHandler(o)))
	registerUptime(mux, o)
}

// incompleteMachine is one entry of GET /api/v0/machines/incomplete, the
// current original's fields.
type incompleteMachine struct {
	MachineID   string `json:"machine_id"`
	Project     string `json:"project"`
	ContainerID string `json:"container_id"`
}

// incompleteHandler serves GET /api/v0/machines/incomplete: the machines
// connected now (state online, anywhere in the cluster) whose short-term
// info was never scored (none, or calc point 0): those the nodes send a
// type-5 request.
func incompleteHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ms, err := o.Fleet.ListMachines(r.Context(), domain.MachineFilter{State: domain.StateOnline})
		if err != nil {
			storeFailed(w, o, "list online machines", err)
			return
		}
		out := []incompleteMachine{}
		for _, m := range ms {
			if m.ShortTerm == nil || m.ShortTerm.CalcPoint == 0 {
				out = append(out, incompleteMachine{MachineID: m.Key.MachineID, Project: m.Key.Project, ContainerID: m.Key.ContainerID})
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"count": len(out), "machines": out})
	}
}

// needsFleet answers 503 "not configured" instead of h when no store was given.
func needsFleet(o Options, h http.HandlerFunc) http.HandlerFunc {
	if o.Fleet == nil {
		return notConfigured.ServeHTTP
	}
	return h
}

// requireRead guards the query API: open when no read token is configured;
// otherwise the read token or the admin token, compared in constant time.
func requireRead(readToken, adminToken string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if readToken == "" {
			next(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		readOK := sameToken(got, readToken)
		adminOK := adminToken != "" && sameToken(got, adminToken)
		if !ok || !(readOK || adminOK) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ddn"`)
			writeError(w, http.StatusUnauthorized, domain.CodeParameter, "missing or wrong bearer token")
			return
		}
		next(w, r)
	}
}

// badParam answers 400 with code 1 naming the query parameter.
func badParam(w http.ResponseWriter, name, reason string) {
	writeError(w, http.StatusBadRequest, domain.CodeParameter, name+" "+reason)
}

// storeFailed logs a store error and answers 503 with code 4.
func storeFailed(w http.ResponseWriter, o Options, op string, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	o.Logger.Error(op, zap.Error(err))
	writeError(w, http.StatusServiceUnavailable, domain.CodeDatabase, "store unreachable")
}

// queryLimit reads ?limit= between 1 and max, def when absent.
func queryLimit(r *http.Request, def, max int) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("must be a number from 1 to %d", max)
	}
	return n, nil
}

// queryTime reads a time parameter as RFC 3339 or unix milliseconds; zero when absent.
func queryTime(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return time.Time{}, errors.New("must not be negative")
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("must be an RFC 3339 time (2026-11-24T12:00:00Z) or unix milliseconds")
	}
	return t.UTC(), nil
}

// timeWindow reads ?from= and ?to= and checks from < to when both are given.
func timeWindow(w http.ResponseWriter, r *http.Request) (from, to time.Time, ok bool) {
	from, err := queryTime(r, "from")
	if err != nil {
		badParam(w, "from", err.Error())
		return from, to, false
	}
	if to, err = queryTime(r, "to"); err != nil {
		badParam(w, "to", err.Error())
		return from, to, false
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		badParam(w, "from", "must be before to")
		return from, to, false
	}
	return from, to, true
}

// encodeCursor makes the opaque page cursor of a machine key.
func encodeCursor(k domain.MachineKey) string {
	b, _ := json.Marshal([]string{k.Project, k.MachineID, k.ContainerID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (domain.MachineKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var parts []string
	if err == nil {
		err = json.Unmarshal(b, &parts)
	}
	if err != nil || len(parts) != 3 {
		return domain.MachineKey{}, errors.New("is not a cursor this API gave (use the next of the previous page)")
	}
	return domain.MachineKey{Project: parts[0], MachineID: parts[1], ContainerID: parts[2]}, nil
}

// pathKey is the machine key of /machines/{project}/{machine_id}?container_id=.
func pathKey(r *http.Request) domain.MachineKey {
	return domain.MachineKey{Project: r.PathValue("project"), MachineID: r.PathValue("machine_id"), ContainerID: r.URL.Query().Get("container_id")}
}

// listMachinesHandler serves GET /api/v0/machines?project=&state=&limit=&after=.
func listMachinesHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, ok := machineFilter(w, r)
		if !ok {
			return
		}
		ms, next, ok := machinePage(w, r, o, f)
		if !ok {
			return
		}
		views := make([]machineView, len(ms))
		for i, m := range ms {
			views[i] = machineOf(m)
		}
		writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": "ok", "machines": views, "next": next})
	}
}

// machineFilter reads project= and state= of a machine list; an unknown
// state is answered 400.
func machineFilter(w http.ResponseWriter, r *http.Request) (domain.MachineFilter, bool) {
	q := r.URL.Query()
	f := domain.MachineFilter{Project: q.Get("project"), State: domain.State(q.Get("state"))}
	switch f.State {
	case domain.StateUnknown, domain.StateOnline, domain.StateDisconnected, domain.StateOffline:
		return f, true
	}
	badParam(w, "state", "must be one of online, disconnected, offline")
	return f, false
}

// machinePage reads one page of machines matching f, after limit= and
// after= (bad ones are answered 400, a failing store 503), and returns it
// with the cursor of the next page ("" on the last).
func machinePage(w http.ResponseWriter, r *http.Request, o Options, f domain.MachineFilter) ([]domain.Machine, string, bool) {
	limit, err := queryLimit(r, defaultMachinesLimit, maxMachinesLimit)
	if err != nil {
		badParam(w, "limit", err.Error())
		return nil, "", false
	}
	if s := r.URL.Query().Get("after"); s != "" {
		k, err := decodeCursor(s)
		if err != nil {
			badParam(w, "after", err.Error())
			return nil, "", false
		}
		f.After = &k
	}
	f.Limit = limit + 1 // one more tells whether there is a next page
	ms, err := o.Fleet.ListMachines(r.Context(), f)
	if err != nil {
		storeFailed(w, o, "list machines", err)
		return nil, "", false
	}
	next := ""
	if len(ms) > limit {
		ms = ms[:limit]
		next = encodeCursor(ms[limit-1].Key)
	}
	return ms, next, true
}

// getMachineHandler serves GET /api/v0/machines/{project}/{machine_id}?container_id=.
func getMachineHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := pathKey(r)
		m, err := o.Fleet.GetMachine(r.Context(), key)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			writeError(w, http.StatusNotFound, domain.CodeParameter, "unknown machine "+key.String())
			return
		case err != nil:
			storeFailed(w, o, "get machine", err)
			return
		}
		var conn *connectionView
		c, err := o.Fleet.GetConnection(r.Context(), key)
		switch {
		case err == nil:
			conn = &connectionView{NodeID: c.NodeID, ClientIP: c.ClientIP, Since: c.AddTime}
		case !errors.Is(err, domain.ErrNotFound):
			storeFailed(w, o, "get connection", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": "ok", "machine": machineOf(m), "connection": conn})
	}
}

// listReportsHandler serves GET /api/v0/machines/{project}/{machine_id}/reports?from=&to=&limit=.
func listReportsHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := pathKey(r)
		from, to, ok := timeWindow(w, r)
		if !ok {
			return
		}
		limit, err := queryLimit(r, defaultReportsLimit, maxReportsLimit)
		if err != nil {
			badParam(w, "limit", err.Error())
			return
		}
		if _, err := o.Fleet.GetMachine(r.Context(), key); errors.Is(err, domain.ErrNotFound) {
			writeError(w, http.StatusNotFound, domain.CodeParameter, "unknown machine "+key.String())
			return
		} else if err != nil {
			storeFailed(w, o, "get machine", err)
			return
		}
		rs, err := o.Fleet.ListReports(r.Context(), key, from, to, limit)
		if err != nil {
			storeFailed(w, o, "list reports", err)
			return
		}
		views := make([]reportView, len(rs))
		for i, rep := range rs {
			views[i] = reportOf(rep, false)
		}
		writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": "ok", "reports": views})
	}
}

// recentReportsTTL is how long a count of the last hour's reports is
// reused: the count reads machine_tm (a scan on the embedded store), so
// however often /stats is polled the store counts at most this often.
const recentReportsTTL = 15 * time.Second

// recentReports caches the count of reports stored in the last hour; the
// mutex is held while counting so concurrent requests share one count.
type recentReports struct {
	mu    sync.Mutex
	at    time.Time
	since time.Time
	n     int64
}

func (c *recentReports) get(ctx context.Context, o Options) (int64, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := o.Now()
	if !c.at.IsZero() && now.Sub(c.at) < recentReportsTTL && !now.Before(c.at) {
		return c.n, c.since, nil
	}
	since := now.Add(-time.Hour)
	n, err := o.Fleet.CountReports(ctx, since)
	if err != nil {
		return 0, since, err
	}
	c.at, c.since, c.n = now, since, n
	return n, since, nil
}

// statsHandler serves GET /api/v0/stats: machines by project and state,
// reports stored in the last hour (counted at most every recentReportsTTL).
func statsHandler(o Options) http.HandlerFunc {
	cache := &recentReports{}
	return func(w http.ResponseWriter, r *http.Request) {
		counts, err := o.Fleet.CountMachines(r.Context())
		if err != nil {
			storeFailed(w, o, "count machines", err)
			return
		}
		recent, since, err := cache.get(r.Context(), o)
		if err != nil {
			storeFailed(w, o, "count reports", err)
			return
		}
		projects := map[string]map[string]int64{}
		states := map[string]int64{"online": 0, "disconnected": 0, "offline": 0}
		var total int64
		for _, c := range counts {
			state := string(c.State)
			if state == "" {
				state = "unknown"
			}
			if projects[c.Project] == nil {
				projects[c.Project] = map[string]int64{}
			}
			projects[c.Project][state] += c.Count
			projects[c.Project]["total"] += c.Count
			states[state] += c.Count
			total += c.Count
		}
		writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": "ok", "machines": total,
			"by_state": states, "by_project": projects, "reports_last_hour": recent, "since": since})
	}
}
