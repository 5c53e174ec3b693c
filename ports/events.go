package ports

import (
	"context"

	"ddn/domain"
)

// EventSink receives domain events after the change they describe is stored
// (logging today; the cluster outbox, chain and webhook later).
type EventSink interface {
	Publish(ctx context.Context, e domain.Event) error
}
