// Package transition is the one way a use case changes state that owes side
// effects: record the effects (the outbox), make the change, then confirm
// them or cancel them, so a node that stops halfway leaves an entry that
// recovery settles from the store.
package transition

import (
	"context"
	"errors"
	"fmt"

	"ddn/domain"
	"ddn/ports"
)

// Outcome is what a change tells Apply about the transition it attempted.
type Outcome int

// Outcomes of a change.
const (
	// Happened: the transition is in the store; its effects are confirmed.
	Happened Outcome = iota
	// DidNot: the transition did not happen (lost a race, refused, or a
	// write known to have failed); its effects are cancelled.
	DidNot
	// Unknown: a write whose answer was lost may or may not have happened;
	// the effects stay pending and the outbox's recovery reads the store
	// and settles them.
	Unknown
)

// ErrUnsettled wraps a failure to confirm or cancel: the change is done (or
// not) as Apply says, and the entry stays pending until recovery settles it.
var ErrUnsettled = errors.New("side effects not settled (recovery will settle them)")

// Apply records e's side effects in fx (nil: none are owed), runs change and
// settles the record by the outcome. A Record error, domain.ErrDuplicate
// among them (another node owns the transition), is returned before change
// runs; a change error is returned as is, after the record is settled by
// its outcome; a settling error is returned wrapped in ErrUnsettled. change
// may be nil: a command whose effects are the whole transition.
func Apply(ctx context.Context, fx ports.Effects, e domain.Event, change func(context.Context) (Outcome, error)) (domain.OutboxEntry, error) {
	var entry domain.OutboxEntry
	if fx != nil {
		var err error
		if entry, err = fx.Record(ctx, e); err != nil {
			return entry, fmt.Errorf("record %s side effects of %s: %w", e.Kind, e.Key, err)
		}
	}
	outcome, errChange := Happened, error(nil)
	if change != nil {
		outcome, errChange = change(ctx)
	}
	if fx == nil || outcome == Unknown {
		return entry, errChange
	}
	settle, what := fx.Confirm, "confirm"
	if outcome == DidNot {
		// The change may have failed because ctx ended; the record must
		// still be cancelled.
		settle, what = fx.Cancel, "cancel"
		ctx = context.WithoutCancel(ctx)
	}
	if err := settle(ctx, entry); err != nil {
		return entry, errors.Join(errChange, fmt.Errorf("%s %s side effects of %s: %w: %w", what, e.Kind, e.Key, ErrUnsettled, err))
	}
	return entry, errChange
}
