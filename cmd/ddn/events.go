package main

import (
	"context"

	"go.uber.org/zap"

	"ddn/domain"
)

// logTransitions logs every presence change and stored machine info (the
// session service's and the sweeper's observer).
func logTransitions(log *zap.Logger) func(domain.Event) {
	return func(e domain.Event) {
		log.Info("machine event", zap.String("event", string(e.Kind)), zap.Stringer("machine", e.Key),
			zap.Uint8("staking_type", uint8(e.StakingType)), zap.String("previous", string(e.Previous)), zap.Time("at", e.At))
	}
}

// logDelivery is the outbox's log target: delivering a side effect means
// logging it.
type logDelivery struct{ log *zap.Logger }

// Deliver implements ports.Deliverer.
func (l logDelivery) Deliver(_ context.Context, e domain.Event) error {
	l.log.Info("side effect delivered", zap.String("target", "log"), zap.String("event", string(e.Kind)),
		zap.Stringer("machine", e.Key), zap.Time("at", e.At))
	return nil
}
