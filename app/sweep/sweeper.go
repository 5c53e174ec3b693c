// Package sweep turns silence into verdicts for the whole cluster: it
// releases the machines of nodes whose lease expired, and flips machines
// disconnected for longer than the grace period, and connected nowhere, to
// offline. Every node runs it; conditional store updates make each
// transition happen exactly once.
//
// The grace period is timed on the sweeper's own clock from the moment it
// first saw the machine disconnected (with that disconnect time), never by
// comparing the disconnect time another node wrote with this node's clock:
// a writer's clock that is behind or ahead cannot shorten it. A sweeper
// that just started, that was stopped or stalled, or that could not read
// the store for a while starts its count again, so time during which no
// node of the cluster watched never counts: after a whole-cluster outage
// every machine gets a full grace period from the restart. While other
// nodes watch, they flip the machine on time; the price is that an offline
// can come up to one sweep interval (and, for a dead node's machines, one
// lease expiry) after the grace period, never before.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"ddn/app/liveness"
	"ddn/app/transition"
	"ddn/domain"
	"ddn/internal/periodic"
	"ddn/ports"
)

// Config tunes the sweeper.
type Config struct {
	// NodeID is this node; its own claims are never reclaimed here.
	NodeID string
	// Grace is OfflineGracePeriod: how long a machine may stay disconnected.
	Grace time.Duration
	// NodeExpiry is how long a node's lease record may stay unchanged, on
	// this node's clock, before the node is dead.
	NodeExpiry time.Duration
	// Effects, when set, records the side effects of going offline (the outbox).
	Effects ports.Effects
	// Liveness judges the nodes' leases; share the session service's. Nil:
	// the sweeper keeps its own.
	Liveness *liveness.Tracker
	// Fenced, when set, tells whether this node has fenced itself (lost its
	// lease): a fenced node judges nobody.
	Fenced func() bool
	// Interval is the sweep interval (Run sets it). When set, a sweeper that
	// did not read the store for more than two intervals plus NodeExpiry
	// counts every grace period again; zero leaves that check off.
	Interval time.Duration
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
	cfg     Config
	store   ports.Store
	clock   ports.Clock
	observe func(domain.Event)

	mu sync.Mutex
	// seen is when this sweeper first saw each disconnected machine, with
	// the disconnect time it saw (a new disconnect starts a new count).
	seen map[domain.MachineKey]sighting
	// watched is when the sweeper last read the disconnected machines; a
	// longer gap than watchGap means it was not watching.
	watched time.Time
}

type sighting struct {
	since, first time.Time
}

// New returns a sweeper. observe (nil: none) hears of every transition it
// stores, for logs and tests; side effects go through Config.Effects only.
func New(cfg Config, store ports.Store, clock ports.Clock, observe func(domain.Event)) *Sweeper {
	if cfg.Liveness == nil {
		cfg.Liveness = liveness.New(cfg.NodeExpiry, clock)
	}
	return &Sweeper{cfg: cfg, store: store, clock: clock, observe: observe, seen: map[domain.MachineKey]sighting{}}
}

