package chainreport

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"ddn/domain"
	"ddn/ports"
)

// DefaultRentRecheck is how long after an offline a machine found not
// rented is asked again (the current original's minute).
const DefaultRentRecheck = time.Minute

// Penalty is the chain target under the current original's offline rules,
// used when Chain.RentContract or Chain.FreeRentalContract is configured:
// an offline costs a penalty only where one is owed. A machine registered
// on the FreeRental contract gets notify(4) while it is rented; any other
// machine gets report(4) while the Rent contract says it is rented (without
// a Rent contract, the 2025 rule of Next). Before either, the backend is
// asked whether the offline is false (Guard). A machine found not rented
// is asked again RecheckAfter later. A read that fails costs no penalty:
// better miss one than punish wrongly. Every other event goes to Next.
type Penalty struct {
	// Next delivers every other event, and offlines when no Rent contract
	// is configured (OfflineGate over the Deliverer: the 2025 rule).
	Next ports.Deliverer
	// State reads the report contract, Reporter sends report(4).
	State    ports.ChainRegistry
	Reporter ports.TxReporter
	// Rent and FreeRental are the contracts; nil when not configured.
	Rent       ports.RentRegistry
	FreeRental ports.FreeRental
	// Guard, when set, is asked before a penalty for machines of
	// GuardProjects ("*": every project).
	Guard         ports.OfflineGuard
	GuardProjects []string
	// Later records the re-check RecheckAfter (DefaultRentRecheck) from
	// Clock's now (nil: from the offline's time).
	Later        ports.Scheduler
	RecheckAfter time.Duration
	Clock        ports.Clock
	// Machines lets an offline overtaken by a later online be skipped.
	Machines ports.MachineStore
	// Policy "none" sends no penalty at all.
	Policy domain.OfflineReportPolicy
	// OnDecision observes why an offline got no penalty, for logs; err is
	// the read that failed, if any.
	OnDecision func(e domain.Event, why string, err error)
}

var (
	_ ports.Deliverer   = (*Penalty)(nil)
	_ ports.TxDeliverer = (*Penalty)(nil)
)

// Deliver implements ports.Deliverer.
func (p *Penalty) Deliver(ctx context.Context, e domain.Event) error {
	_, err := p.DeliverTx(ctx, e)
	return err
}

// DeliverTx implements ports.TxDeliverer: the hash is that of the penalty
// transaction sent, empty when none was. An offline that gets no penalty
// answers nil (the webhook is still told, without a hash), except when the
// guard says it is false or it was overtaken (domain.ErrNoEffect: nobody
// is told).
func (p *Penalty) DeliverTx(ctx context.Context, e domain.Event) (string, error) {
	switch e.Kind {
	case domain.EventOffline:
		return p.offline(ctx, e)
	case domain.EventOfflineRentCheck:
		return p.recheck(ctx, e)
	}
	return "", p.Next.Deliver(ctx, e)
}

func (p *Penalty) offline(ctx context.Context, e domain.Event) (string, error) {
	if late, err := overtaken(ctx, p.Machines, e); err != nil || late {
		if late {
			return "", p.skip(e, "overtaken by a later online", nil)
		}
		return "", err
	}
	if p.Policy == domain.OfflineReportNone {
		return "", p.none(e, "Chain.OfflineReport is none", nil)
	}
	if p.FreeRental != nil {
		registered, err := p.FreeRental.FreeRentalRegistered(ctx, e.Key.MachineID)
		if err != nil {
			return "", p.none(e, "FreeRental machines() could not be read: no penalty", err)
		}
		if registered {
			return p.freeRental(ctx, e)
		}
	}
	if p.Rent == nil {
		return "", p.Next.Deliver(ctx, e)
	}
	rented, err := p.Rent.IsRented(ctx, e.Key.MachineID)
	if err == nil && rented {
		return p.report(ctx, e)
	}
	if serr := p.scheduleRecheck(ctx, e); serr != nil {
		return "", serr
	}
	if err != nil {
		return "", p.none(e, "isRented could not be read: no penalty (asked again later)", err)
	}
	return "", p.none(e, "not rented: no penalty (asked again later)", nil)
}

// recheck is the second look at an offline machine that was not rented.
func (p *Penalty) recheck(ctx context.Context, e domain.Event) (string, error) {
	if late, err := overtaken(ctx, p.Machines, e); err != nil || late {
		if late {
			return "", p.skip(e, "back online since", nil)
		}
		return "", err
	}
	if p.Rent == nil {
		return "", p.skip(e, "no Rent contract configured", nil)
	}
	rented, err := p.Rent.IsRented(ctx, e.Key.MachineID)
	if err != nil {
		return "", p.skip(e, "isRented could not be read on the re-check: no penalty", err)
	}
	if !rented {
		return "", p.skip(e, "still not rented on the re-check", nil)
	}
	hash, err := p.report(ctx, e)
	if err == nil && hash == "" {
		// Nothing was sent: the webhook heard of the offline already.
		return "", fmt.Errorf("offline re-check of %s: no transaction: %w", e.Key, domain.ErrNoEffect)
	}
	return hash, err
}

