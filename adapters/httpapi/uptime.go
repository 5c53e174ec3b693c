package httpapi

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"ddn/domain"
)

// Uptime windows: the default when from is absent, and the longest asked.
const (
	defaultUptimeWindow = 24 * time.Hour
	maxUptimeWindow     = 366 * 24 * time.Hour
)

// registerUptime adds the uptime reads: one machine's, and a page ranked.
func registerUptime(mux *routeMux, o Options) {
	read := func(h http.HandlerFunc) http.HandlerFunc {
		return requireRead(o.ReadToken, o.AdminToken, needsFleet(o, h))
	}
	mux.HandleFunc("GET /api/v0/machines/{project}/{machine_id}/uptime", read(machineUptimeHandler(o)))
	mux.HandleFunc("GET /api/v0/uptime", read(rankUptimeHandler(o)))
}

// outageView is an outage as the API shows it.
type outageView struct {
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Seconds   float64   `json:"seconds"`
	Reason    string    `json:"reason"`
	OfflineAt time.Time `json:"offline_at,omitzero"`
	Ongoing   bool      `json:"ongoing,omitempty"`
}

// uptimeView is a machine's uptime over a window; Uptime is null when
// nothing is known of the machine in the window.
type uptimeView struct {
	MachineID     string       `json:"machine_id"`
	Project       string       `json:"project"`
	ContainerID   string       `json:"container_id"`
	State         string       `json:"state"`
	From          time.Time    `json:"from"`
	To            time.Time    `json:"to"`
	Uptime        *float64     `json:"uptime"`
	OnlineSeconds float64      `json:"online_seconds"`
	KnownSeconds  float64      `json:"known_seconds"`
	Reconnects    int          `json:"reconnects"`
	OutageCount   int          `json:"outage_count"`
	Outages       []outageView `json:"outages,omitempty"`
}

func uptimeOf(m domain.Machine, u domain.Uptime, withOutages bool) uptimeView {
	v := uptimeView{MachineID: m.Key.MachineID, Project: m.Key.Project, ContainerID: m.Key.ContainerID, State: string(m.State),
		From: u.From, To: u.To, OnlineSeconds: u.Online.Seconds(), KnownSeconds: u.Known.Seconds(),
		Reconnects: u.Reconnects, OutageCount: len(u.Outages)}
	if u.HasFraction {
		f := u.Fraction
		v.Uptime = &f
	}
	if withOutages {
		v.Outages = make([]outageView, len(u.Outages))
		for i, out := range u.Outages {
			v.Outages[i] = outageView{From: out.From, To: out.To, Seconds: out.To.Sub(out.From).Seconds(), Reason: string(out.Reason),
				OfflineAt: out.OfflineAt, Ongoing: out.Ongoing}
		}
	}
	return v
}

// uptimeWindow reads ?from=&to=: to defaults to now, from to a day before
// to; the window is at most maxUptimeWindow.
func uptimeWindow(w http.ResponseWriter, r *http.Request, o Options) (from, to time.Time, ok bool) {
	from, to, ok = timeWindow(w, r)
	if !ok {
		return from, to, false
	}
	if to.IsZero() {
		to = o.Now().UTC()
	}
	if from.IsZero() {
		from = to.Add(-defaultUptimeWindow)
	}
	switch {
	case !from.Before(to):
		badParam(w, "from", "must be before to")
		return from, to, false
	case to.Sub(from) > maxUptimeWindow:
		badParam(w, "from", "must be at most 366 days before to")
		return from, to, false
	}
	return from, to, true
}

// machineUptime computes m's uptime over [from, to) from its presence
// history and its record: one read of the history.
func machineUptime(r *http.Request, o Options, m domain.Machine, from, to time.Time) (domain.Uptime, error) {
	hist, err := o.Fleet.ListPresence(r.Context(), m.Key, to)
	if err != nil {
		return domain.Uptime{}, err
	}
	return domain.ComputeUptime(domain.PresenceSequence(m, hist), from, to), nil
}

// machineUptimeHandler serves GET /api/v0/machines/{project}/{machine_id}/uptime?container_id=&from=&to=.
func machineUptimeHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := pathKey(r)
		from, to, ok := uptimeWindow(w, r, o)
		if !ok {
			return
		}
		m, err := o.Fleet.GetMachine(r.Context(), key)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			writeError(w, http.StatusNotFound, domain.CodeParameter, "unknown machine "+key.String())
			return
		case err != nil:
			storeFailed(w, o, "get machine", err)
			return
		}
		u, err := machineUptime(r, o, m, from, to)
		if err != nil {
			storeFailed(w, o, "read presence history", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": "ok", "uptime": uptimeOf(m, u, true)})
	}
}

// rankUptimeHandler serves GET /api/v0/uptime?project=&state=&from=&to=&limit=&after=:
// a page of machines in key order (as GET /api/v0/machines), each with its
// uptime, the page ranked worst first. It reads one page of machine_info
// and one history per machine of the page, never the reports.
func rankUptimeHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, ok := machineFilter(w, r)
		if !ok {
			return
		}
		from, to, ok := uptimeWindow(w, r, o)
		if !ok {
			return
		}
		ms, next, ok := machinePage(w, r, o, f)
		if !ok {
			return
		}
		views := make([]uptimeView, 0, len(ms))
		for _, m := range ms {
			u, err := machineUptime(r, o, m, from, to)
			if err != nil {
				storeFailed(w, o, "read presence history", err)
				return
			}
			views = append(views, uptimeOf(m, u, false))
		}
		slices.SortStableFunc(views, worstFirst)
		writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": "ok", "from": from, "to": to,
			"machines": views, "next": next})
	}
}

// worstFirst orders by uptime ascending, machines with nothing known last;
// equal ones keep key order.
func worstFirst(a, b uptimeView) int {
	switch {
	case a.Uptime == nil && b.Uptime == nil:
		return 0
	case a.Uptime == nil:
		return 1
	case b.Uptime == nil:
		return -1
	case *a.Uptime < *b.Uptime:
		return -1
	case *a.Uptime > *b.Uptime:
		return 1
	}
	return 0
}
