package session

import (
	"context"
	"time"

	"ddn/domain"
	"ddn/internal/periodic"
)

// DefaultInfoRequestInterval is how often the current original asks
// connected machines without a scored short-term info for it (2 minutes).
const DefaultInfoRequestInterval = 2 * time.Minute

// InfoRequester sends the type-5 "request machine info" message to the
// connection of this node bound to key; false when there is none.
type InfoRequester interface {
	RequestInfo(ctx context.Context, key domain.MachineKey) bool
}

// RequestMissingInfo sends a type-5 request to every connection of this
// node whose machine's short-term info was never scored (none, or calc
// point 0), as the current original does, and says how many were asked.
func (s *Service) RequestMissingInfo(ctx context.Context, to InfoRequester) int {
	s.mu.Lock()
	var keys []domain.MachineKey
	for connID, b := range s.bound {
		if ss, ok := s.live[connID]; ok && !ss.scored.Load() {
			keys = append(keys, b.key)
		}
	}
	s.mu.Unlock()
	asked := 0
	for _, k := range keys {
		if ctx.Err() != nil {
			break
		}
		if to.RequestInfo(ctx, k) {
			asked++
		}
	}
	return asked
}

// RunInfoRequests calls RequestMissingInfo every interval of the service's
// clock until ctx ends (the clock is looked at every second, or every
// interval when that is shorter); observe, when set, sees how many
// machines each pass asked.
func (s *Service) RunInfoRequests(ctx context.Context, every time.Duration, to InfoRequester, observe func(asked int)) {
	next := s.startedAt.Add(every) // counted from the node's start
	periodic.Run(ctx, min(every, time.Second), func(ctx context.Context) {
		now := s.clock.Now()
		if now.Before(next) {
			return
		}
		next = now.Add(every)
		n := s.RequestMissingInfo(ctx, to)
		if observe != nil {
			observe(n)
		}
	})
}
