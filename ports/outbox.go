package ports

import (
	"context"
	"time"

	"ddn/domain"
)

// OutboxStore keeps the outbox (collection `outbox`).
type OutboxStore interface {
	// InsertOutbox records a new entry; an existing ID gives domain.ErrDuplicate.
	InsertOutbox(ctx context.Context, e domain.OutboxEntry) error
	// GetOutbox returns one entry or domain.ErrNotFound.
	GetOutbox(ctx context.Context, id string) (domain.OutboxEntry, error)
	// UpdateOutbox writes an entry's status, delivery and retry fields.
	UpdateOutbox(ctx context.Context, e domain.OutboxEntry) error
	// ListOutbox lists entries oldest first.
	ListOutbox(ctx context.Context, f domain.OutboxFilter) ([]domain.OutboxEntry, error)
	// DueOutbox lists ready entries with NextAttemptAt <= now, oldest first.
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]domain.OutboxEntry, error)
	// ClaimOutbox makes owner the only node to run one try of an entry
	// (attempt and round name it; the caller derives round from the entry)
	// and reports whether it won: the first claim of (id, attempt, round)
	// wins, no later one, the same owner's neither.
	ClaimOutbox(ctx context.Context, id string, attempt int, round int64, owner string) (bool, error)
	// CountOutbox counts entries by status.
	CountOutbox(ctx context.Context) (map[domain.OutboxStatus]int64, error)
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
	Record(ctx context.Context, e domain.Event) (domain.OutboxEntry, error)
	Confirm(ctx context.Context, entry domain.OutboxEntry) error
	Cancel(ctx context.Context, entry domain.OutboxEntry) error
}
