package session

import (
	"context"
	"fmt"

	"ddn/domain"
)

// writeSlot waits for one of Config.MaxConcurrentWrites slots and returns
// the function that gives it back. A store that serializes its writes (the
// embedded one) answers a storm of onlines sooner when they queue here than
// when hundreds of them wait inside the store, each against its own
// operation timeout, and time out with code 4.
func (s *Service) writeSlot(ctx context.Context, what string) (func(), error) {
	if s.writes == nil {
		return func() {}, nil
	}
	select {
	case s.writes <- struct{}{}:
		return func() { <-s.writes }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: waiting for a store write slot: %w: %w", what, domain.ErrStore, ctx.Err())
	}
}
