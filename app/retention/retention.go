// Package retention is the data cleaning use case: reports older than the
// retention period (on MongoDB the TTL index usually removed them already;
// on the embedded store this is the only expiry), outbox entries delivered
// or cancelled longer ago than theirs, and node commands no node took in
// time.
package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ddn/internal/periodic"
	"ddn/ports"
)

// CommandsKeep is how long a command waits for its node before it is
// removed (its node is gone: nodes take their commands every few seconds).
const CommandsKeep = time.Hour

// Store is what retention prunes.
type Store interface {
	PruneReports(ctx context.Context, before time.Time) (int64, error)
	PruneOutbox(ctx context.Context, before time.Time) (int64, error)
	PruneCommands(ctx context.Context, before time.Time) (int64, error)
}

// Result counts what one pass removed.
type Result struct {
	Reports, OutboxEntries, Commands int64
}

// Keep is how long each kind is kept; zero keeps it for ever.
type Keep struct {
	// Reports is for machine_tm (MongoDB.ExpireTime).
	Reports time.Duration
	// Outbox is for entries delivered or cancelled, and attempt claims.
	Outbox time.Duration
}

// Pass removes, once, what is older than its keep (commands: CommandsKeep)
// at the clock's now; each kind is pruned even when another fails.
func Pass(ctx context.Context, store Store, clock ports.Clock, keep Keep) (Result, error) {
	now := clock.Now()
	var r Result
	var errs []error
	var err error
	if keep.Reports > 0 {
		if r.Reports, err = store.PruneReports(ctx, now.Add(-keep.Reports)); err != nil {
			errs = append(errs, fmt.Errorf("retention: prune reports: %w", err))
		}
	}
	if keep.Outbox > 0 {
		if r.OutboxEntries, err = store.PruneOutbox(ctx, now.Add(-keep.Outbox)); err != nil {
			errs = append(errs, fmt.Errorf("retention: prune outbox: %w", err))
		}
	}
	if r.Commands, err = store.PruneCommands(ctx, now.Add(-CommandsKeep)); err != nil {
		errs = append(errs, fmt.Errorf("retention: prune node commands: %w", err))
	}
	return r, errors.Join(errs...)
}

// Run runs a Pass every interval until ctx ends and hands each result to
// observe; every <= 0 turns retention off.
func Run(ctx context.Context, store Store, clock ports.Clock, keep Keep, every time.Duration, observe func(Result, error)) {
	if every <= 0 {
		return
	}
	periodic.Run(ctx, every, func(ctx context.Context) {
		observe(Pass(ctx, store, clock, keep))
	})
}
