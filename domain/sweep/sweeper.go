// Package sweep turns silence into verdicts for the whole cluster: it
// releases the machines of nodes whose lease expired, and flips machines
// disconnected for longer than the grace period, and connected nowhere, to
// offline. Every node runs it; conditional store updates make each
// transition happen exactly once.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ddn/domain"
	"ddn/domain/periodic"
	"ddn/ports"
)

// Config tunes the sweeper.
type Config struct {
	// NodeID is this node; its own claims are never reclaimed here.
	NodeID string
	// Grace is OfflineGracePeriod: how long a machine may stay disconnected.
	Grace time.Duration
	// NodeExpiry is how old a node's lease may be before the node is dead.
	NodeExpiry time.Duration
	// Effects, when set, records the side effects of going offline (the outbox).
	Effects ports.Effects
}

// Result counts what one sweep changed.
type Result struct {
	// Released: machines of dead nodes marked disconnected.
	Released int
	// Offline: machines this sweep flipped to offline.
	Offline int
}

// Sweeper runs the cluster-wide presence transitions that no connection triggers.
type Sweeper struct {
	cfg    Config
	store  ports.Store
	clock  ports.Clock
	events ports.EventSink
}

// New returns a sweeper.
func New(cfg Config, store ports.Store, clock ports.Clock, events ports.EventSink) *Sweeper {
	return &Sweeper{cfg: cfg, store: store, clock: clock, events: events}
}

// Sweep runs one pass. Errors on single machines do not stop the pass; they
// are joined into the returned error, and the next pass retries.
func (s *Sweeper) Sweep(ctx context.Context) (Result, error) {
	var res Result
	released, err := s.releaseDeadNodes(ctx)
	res.Released = released
	offline, err2 := s.expireGrace(ctx)
	res.Offline = offline
	return res, errors.Join(err, err2)
}

// releaseDeadNodes frees the claims of nodes whose lease expired (or that
// left no lease at all): their machines count as disconnected from the
// moment the lease expired, so the grace period runs from there.
func (s *Sweeper) releaseDeadNodes(ctx context.Context) (int, error) {
	nodes, err := s.store.ListNodes(ctx)
	if err != nil {
		return 0, fmt.Errorf("sweep: list nodes: %w", err)
	}
	now := s.clock.Now()
	alive := map[string]bool{}
	expiredAt := map[string]time.Time{}
	for _, n := range nodes {
		if now.Sub(n.HeartbeatAt) > s.cfg.NodeExpiry {
			expiredAt[n.ID] = n.HeartbeatAt.Add(s.cfg.NodeExpiry)
		} else {
			alive[n.ID] = true
		}
	}
	conns, err := s.store.ListConnections(ctx, "")
	if err != nil {
		return 0, fmt.Errorf("sweep: list connections: %w", err)
	}
	var errs []error
	released := 0
	for _, c := range conns {
		if alive[c.NodeID] || c.NodeID == s.cfg.NodeID {
			continue
		}
		since, known := expiredAt[c.NodeID]
		if !known {
			// No lease at all (the original node's documents, or a node record
			// already removed): the grace period starts now.
			since = now
		}
		ok, err := s.release(ctx, c, since)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			released++
		}
	}
	return released, errors.Join(errs...)
}

func (s *Sweeper) release(ctx context.Context, c ports.Connection, since time.Time) (bool, error) {
	deleted, err := s.store.DeleteConnection(ctx, c.Key, c.ConnID)
	if err != nil {
		return false, fmt.Errorf("sweep: release %s of dead node %s: %w", c.Key, c.NodeID, err)
	}
	if !deleted {
		return false, nil // taken over or released by another sweeper
	}
	ok, err := s.store.MarkDisconnectedBy(ctx, c.Key, c.NodeID, since)
	if err != nil {
		return false, fmt.Errorf("sweep: mark %s disconnected: %w", c.Key, err)
	}
	if ok {
		s.publish(ctx, domain.Event{Kind: domain.EventDisconnected, Key: c.Key, NodeID: c.NodeID, At: since, Previous: domain.StateOnline})
	}
	return ok, nil
}

// expireGrace flips machines disconnected for longer than the grace period
// to offline, one conditional update each.
func (s *Sweeper) expireGrace(ctx context.Context) (int, error) {
	machines, err := s.store.ListMachines(ctx, ports.MachineFilter{State: domain.StateDisconnected})
	if err != nil {
		return 0, fmt.Errorf("sweep: list disconnected machines: %w", err)
	}
	now := s.clock.Now()
	var errs []error
	flipped := 0
	for _, m := range machines {
		if !domain.GraceExpired(m.LastDisconnectTime, now, s.cfg.Grace) {
			continue
		}
		if _, err := m.State.Next(domain.TriggerGraceExpired); err != nil {
			continue
		}
		// A claim means the machine is coming back on some node right now.
		if _, err := s.store.GetConnection(ctx, m.Key); err == nil {
			continue
		} else if !errors.Is(err, domain.ErrNotFound) {
			errs = append(errs, fmt.Errorf("sweep: check claim on %s: %w", m.Key, err))
			continue
		}
		ev := domain.Event{Kind: domain.EventOffline, Key: m.Key, StakingType: m.StakingType, NodeID: s.cfg.NodeID,
			At: now, Previous: domain.StateDisconnected, Since: m.LastDisconnectTime}
		var entry ports.OutboxEntry
		if s.cfg.Effects != nil {
			entry, err = s.cfg.Effects.Record(ctx, ev)
			if errors.Is(err, domain.ErrDuplicate) {
				continue // another node owns this transition
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("sweep: offline of %s: %w", m.Key, err))
				continue
			}
		}
		won, err := s.store.MarkOffline(ctx, m.Key, m.LastDisconnectTime, now)
		if err != nil {
			// The entry stays pending; recovery finishes or cancels it.
			errs = append(errs, fmt.Errorf("sweep: mark %s offline: %w", m.Key, err))
			continue
		}
		if !won {
			if s.cfg.Effects != nil {
				if err := s.cfg.Effects.Cancel(ctx, entry); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		if s.cfg.Effects != nil {
			if err := s.cfg.Effects.Confirm(ctx, entry); err != nil {
				errs = append(errs, err)
			}
		}
		flipped++
		s.publish(ctx, ev)
	}
	return flipped, errors.Join(errs...)
}

func (s *Sweeper) publish(ctx context.Context, e domain.Event) {
	// The sink (log today, outbox next) owns delivery failures.
	_ = s.events.Publish(ctx, e)
}

// Run sweeps every interval until ctx ends, reporting each pass to observe.
func (s *Sweeper) Run(ctx context.Context, every time.Duration, observe func(Result, error)) {
	periodic.Run(ctx, every, func(ctx context.Context) {
		res, err := s.Sweep(ctx)
		if observe != nil && ctx.Err() == nil {
			observe(res, err)
		}
	})
}