// report sends report(4) for a rented machine unless the chain shows it
// registered and offline already (a retry after a transaction whose
// receipt was missed) or the guard says the offline is false.
func (p *Penalty) report(ctx context.Context, e domain.Event) (string, error) {
	st, err := p.State.MachineState(ctx, e.Key, e.StakingType)
	if err != nil {
		return "", fmt.Errorf("chain offline of %s: read machine state: %w: %w", e.Key, domain.ErrChain, err)
	}
	if st.Registered && !st.Online {
		return "", p.none(e, "not online on chain", nil)
	}
	if p.falseOffline(ctx, e) {
		return "", p.skip(e, "the backend says the machine is online (false_offline_guard): no penalty", nil)
	}
	hash, err := p.Reporter.ReportTx(ctx, domain.ReportMachineOffline, e.Key, e.StakingType)
	if err != nil {
		return "", fmt.Errorf("chain report offline of %s: %w: %w", e.Key, domain.ErrChain, err)
	}
	return hash, nil
}

// freeRental sends notify(4) for a FreeRental machine while it is rented.
func (p *Penalty) freeRental(ctx context.Context, e domain.Event) (string, error) {
	rented, err := p.FreeRental.FreeRentalRented(ctx, e.Key.MachineID)
	if err != nil {
		return "", p.none(e, "FreeRental machineIsRented could not be read: no penalty", err)
	}
	if !rented {
		return "", p.none(e, "FreeRental machine not rented: no penalty", nil)
	}
	if p.falseOffline(ctx, e) {
		return "", p.skip(e, "the backend says the machine is online (false_offline_guard): no FreeRental penalty", nil)
	}
	hash, err := p.FreeRental.NotifyFreeRental(ctx, domain.ReportMachineOffline, e.Key.MachineID)
	if err != nil {
		return "", fmt.Errorf("FreeRental notify offline of %s: %w: %w", e.Key, domain.ErrChain, err)
	}
	return hash, nil
}

// falseOffline asks the guard; an answer that is not a clear true (an
// error, an unreachable backend) does not block the penalty.
func (p *Penalty) falseOffline(ctx context.Context, e domain.Event) bool {
	if p.Guard == nil || !(slices.Contains(p.GuardProjects, "*") || slices.Contains(p.GuardProjects, e.Key.Project)) {
		return false
	}
	yes, err := p.Guard.FalseOffline(ctx, e.Key)
	if err != nil {
		p.observe(e, "offline guard gave no answer: the penalty goes ahead", err)
		return false
	}
	return yes
}

// scheduleRecheck records the re-check of an offline found not rented.
func (p *Penalty) scheduleRecheck(ctx context.Context, e domain.Event) error {
	if p.Later == nil {
		return nil
	}
	after := p.RecheckAfter
	if after <= 0 {
		after = DefaultRentRecheck
	}
	now := e.At // without a clock: RecheckAfter from the offline itself
	if p.Clock != nil {
		now = p.Clock.Now()
	}
	re := domain.Event{Kind: domain.EventOfflineRentCheck, Key: e.Key, StakingType: e.StakingType, NodeID: e.NodeID, At: e.At}
	if err := p.Later.Schedule(ctx, re, now.Add(after)); err != nil && !errors.Is(err, domain.ErrDuplicate) {
		return fmt.Errorf("offline of %s: schedule the rent re-check: %w", e.Key, err)
	}
	return nil
}

func (p *Penalty) observe(e domain.Event, why string, err error) {
	if p.OnDecision != nil {
		p.OnDecision(e, why, err)
	}
}

// none settles an offline without a penalty; the targets that follow are
// still told (without a transaction hash).
func (p *Penalty) none(e domain.Event, why string, err error) error {
	p.observe(e, why, err)
	return nil
}

// skip settles e without a penalty and without telling the targets that
// follow (domain.ErrNoEffect).
func (p *Penalty) skip(e domain.Event, why string, err error) error {
	p.observe(e, why, err)
	return fmt.Errorf("chain %s of %s: %s: %w", e.Kind, e.Key, why, domain.ErrNoEffect)
}

// RentedRegistry lets a machine that the report contract does not show
// registered come online while the Rent contract says it is rented, so its
// offline can be watched (the current original's rule); it counts as
// online on chain, so no report(3) is queued for it (its online delivery
// reads the report contract and finds nothing to report). A rent that
// cannot be read lets nobody in.
type RentedRegistry struct {
	Next ports.ChainRegistry
	Rent ports.RentRegistry
	// OnRented observes a machine let in because it is rented, for logs.
	OnRented func(key domain.MachineKey)
}

var _ ports.ChainRegistry = RentedRegistry{}

// MachineState implements ports.ChainRegistry.
func (r RentedRegistry) MachineState(ctx context.Context, key domain.MachineKey, st domain.StakingType) (domain.ChainState, error) {
	s, err := r.Next.MachineState(ctx, key, st)
	if err != nil || s.Registered {
		return s, err
	}
	if rented, err := r.Rent.IsRented(ctx, key.MachineID); err != nil || !rented {
		return s, nil
	}
	if r.OnRented != nil {
		r.OnRented(key)
	}
	return domain.ChainState{Registered: true, Online: true}, nil
}

// Forget passes an unregister on to a remembering registry behind it.
func (r RentedRegistry) Forget(key domain.MachineKey) {
	if f, ok := r.Next.(interface{ Forget(domain.MachineKey) }); ok {
		f.Forget(key)
	}
}
