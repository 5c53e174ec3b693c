package session

import (
	"context"
	"fmt"

	"ddn/domain"
)

// checkRegistered asks the chain, when one is configured, whether the
// machine may go online: unknown to the chain is domain.ErrNotRegistered
// (code 5), a chain that cannot be read is domain.ErrChain (code 7).
func (s *Service) checkRegistered(ctx context.Context, req domain.OnlineRequest) error {
	if s.cfg.Registry == nil {
		return nil
	}
	st, err := s.cfg.Registry.MachineState(ctx, req.Key, req.StakingType)
	if err != nil {
		return fmt.Errorf("online %s: read machine state: %w: %w", req.Key, domain.ErrChain, err)
	}
	if !st.Registered {
		return fmt.Errorf("online %s: %w", req.Key, domain.ErrNotRegistered)
	}
	return nil
}
