// Package ports declares what the core needs from the outside world (store,
// clock, event sink) as interfaces, so adapters can be swapped and faked.
package ports

import (
	"context"
	"time"

	"ddn/domain"
)

// ConnectionStore keeps the cluster-wide claims of live connections on machines.
type ConnectionStore interface {
	// InsertConnection claims c.Key for c.ConnID; an error matching
	// domain.ErrMachineHeld means another connection holds the key.
	InsertConnection(ctx context.Context, c domain.Connection) error
	// GetConnection returns the claim on key, or an error matching domain.ErrNotFound.
	GetConnection(ctx context.Context, key domain.MachineKey) (domain.Connection, error)
	// DeleteConnection removes the claim on key only if connID still holds it,
	// and reports whether it did.
	DeleteConnection(ctx context.Context, key domain.MachineKey, connID string) (bool, error)
	// ListConnections lists the claims of one node, or of all nodes when nodeID is "".
	ListConnections(ctx context.Context, nodeID string) ([]domain.Connection, error)
}

// NodeStore keeps node leases, which decide whether a node's claims are live.
type NodeStore interface {
	// UpsertNode writes the node's record, renewing its lease.
	UpsertNode(ctx context.Context, n domain.Node) error
	// GetNode returns a node, or an error matching domain.ErrNotFound.
	GetNode(ctx context.Context, id string) (domain.Node, error)
	// ListNodes lists every node record, dead or alive.
	ListNodes(ctx context.Context) ([]domain.Node, error)
	// DeleteNode removes a node's record (its lease is released).
	DeleteNode(ctx context.Context, id string) error
}

// MachineStore keeps the latest state and content of every machine (machine_info).
type MachineStore interface {
	// GetMachine returns a machine, or an error matching domain.ErrNotFound.
	GetMachine(ctx context.Context, key domain.MachineKey) (domain.Machine, error)
	// MarkOnline records that key went online on nodeID at `at` (state online,
	// last_online_time, stakingtype; register_time when new) and returns the
	// record as it was before, with found=false for a machine never seen.
	MarkOnline(ctx context.Context, key domain.MachineKey, st domain.StakingType, nodeID string, at time.Time) (prev domain.Machine, found bool, err error)
	// MarkDisconnected records state disconnected and last_disconnect_time; a
	// non-zero lastReport is written as last_report_time too.
	MarkDisconnected(ctx context.Context, key domain.MachineKey, at, lastReport time.Time) error
	// SetShortTermInfo replaces the machine's deeplink_st content and last_report_time.
	SetShortTermInfo(ctx context.Context, key domain.MachineKey, info domain.ShortTermInfo, reportAt time.Time) error
	// SetBandwidthInfo replaces the machine's deeplink_bw content and last_report_time.
	SetBandwidthInfo(ctx context.Context, key domain.MachineKey, info domain.BandwidthInfo, reportAt time.Time) error
	// MarkDisconnectedBy records state disconnected at `at` only if the machine
	// is online on nodeID, and reports whether it did: a dead node's leftovers
	// are released without touching a machine that moved on.
	MarkDisconnectedBy(ctx context.Context, key domain.MachineKey, nodeID string, at time.Time) (bool, error)
	// MarkOffline flips the machine to offline (last_offline_time = at) only if
	// it is still disconnected since exactly `since`, and reports whether this
	// call made the change: with every node sweeping, exactly one wins.
	MarkOffline(ctx context.Context, key domain.MachineKey, since, at time.Time) (bool, error)
	// TouchLastReports raises last_report_time to at for every key of a
	// batch in one write (the once-a-minute refresh of many machines costs
	// one round trip, not one per machine); a machine holding a later time
	// keeps it, so a late batch never moves the field back, and an unknown
	// key is skipped, never created (a forgotten machine stays forgotten).
	TouchLastReports(ctx context.Context, keys []domain.MachineKey, at time.Time) error
	// ListMachines lists machines ordered by key.
	ListMachines(ctx context.Context, f domain.MachineFilter) ([]domain.Machine, error)
}

// LegacyStore reads and settles what the original node left in
// machine_info: documents without a presence state, and duplicate keys
// (its machine_info had no unique index).
type LegacyStore interface {
	// ListUnclassified lists up to limit machines whose record has no state
	// (0: no cap), ordered by key; the claim on each, if any, is read with
	// GetConnection.
	ListUnclassified(ctx context.Context, limit int) ([]domain.Machine, error)
	// ClassifyMachines writes each presence (state; last_disconnect_time
	// when disconnected; node_id when online) on a machine that still has
	// no state, and says how many it wrote: one another node classified or
	// brought online meanwhile is left alone.
	ClassifyMachines(ctx context.Context, ps []domain.LegacyPresence) (int, error)
}

// ReportStore keeps the append-only time series of reports (machine_tm).
type ReportStore interface {
	// AppendReports stores a batch; when it returns nil every report is durable.
	AppendReports(ctx context.Context, rs []domain.Report) error
	// ListReports returns key's reports with from <= timestamp < to, newest
	// first, at most limit (0: no cap). Zero from/to are open ends.
	ListReports(ctx context.Context, key domain.MachineKey, from, to time.Time, limit int) ([]domain.Report, error)
	// PruneReports deletes reports older than before and says how many went.
	PruneReports(ctx context.Context, before time.Time) (int64, error)
}

// Store is everything the node keeps; one adapter (Mongo, or the in-memory fake) implements it.
type Store interface {
	ConnectionStore
	NodeStore
	MachineStore
	LegacyStore
	LocationStore
	ReportStore
	PresenceStore
	OutboxStore
	MailboxStore
	QueryStore
	LeaseStore
	// Ping reports whether the store answers (readiness).
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close(ctx context.Context) error
}
