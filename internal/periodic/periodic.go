// Package periodic runs the node's background passes (sweeping, outbox
// delivery, lease renewal, retention) on one loop shape, so each is owned by
// a context and stops with it.
package periodic

import (
	"context"
	"time"
)

// Run calls pass every interval until ctx ends; a pass that is running when
// ctx ends is allowed to finish.
func Run(ctx context.Context, every time.Duration, pass func(context.Context)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pass(ctx)
		}
	}
}
