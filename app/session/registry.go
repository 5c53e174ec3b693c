package session

import (
	"context"
	"fmt"
	"time"

	"ddn/app/transition"
	"ddn/domain"
)

// checkRegistered asks the chain, when one is configured, whether the
// machine may go online: unknown to the chain is domain.ErrNotRegistered
// (code 5), a chain that cannot be read is domain.ErrChain (code 7).
func (s *Service) checkRegistered(ctx context.Context, req domain.OnlineRequest) (domain.ChainState, error) {
	if s.cfg.Registry == nil {
		return domain.ChainState{Registered: true}, nil
	}
	st, err := s.cfg.Registry.MachineState(ctx, req.Key, req.StakingType)
	if err != nil {
		return st, fmt.Errorf("online %s: read machine state: %w: %w", req.Key, domain.ErrChain, err)
	}
	if !st.Registered {
		return st, fmt.Errorf("online %s: %w", req.Key, domain.ErrNotRegistered)
	}
	return st, nil
}

// catchUpChain queues an online report for a machine that reconnected (no
// presence transition, so no online side effects) while the chain does not
// show it online: a registered machine not online on chain is reported
// online on every online request. It is a chain-only command, so the
// webhook does not see a transition that did not happen.
func (s *Service) catchUpChain(ctx context.Context, req domain.OnlineRequest, st domain.ChainState, now time.Time) {
	if s.cfg.Registry == nil || st.Online || s.cfg.Effects == nil {
		return
	}
	e := domain.Event{Kind: domain.EventChainOnline, Key: req.Key, StakingType: req.StakingType, NodeID: s.cfg.NodeID, At: now}
	if _, err := transition.Apply(ctx, s.cfg.Effects, e, nil); err != nil && s.OnError != nil {
		s.OnError("queue online report for a machine the chain shows offline", fmt.Errorf("machine %s: %w", req.Key, err))
	}
}
