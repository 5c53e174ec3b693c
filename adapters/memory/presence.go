package memory

import (
	"context"
	"slices"
	"time"

	"ddn/domain"
)

// maxPresenceChanges caps one machine's history, as the Mongo adapter does.
const maxPresenceChanges = 10000

// recordPresence appends a change to key's history, its newest
// maxPresenceChanges kept; the caller holds s.mu.
func (s *Store) recordPresence(key domain.MachineKey, at time.Time, st domain.State, reason domain.OutageReason, nodeID string) {
	h := append(s.presence[key], domain.PresenceChange{Key: key, At: at, State: st, Reason: reason, NodeID: nodeID})
	if len(h) > maxPresenceChanges {
		h = slices.Clone(h[len(h)-maxPresenceChanges:])
	}
	s.presence[key] = h
}

// prunePresence drops changes older than before; the caller holds s.mu.
func (s *Store) prunePresence(before time.Time) {
	for key, hist := range s.presence {
		kept := slices.DeleteFunc(hist, func(c domain.PresenceChange) bool { return c.At.Before(before) })
		if len(kept) == 0 {
			delete(s.presence, key)
			continue
		}
		s.presence[key] = kept
	}
}

// ListPresence implements ports.PresenceStore.
func (s *Store) ListPresence(_ context.Context, key domain.MachineKey, before time.Time) ([]domain.PresenceChange, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []domain.PresenceChange
	for _, c := range s.presence[key] {
		if before.IsZero() || c.At.Before(before) {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b domain.PresenceChange) int { return a.At.Compare(b.At) })
	return out, nil
}
