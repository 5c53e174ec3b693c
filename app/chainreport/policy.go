package chainreport

import (
	"context"
	"errors"
	"fmt"

	"ddn/domain"
	"ddn/ports"
)

// OfflineGate passes an offline event on to its target only when the
// offline policy reports the machine (Chain.OfflineReport): by default,
// the original node's rule, only machines that were scored. Any other
// event passes unchanged. The machine is read when the event is
// delivered; a machine's content does not change while it is away.
type OfflineGate struct {
	Next     ports.Deliverer
	Machines ports.MachineStore
	Policy   domain.OfflineReportPolicy
}

var _ ports.Deliverer = OfflineGate{}

// Deliver implements ports.Deliverer; an offline the policy does not
// report answers an error matching domain.ErrNoEffect.
func (g OfflineGate) Deliver(ctx context.Context, e domain.Event) error {
	if e.Kind == domain.EventOffline {
		ok, err := g.reports(ctx, e.Key)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("offline of %s: not reported under the %q offline policy: %w", e.Key, g.policy(), domain.ErrNoEffect)
		}
	}
	return g.Next.Deliver(ctx, e)
}

func (g OfflineGate) policy() domain.OfflineReportPolicy {
	if g.Policy == "" {
		return domain.OfflineReportScored
	}
	return g.Policy
}

func (g OfflineGate) reports(ctx context.Context, key domain.MachineKey) (bool, error) {
	switch p := g.policy(); p {
	case domain.OfflineReportAll, domain.OfflineReportNone:
		return p.Reports(domain.Machine{}), nil
	}
	m, err := g.Machines.GetMachine(ctx, key)
	if errors.Is(err, domain.ErrNotFound) {
		return false, nil // forgotten since: nothing was scored
	}
	if err != nil {
		return false, fmt.Errorf("offline of %s: read machine: %w: %w", key, domain.ErrStore, err)
	}
	return g.policy().Reports(m), nil
}
