package memory

import (
	"context"
	"time"

	"ddn/domain"
)

// SendCommand implements ports.MailboxStore.
func (s *Store) SendCommand(_ context.Context, c domain.Command) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	c.Body = append([]byte(nil), c.Body...)
	s.mailbox = append(s.mailbox, c)
	return nil
}

// TakeCommands implements ports.MailboxStore.
func (s *Store) TakeCommands(_ context.Context, nodeID string) ([]domain.Command, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var mine []domain.Command
	kept := s.mailbox[:0]
	for _, c := range s.mailbox {
		if c.NodeID == nodeID {
			mine = append(mine, c)
		} else {
			kept = append(kept, c)
		}
	}
	s.mailbox = kept
	return mine, nil
}

// PruneCommands implements ports.MailboxStore.
func (s *Store) PruneCommands(_ context.Context, before time.Time) (int64, error) {
	if err := s.lock(); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	kept := s.mailbox[:0]
	for _, c := range s.mailbox {
		if !c.CreatedAt.Before(before) {
			kept = append(kept, c)
		}
	}
	n := int64(len(s.mailbox) - len(kept))
	s.mailbox = kept
	return n, nil
}
