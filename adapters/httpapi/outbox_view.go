package httpapi

import (
	"time"

	"ddn/domain"
)

// outboxEntryView is an outbox entry as the admin API shows it.
type outboxEntryView struct {
	ID            string    `json:"id"`
	Kind          string    `json:"kind"`
	MachineID     string    `json:"machine_id"`
	Project       string    `json:"project"`
	ContainerID   string    `json:"container_id"`
	At            time.Time `json:"at"`
	NodeID        string    `json:"node_id"`
	Status        string    `json:"status"`
	Targets       []string  `json:"targets"`
	Delivered     []string  `json:"delivered"`
	Skipped       []string  `json:"skipped,omitempty"`
	GaveUp        []string  `json:"gave_up,omitempty"`
	ReportTxHash  string    `json:"report_tx_hash,omitempty"`
	Attempts      int       `json:"attempts"`
	CreatedAt     time.Time `json:"created_at"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	DoneAt        time.Time `json:"done_at,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
}

func outboxView(entries []domain.OutboxEntry) []outboxEntryView {
	out := make([]outboxEntryView, len(entries))
	for i, e := range entries {
		out[i] = outboxEntryView{ID: e.ID, Kind: string(e.Event.Kind), MachineID: e.Event.Key.MachineID, Project: e.Event.Key.Project,
			ContainerID: e.Event.Key.ContainerID, At: e.Event.At, NodeID: e.Event.NodeID, Status: string(e.Status),
			Targets: e.Targets, Delivered: e.Delivered, Skipped: e.Skipped, GaveUp: e.GaveUp, ReportTxHash: e.Event.ReportTxHash, Attempts: e.Attempts, CreatedAt: e.CreatedAt,
			NextAttemptAt: e.NextAttemptAt, DoneAt: e.DoneAt, LastError: e.LastError}
	}
	return out
}
