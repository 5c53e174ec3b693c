package ports

import (
	"context"
	"time"

	"ddn/domain"
)

// PresenceStore reads the presence history a store keeps: every MarkOnline,
// MarkDisconnected, MarkDisconnectedBy and MarkOffline that changes a
// machine's record also records a domain.PresenceChange (reasons:
// disconnected, node_lost, offline), in the same call. The history expires
// with the reports (PruneReports removes changes older than its time).
type PresenceStore interface {
	// ListPresence returns key's recorded changes with at < before (zero:
	// all), oldest first.
	ListPresence(ctx context.Context, key domain.MachineKey, before time.Time) ([]domain.PresenceChange, error)
}
