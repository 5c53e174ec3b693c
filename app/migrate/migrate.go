// Package migrate brings a database the original node wrote into the shape
// the node's rules need, once, at startup: machine_info documents without a
// presence state get one (domain.ClassifyLegacy), so the grace rules and
// the sweeper apply to them. It is idempotent and safe to run on several
// nodes at once: a machine is classified only while it has no state.
package migrate

import (
	"context"
	"fmt"

	"ddn/domain"
	"ddn/ports"
)

// Result counts what a classification did.
type Result struct {
	Online, Disconnected, Offline int
}

// Total is the number of machines classified.
func (r Result) Total() int { return r.Online + r.Disconnected + r.Offline }

// pageSize bounds one read and one bulk write.
const pageSize = 500

// Classify gives every machine without a state its presence as of now.
func Classify(ctx context.Context, store ports.Store, clock ports.Clock) (Result, error) {
	var res Result
	now := clock.Now()
	conns, err := store.ListConnections(ctx, "")
	if err != nil {
		return res, fmt.Errorf("classify machines without a state: read the claims: %w: %w", domain.ErrStore, err)
	}
	claims := make(map[domain.MachineKey]domain.Connection, len(conns))
	for _, c := range conns {
		claims[c.Key] = c
	}
	var after *domain.MachineKey
	for {
		page, err := store.ListUnclassified(ctx, pageSize)
		if err != nil {
			return res, fmt.Errorf("classify machines without a state: %w: %w", domain.ErrStore, err)
		}
		ps := make([]domain.LegacyPresence, 0, len(page))
		for _, m := range page {
			c, claimed := claims[m.Key]
			ps = append(ps, domain.ClassifyLegacy(m, claimed, c.NodeID, now))
		}
		n, err := store.ClassifyMachines(ctx, ps)
		if err != nil {
			return res, fmt.Errorf("classify %d machines without a state: %w: %w", len(ps), domain.ErrStore, err)
		}
		for _, p := range ps {
			switch p.State {
			case domain.StateOnline:
				res.Online++
			case domain.StateDisconnected:
				res.Disconnected++
			case domain.StateOffline:
				res.Offline++
			}
		}
		if len(page) < pageSize {
			return res, nil
		}
		// A full page that classified nothing would be read again forever
		// (a store that cannot write the state): stop there.
		last := page[len(page)-1].Key
		if n == 0 || (after != nil && *after == last) {
			return res, fmt.Errorf("classify machines without a state: %d listed, none written: %w", len(page), domain.ErrStore)
		}
		after = &last
	}
}