// Sweep runs one pass. Errors on single machines do not stop the pass; they
// are joined into the returned error, and the next pass retries.
func (s *Sweeper) Sweep(ctx context.Context) (Result, error) {
	var res Result
	if s.cfg.Fenced != nil && s.cfg.Fenced() {
		// A fenced node judges nobody; its counts go on unless it stays
		// fenced past the watch gap (then they start again).
		return res, nil
	}
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
	s.cfg.Liveness.Observe(nodes)
	conns, err := s.store.ListConnections(ctx, "")
	if err != nil {
		return 0, fmt.Errorf("sweep: list connections: %w", err)
	}
	var errs []error
	released := 0
	for _, c := range conns {
		if c.NodeID == s.cfg.NodeID {
			continue // this node's own claims are its reconciler's
		}
		v := s.cfg.Liveness.Judge(c.NodeID)
		if v.Alive {
			continue
		}
		since := v.ExpiredAt
		if !v.Known {
			// No lease at all (the original node's documents, or a node record
			// already removed): the grace period starts now.
			since = s.clock.Now()
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

func (s *Sweeper) release(ctx context.Context, c domain.Connection, since time.Time) (bool, error) {
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
		s.observed(domain.Event{Kind: domain.EventDisconnected, Key: c.Key, NodeID: c.NodeID, At: since, Previous: domain.StateOnline})
	}
	return ok, nil
}

// expireGrace flips machines disconnected for longer than the grace period
// to offline, one conditional update each.
func (s *Sweeper) expireGrace(ctx context.Context) (int, error) {
	machines, err := s.store.ListMachines(ctx, domain.MachineFilter{State: domain.StateDisconnected})
	if err != nil {
		return 0, fmt.Errorf("sweep: list disconnected machines: %w", err)
	}
	now := s.clock.Now()
	due := s.watch(machines, now)
	var errs []error
	flipped := 0
	for _, m := range machines {
		if !due[m.Key] {
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
		var won bool
		_, err = transition.Apply(ctx, s.cfg.Effects, ev, func(ctx context.Context) (transition.Outcome, error) {
			var err error
			if won, err = s.store.MarkOffline(ctx, m.Key, m.LastDisconnectTime, now); err != nil {
				// The entry stays pending; recovery finishes or cancels it.
				return transition.Unknown, fmt.Errorf("mark %s offline: %w", m.Key, err)
			}
			if !won {
				return transition.DidNot, nil
			}
			return transition.Happened, nil
		})
		switch {
		case errors.Is(err, domain.ErrDuplicate):
			continue // another node owns this transition
		case errors.Is(err, transition.ErrUnsettled):
			errs = append(errs, err) // the flip itself is done
		case err != nil:
			errs = append(errs, fmt.Errorf("sweep: %w", err))
			continue
		}
		if !won {
			continue
		}
		flipped++
		s.observed(ev)
	}
	return flipped, errors.Join(errs...)
}

func (s *Sweeper) observed(e domain.Event) {
	if s.observe != nil {
		s.observe(e)
	}
}

// watch records the disconnected machines just read and returns those this
// sweeper has seen disconnected, since the same disconnect time, for the
// whole grace period on its own clock.
func (s *Sweeper) watch(machines []domain.Machine, now time.Time) map[domain.MachineKey]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.watched.IsZero() && s.cfg.Interval > 0 && now.Sub(s.watched) > s.watchGap() {
		clear(s.seen) // not watching for a while: count again
	}
	s.watched = now
	due := map[domain.MachineKey]bool{}
	next := make(map[domain.MachineKey]sighting, len(machines))
	for _, m := range machines {
		if m.LastDisconnectTime.IsZero() {
			continue
		}
		seen, ok := s.seen[m.Key]
		if !ok || !seen.since.Equal(m.LastDisconnectTime) {
			seen = sighting{since: m.LastDisconnectTime, first: now}
		}
		next[m.Key] = seen
		due[m.Key] = now.Sub(seen.first) >= s.cfg.Grace
	}
	s.seen = next
	return due
}

// watchGap is how long the sweeper may go without reading the disconnected
// machines and still count on: more than two sweep intervals and a lease
// expiry means it was stopped, stalled or cut off from the store.
func (s *Sweeper) watchGap() time.Duration {
	return 2*s.cfg.Interval + s.cfg.NodeExpiry
}

// Run sweeps every interval until ctx ends, reporting each pass to observe.
func (s *Sweeper) Run(ctx context.Context, every time.Duration, observe func(Result, error)) {
	s.mu.Lock()
	if s.cfg.Interval <= 0 {
		s.cfg.Interval = every
	}
	s.mu.Unlock()
	periodic.Run(ctx, every, func(ctx context.Context) {
		res, err := s.Sweep(ctx)
		if observe != nil && ctx.Err() == nil {
			observe(res, err)
		}
	})
}
