package memory

import (
	"context"
	"fmt"
	"time"
)

// ClaimLease implements ports.LeaseStore; leases share the claims table, so
// PruneOutbox removes old ones.
func (s *Store) ClaimLease(_ context.Context, name string, epoch int64, owner string) (bool, error) {
	if err := s.lock(); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	claim := fmt.Sprintf("lease|%s|%d", name, epoch)
	if holder, taken := s.claims[claim]; taken {
		return holder == owner, nil
	}
	s.claims[claim] = owner
	s.claimedAt[claim] = time.Now()
	return true, nil
}
