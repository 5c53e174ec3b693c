package prom

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	"go.uber.org/zap"

	"ddn/internal/periodic"
)

// Pusher sends the fleet and node metrics to a Pushgateway, for setups where
// Prometheus cannot reach the nodes. Each node pushes under its own
// grouping key (node), so nodes do not overwrite each other.
type Pusher struct {
	pusher *push.Pusher
	log    *zap.Logger
}

// NewPusher pushes the gatherers to url under job, grouped by node id.
func NewPusher(url, job, nodeID string, log *zap.Logger, gatherers ...prometheus.Gatherer) *Pusher {
	p := push.New(url, job).Grouping("node", nodeID)
	for _, g := range gatherers {
		p = p.Gatherer(g)
	}
	return &Pusher{pusher: p, log: log}
}

// Push sends once, replacing this node's group on the gateway.
func (p *Pusher) Push(ctx context.Context) error {
	if err := p.pusher.PushContext(ctx); err != nil {
		return fmt.Errorf("push metrics: %w", err)
	}
	return nil
}

// Run pushes every interval until ctx ends.
func (p *Pusher) Run(ctx context.Context, every time.Duration) {
	periodic.Run(ctx, every, func(ctx context.Context) {
		if err := p.Push(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("push to the Pushgateway failed; will retry", zap.Error(err))
		}
	})
}
