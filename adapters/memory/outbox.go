package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"ddn/domain"
	"ddn/ports"
)

func cloneEntry(e ports.OutboxEntry) ports.OutboxEntry {
	e.Targets = slices.Clone(e.Targets)
	e.Delivered = slices.Clone(e.Delivered)
	return e
}

// InsertOutbox implements ports.OutboxStore.
func (s *Store) InsertOutbox(_ context.Context, e ports.OutboxEntry) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.outbox[e.ID]; ok {
		return fmt.Errorf("outbox entry %s: %w", e.ID, domain.ErrDuplicate)
	}
	s.outbox[e.ID] = cloneEntry(e)
	s.outboxOrder = append(s.outboxOrder, e.ID)
	return nil
}

// GetOutbox implements ports.OutboxStore.
func (s *Store) GetOutbox(_ context.Context, id string) (ports.OutboxEntry, error) {
	if err := s.lock(); err != nil {
		return ports.OutboxEntry{}, err
	}
	defer s.mu.Unlock()
	e, ok := s.outbox[id]
	if !ok {
		return ports.OutboxEntry{}, fmt.Errorf("outbox entry %s: %w", id, domain.ErrNotFound)
	}
	return cloneEntry(e), nil
}

// UpdateOutbox implements ports.OutboxStore.
func (s *Store) UpdateOutbox(_ context.Context, e ports.OutboxEntry) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.outbox[e.ID]; !ok {
		return fmt.Errorf("outbox entry %s: %w", e.ID, domain.ErrNotFound)
	}
	s.outbox[e.ID] = cloneEntry(e)
	return nil
}

// ListOutbox implements ports.OutboxStore.
func (s *Store) ListOutbox(_ context.Context, f ports.OutboxFilter) ([]ports.OutboxEntry, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []ports.OutboxEntry
	for _, id := range s.outboxOrder {
		e := s.outbox[id]
		if f.Status == "" || e.Status == f.Status {
			out = append(out, cloneEntry(e))
		}
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

// DueOutbox implements ports.OutboxStore.
func (s *Store) DueOutbox(_ context.Context, now time.Time, limit int) ([]ports.OutboxEntry, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []ports.OutboxEntry
	for _, id := range s.outboxOrder {
		e := s.outbox[id]
		if e.Status == ports.OutboxReady && !e.NextAttemptAt.After(now) {
			out = append(out, cloneEntry(e))
		}
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

// ClaimOutbox implements ports.OutboxStore.
func (s *Store) ClaimOutbox(_ context.Context, id string, attempt int, epoch int64, owner string) (bool, error) {
	if err := s.lock(); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	claim := fmt.Sprintf("%s|%d|%d", id, attempt, epoch)
	if _, taken := s.claims[claim]; taken {
		return false, nil
	}
	s.claims[claim] = owner
	s.claimedAt[claim] = time.Now()
	return true, nil
}

// CountOutbox implements ports.OutboxStore.
func (s *Store) CountOutbox(context.Context) (map[ports.OutboxStatus]int64, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := map[ports.OutboxStatus]int64{}
	for _, e := range s.outbox {
		out[e.Status]++
	}
	return out, nil
}

// PruneOutbox implements ports.OutboxStore.
func (s *Store) PruneOutbox(_ context.Context, before time.Time) (int64, error) {
	if err := s.lock(); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	var n int64
	kept := s.outboxOrder[:0]
	for _, id := range s.outboxOrder {
		e := s.outbox[id]
		if (e.Status == ports.OutboxDone || e.Status == ports.OutboxCancelled) && e.DoneAt.Before(before) {
			delete(s.outbox, id)
			n++
			continue
		}
		kept = append(kept, id)
	}
	s.outboxOrder = kept
	for claim, at := range s.claimedAt {
		if at.Before(before) {
			delete(s.claims, claim)
			delete(s.claimedAt, claim)
		}
	}
	return n, nil
}
