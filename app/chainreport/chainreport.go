// Package chainreport turns the node's durable side effects into chain
// transactions (DESIGN.md, "Integrations"): an online of a registered
// machine not yet online on chain reports online, an offline of a machine
// online on chain reports offline, a machine's first short-term and
// bandwidth infos set its machine info. It is the outbox's "chain" target.
package chainreport

import (
	"context"
	"errors"
	"fmt"

	"ddn/domain"
	"ddn/ports"
)

// Target is the outbox target name of the chain.
const Target = "chain"

// Deliverer maps events onto chain calls; retries are the outbox's.
type Deliverer struct {
	chain ports.Chain
	// machines, when set, lets a late presence report see that the machine
	// moved on (an online delivered after a later offline is stale).
	machines ports.MachineStore
	// OnSkip observes an event that needed no transaction (the chain
	// already agrees), for logs.
	OnSkip func(e domain.Event, why string)
}

var _ ports.Deliverer = (*Deliverer)(nil)

// New returns the chain target over a configured chain.
func New(chain ports.Chain) *Deliverer { return &Deliverer{chain: chain} }

// WithMachines makes presence reports that were overtaken by a later
// transition (retries can reorder deliveries) be skipped.
func (d *Deliverer) WithMachines(m ports.MachineStore) *Deliverer {
	d.machines = m
	return d
}

// overtaken tells whether the machine's presence changed after e.
func (d *Deliverer) overtaken(ctx context.Context, e domain.Event) (bool, error) {
	return overtaken(ctx, d.machines, e)
}

// overtaken tells whether the machine's presence changed after e (false
// without a store to read).
func overtaken(ctx context.Context, machines ports.MachineStore, e domain.Event) (bool, error) {
	if machines == nil {
		return false, nil
	}
	m, err := machines.GetMachine(ctx, e.Key)
	if errors.Is(err, domain.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("chain %s of %s: read machine: %w: %w", e.Kind, e.Key, domain.ErrStore, err)
	}
	if e.Kind == domain.EventOnline {
		return m.LastOfflineTime.After(e.At), nil
	}
	return m.LastOnlineTime.After(e.At), nil
}

// Deliver implements ports.Deliverer. Online and offline read the chain
// first, so a retry after a transaction that landed (but whose receipt was
// not seen) does not report twice. An event that needs no transaction
// answers an error matching domain.ErrNoEffect.
func (d *Deliverer) Deliver(ctx context.Context, e domain.Event) error {
	if tp, ok := commandTypes[e.Kind]; ok {
		return d.deliverCommand(ctx, e, tp)
	}
	switch e.Kind {
	case domain.EventOnline, domain.EventOffline:
		if late, err := d.overtaken(ctx, e); err != nil || late {
			if late {
				return d.skip(e, "overtaken by a later presence change")
			}
			return err
		}
		st, err := d.chain.MachineState(ctx, e.Key, e.StakingType)
		if err != nil {
			return fmt.Errorf("chain %s of %s: read machine state: %w: %w", e.Kind, e.Key, domain.ErrChain, err)
		}
		tp, why := domain.ReportMachineOnline, ""
		switch {
		case !st.Registered:
			why = "machine not registered on chain"
		case e.Kind == domain.EventOnline && st.Online:
			why = "already online on chain"
		case e.Kind == domain.EventOffline && !st.Online:
			why = "not online on chain"
		}
		if e.Kind == domain.EventOffline {
			tp = domain.ReportMachineOffline
		}
		if why != "" {
			return d.skip(e, why)
		}
		if err := d.chain.Report(ctx, tp, e.Key, e.StakingType); err != nil {
			return fmt.Errorf("chain report %s of %s: %w: %w", e.Kind, e.Key, domain.ErrChain, err)
		}
	case domain.EventShortTermInfo:
		if e.ShortTerm == nil {
			return nil
		}
		if err := d.chain.SetMachineInfo(ctx, e.Key.MachineID, domain.NewChainMachineInfo(e.Key, *e.ShortTerm)); err != nil {
			return fmt.Errorf("chain set machine info of %s: %w: %w", e.Key, domain.ErrChain, err)
		}
	case domain.EventBandwidthInfo:
		if e.Bandwidth == nil {
			return nil
		}
		if err := d.chain.SetBandwidthInfo(ctx, e.Key.MachineID, domain.NewChainBandwidthInfo(e.Key, *e.Bandwidth)); err != nil {
			return fmt.Errorf("chain set bandwidth info of %s: %w: %w", e.Key, domain.ErrChain, err)
		}
	}
	return nil
}

// skip settles e without a transaction: the error matches
// domain.ErrNoEffect, so the outbox counts the chain as done and the
// targets that follow it (the webhook) are not called either.
func (d *Deliverer) skip(e domain.Event, why string) error {
	if d.OnSkip != nil {
		d.OnSkip(e, why)
	}
	return fmt.Errorf("chain %s of %s: %s: %w", e.Kind, e.Key, why, domain.ErrNoEffect)
}
