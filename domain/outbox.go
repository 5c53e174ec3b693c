package domain

import "time"

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
	// transition twice fails with ErrDuplicate.
	ID    string
	Event Event
	// Targets are the sinks to deliver to; Delivered those that have it.
	Targets   []string
	Delivered []string
	// Skipped are the targets settled without any call: the target said
	// there was nothing to do (ErrNoEffect), or the target it
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
