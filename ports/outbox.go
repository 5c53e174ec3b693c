package ports

import (
	"context"
	"time"

	"ddn/domain"
)

// OutboxStatus is where an outbox entry is in its life.
type OutboxStatus string

// Outbox statuses.
const (
	// OutboxPending: recorded, its state change not yet confirmed.
	OutboxPending OutboxStatus = "pending"
	// OutboxReady: due for delivery.
	OutboxReady OutboxStatus = "ready"
	// OutboxDone: delivered to every target.
	OutboxDone OutboxStatus = "done"
	// OutboxDead: gave up after the maximum number of attempts.
	OutboxDead OutboxStatus = "dead"
	// OutboxCancelled: the state change it describes did not happen.
	OutboxCancelled OutboxStatus = "cancelled"
)

// OutboxEntry is a side effect of a presence transition, kept until every
// target has it.
type OutboxEntry struct {
	// ID names the transition (kind, machine, time); recording the same
	// transition twice fails with domain.ErrDuplicate.
	ID    string
	Event domain.Event
	// Targets are the sinks to deliver to; Delivered those that have it.
	Targets   []string
	Delivered []string
	// Skipped are the targets settled without any call: the target said
	// there was nothing to do (domain.ErrNoEffect), or the target it
	// follows did.
	Skipped []string
	// GaveUp are the targets given up on while the targets following them
	// went on regardless (the chain's failed penalty, the webhook told).
	GaveUp    []string
	Status    OutboxStatus
	Attempts  int
	CreatedAt time.Time
	// NextAttemptAt is when a ready entry is due.
	NextAttemptAt time.Time
	DoneAt        time.Time
	LastError     string
}

// OutboxFilter narrows ListOutbox; zero fields match everything.
type OutboxFilter struct {
	Status OutboxStatus
	Limit  int
}

// OutboxStore keeps the outbox (collection `outbox`).
type OutboxStore interface {
	// InsertOutbox records a new entry; an existing ID gives domain.ErrDuplicate.
	InsertOutbox(ctx context.Context, e OutboxEntry) error
	// GetOutbox returns one entry or domain.ErrNotFound.
	GetOutbox(ctx context.Context, id string) (OutboxEntry, error)
	// UpdateOutbox writes an entry's status, delivery and retry fields.
	UpdateOutbox(ctx context.Context, e OutboxEntry) error
	// ListOutbox lists entries oldest first.
	ListOutbox(ctx context.Context, f OutboxFilter) ([]OutboxEntry, error)
	// DueOutbox lists ready entries with NextAttemptAt <= now, oldest first.
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxEntry, error)
	// ClaimOutbox makes owner the only node to run one attempt of an entry
	// (attempt and epoch name it) and reports whether it won.
	ClaimOutbox(ctx context.Context, id string, attempt int, epoch int64, owner string) (bool, error)
	// CountOutbox counts entries by status.
	CountOutbox(ctx context.Context) (map[OutboxStatus]int64, error)
	// PruneOutbox deletes entries done or cancelled before `before` (dead
	// ones stay for an operator), and attempt claims made before it; it says
	// how many entries went.
	PruneOutbox(ctx context.Context, before time.Time) (int64, error)
}

// Deliverer hands an event to one target (chain, webhook, log); an error
// means try again later.
type Deliverer interface {
	Deliver(ctx context.Context, e domain.Event) error
}

// Effects records the side effects of a transition with it (the outbox):
// Record before the state change (domain.ErrDuplicate: another node owns
// the transition), then Confirm once it happened or Cancel if it did not.
type Effects interface {
	Record(ctx context.Context, e domain.Event) (OutboxEntry, error)
	Confirm(ctx context.Context, entry OutboxEntry) error
	Cancel(ctx context.Context, entry OutboxEntry) error
}
