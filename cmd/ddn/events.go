package main

import (
	"context"

	"go.uber.org/zap"

	"ddn/domain"
)

// logEvents is the event sink until the outbox lands: every presence change
// and stored machine info is logged, nothing is delivered elsewhere.
type logEvents struct{ log *zap.Logger }

// Publish implements ports.EventSink.
func (l logEvents) Publish(_ context.Context, e domain.Event) error {
	l.log.Info("machine event", zap.String("event", string(e.Kind)), zap.Stringer("machine", e.Key),
		zap.Uint8("staking_type", uint8(e.StakingType)), zap.String("previous", string(e.Previous)), zap.Time("at", e.At))
	return nil
}

// logDelivery is the outbox target until the chain and webhook adapters
// land: delivering a side effect means logging it.
type logDelivery struct{ log *zap.Logger }

// Deliver implements ports.Deliverer.
func (l logDelivery) Deliver(_ context.Context, e domain.Event) error {
	l.log.Info("side effect delivered", zap.String("target", "log"), zap.String("event", string(e.Kind)),
		zap.Stringer("machine", e.Key), zap.Time("at", e.At))
	return nil
}
