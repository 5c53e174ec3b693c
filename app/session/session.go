package session

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"ddn/app/transition"
	"ddn/domain"
	"ddn/domain/score"
)

// Session is one connection's use of the node. It is not safe for concurrent
// use: the connection's reader goroutine owns it.
type Session struct {
	svc      *Service
	connID   string
	clientIP string

	bound   bool
	key     domain.MachineKey
	staking domain.StakingType
	// shortTerm and bandwidth are the contents machine_info holds, so that it
	// is rewritten only when they change.
	shortTerm  *domain.ShortTermInfo
	bandwidth  *domain.BandwidthInfo
	lastTouch  time.Time
	lastReport time.Time
	// location is where the client IP is, looked up once per session (or
	// taken from machine_info when the machine was located at the same IP).
	located   bool
	location  *domain.Location
	storedLoc *domain.Location
	// scored tells the info requester (another goroutine) that the
	// machine's short-term info has a calc point.
	scored atomic.Bool
}

// ConnID identifies this connection in machine_connection.
func (ss *Session) ConnID() string { return ss.connID }

// Machine returns the bound machine, if any.
func (ss *Session) Machine() (domain.MachineKey, bool) { return ss.key, ss.bound }

// Online binds the session to req.Key, cluster-wide: a key held by another
// live connection is refused with domain.ErrMachineHeld.
func (ss *Session) Online(ctx context.Context, req domain.OnlineRequest) error {
	if ss.bound {
		return fmt.Errorf("online %s: %w", req.Key, domain.ErrAlreadyBound)
	}
	if err := req.Key.Validate(); err != nil {
		return fmt.Errorf("online: %w", err)
	}
	if err := req.StakingType.Validate(); err != nil {
		return fmt.Errorf("online %s: %w", req.Key, err)
	}
	s := ss.svc
	// The chain is asked before the machine's lock is taken: reads that
	// wait together go to the chain together (one batch).
	chainState, err := s.checkRegistered(ctx, req)
	if err != nil {
		return err
	}
	unlock := s.keys.lock(req.Key)
	defer unlock()
	if err := s.refuseIfFenced(req.Key); err != nil {
		return err
	}
	now := s.clock.Now()
	c := domain.Connection{Key: req.Key, NodeID: s.cfg.NodeID, ConnID: ss.connID, ClientIP: ss.clientIP, AddTime: now}
	prev, err := s.bindClaim(ctx, c, req.StakingType, &chainState, s.cfg.ReplaceDuplicates, now)
	if err != nil {
		if errors.Is(err, domain.ErrStore) {
			s.nudgeReconcile()
		}
		return err
	}
	ss.bound, ss.key, ss.staking = true, req.Key, req.StakingType
	ss.shortTerm, ss.bandwidth, ss.lastTouch = prev.ShortTerm, prev.Bandwidth, now
	ss.scored.Store(prev.ShortTerm != nil && prev.ShortTerm.CalcPoint != 0)
	ss.storedLoc = prev.Location
	s.mu.Lock()
	if _, live := s.live[ss.connID]; live {
		s.bound[ss.connID] = boundSession{key: req.Key, staking: req.StakingType, clientIP: ss.clientIP, since: now}
	}
	s.mu.Unlock()
	s.observed(domain.Event{Kind: domain.EventOnline, Key: req.Key, StakingType: req.StakingType, NodeID: s.cfg.NodeID, At: now, Previous: prev.State})
	return nil
}

// bindClaim claims c.Key for connection c and marks the machine online on
// this node, with the side effects of a machine that was offline (or new);
// a machine that was online or disconnected (a reconnect, a takeover) gets
// none, only the chain catch-up when chain (the chain's view, nil: unknown)
// says so. It returns the machine as it was. The caller holds c.Key's lock.
func (s *Service) bindClaim(ctx context.Context, c domain.Connection, st domain.StakingType, chain *domain.ChainState, replace bool, now time.Time) (domain.Machine, error) {
	if err := s.claim(ctx, c, replace); err != nil {
		return domain.Machine{}, err
	}
	ev := domain.Event{Kind: domain.EventOnline, Key: c.Key, StakingType: st, NodeID: s.cfg.NodeID, At: now}
	// Give the claim back on failure: the machine is not online if we cannot say so.
	release := func() { _, _ = s.store.DeleteConnection(context.WithoutCancel(ctx), c.Key, c.ConnID) }
	var prev domain.Machine
	_, err := transition.Apply(ctx, s.cfg.Effects, ev, func(ctx context.Context) (transition.Outcome, error) {
		var err error
		if prev, _, err = s.store.MarkOnline(ctx, c.Key, st, s.cfg.NodeID, now); err != nil {
			return transition.DidNot, fmt.Errorf("online %s: %w: %w", c.Key, domain.ErrStore, err)
		}
		// Only a machine that was offline (or new) went online; a reconnect
		// within the grace period or a takeover from a dead node did not.
		if prev.State == domain.StateOnline || prev.State == domain.StateDisconnected {
			return transition.DidNot, nil
		}
		return transition.Happened, nil
	})
	switch {
	case errors.Is(err, transition.ErrUnsettled):
		if s.OnError != nil {
			s.OnError("settle online side effects", err)
		}
	case err != nil:
		release()
		if errors.Is(err, domain.ErrStore) {
			return domain.Machine{}, err
		}
		return domain.Machine{}, fmt.Errorf("online %s: %w: %w", c.Key, domain.ErrStore, err)
	}
	if chain != nil && (prev.State == domain.StateOnline || prev.State == domain.StateDisconnected) {
		s.catchUpChain(ctx, domain.OnlineRequest{Key: c.Key, StakingType: st}, *chain, now)
	}
	return prev, nil
}

// ReportShortTerm stores a type-2 report; nil means it is durable. As in the
// original node, a machine is scored once: while it has no calc point (none
// stored, or 0) each report is scored (its GPU memory converted from MiB)
// and the first that scores goes to the chain; a report that cannot be
// scored is refused with code 6 and not stored. Once scored, reports keep
// that calc point and are stored as sent. Every report gets its location's
// coordinates and region.
func (ss *Session) ReportShortTerm(ctx context.Context, info domain.ShortTermInfo) error {
	info.ClientIP = ss.clientIP
	cat := ss.svc.cfg.Catalog
	scoring := false
	derive := func() error {
		if loc := ss.locate(ctx); loc != nil {
			info.Longitude, info.Latitude, info.Region = loc.Longitude, loc.Latitude, loc.Region
		}
		if ss.shortTerm != nil && ss.shortTerm.CalcPoint != 0 {
			info.CalcPoint = ss.shortTerm.CalcPoint
			return nil
		}
		if cat == nil {
			return nil
		}
		r := score.Of(info, cat)
		if err := r.Refusal(); err != nil {
			return fmt.Errorf("short-term report of %s: %w", ss.key, err)
		}
		info.GPUMemoryTotal, info.CalcPoint, scoring = r.GPUMemoryGB, r.CalcPoint, true
		return nil
	}
	err := ss.report(ctx, "short-term", ss.svc.check(info.Validate, info.ValidateStrict), derive, domain.Report{ShortTerm: &info},
		func() bool { return scoring || (cat == nil && ss.shortTerm == nil) },
		func() bool { return ss.shortTerm != nil && sameShortTerm(*ss.shortTerm, info) },
		func(at time.Time) error { return ss.svc.store.SetShortTermInfo(ctx, ss.key, info, at) },
		func(e *domain.Event) { ss.shortTerm = &info; e.Kind, e.ShortTerm = domain.EventShortTermInfo, &info })
	ss.scored.Store(ss.shortTerm != nil && ss.shortTerm.CalcPoint != 0)
	return err
}

// ReportBandwidth stores a type-4 report; nil means it is durable. The info
// gets the region name of its location.
func (ss *Session) ReportBandwidth(ctx context.Context, info domain.BandwidthInfo) error {
	info.ClientIP = ss.clientIP
	derive := func() error {
		if loc := ss.locate(ctx); loc != nil {
			info.Region = domain.BandwidthRegion(*loc)
		}
		return nil
	}
	return ss.report(ctx, "bandwidth", ss.svc.check(info.Validate, info.ValidateStrict), derive, domain.Report{Bandwidth: &info},
		func() bool { return ss.bandwidth == nil },
		func() bool {
			return ss.bandwidth != nil && ss.bandwidth.SameReport(info) && ss.bandwidth.Region == info.Region
		},
		func(at time.Time) error { return ss.svc.store.SetBandwidthInfo(ctx, ss.key, info, at) },
		func(e *domain.Event) { ss.bandwidth = &info; e.Kind, e.Bandwidth = domain.EventBandwidthInfo, &info })
}

// check is the field check reports get: the original node's, or ddn's
// stricter one with Config.StrictInfo.
func (s *Service) check(original, strict func() error) func() error {
	if s.cfg.StrictInfo {
		return strict
	}
	return original
}

// sameShortTerm compares reported content and what the node derived from it.
func sameShortTerm(a, b domain.ShortTermInfo) bool {
	return a.SameReport(b) && a.CalcPoint == b.CalcPoint && a.Longitude == b.Longitude &&
		a.Latitude == b.Latitude && a.Region == b.Region
}

// report is the shared path of both info kinds: validate, append to the time
// series, then copy the content into machine_info only if it changed, else
// refresh last_report_time at most once per TouchInterval. toChain, asked
// after derive, says whether this content is the machine's info for the
// chain (set machine info / bandwidth info, through the outbox).
func (ss *Session) report(ctx context.Context, kind string, validate, derive func() error, r domain.Report,
	toChain, unchanged func() bool, store func(time.Time) error, stored func(*domain.Event)) error {
	if !ss.bound {
		return fmt.Errorf("%s report: %w", kind, domain.ErrNotOnline)
	}
	if err := validate(); err != nil {
		return fmt.Errorf("%s report of %s: %w", kind, ss.key, err)
	}
	if err := derive(); err != nil {
		return err
	}
	s := ss.svc
	now := s.clock.Now()
	r.Key, r.Timestamp = ss.key, now
	first := toChain()
	if err := s.reports.Append(ctx, r); err != nil {
		return err
	}
	ss.lastReport = now
	switch {
	case !unchanged():
		e := domain.Event{Key: ss.key, StakingType: ss.staking, NodeID: s.cfg.NodeID, At: now}
		oldST, oldBW := ss.shortTerm, ss.bandwidth
		stored(&e)
		fx := s.cfg.Effects
		if !first {
			fx = nil // only the machine's info for the chain owes side effects
		}
		_, err := transition.Apply(ctx, fx, e, func(context.Context) (transition.Outcome, error) {
			if err := store(now); err != nil {
				return transition.DidNot, fmt.Errorf("%s info of %s: %w: %w", kind, ss.key, domain.ErrStore, err)
			}
			return transition.Happened, nil
		})
		switch {
		case errors.Is(err, transition.ErrUnsettled):
			if s.OnError != nil {
				s.OnError("settle "+string(e.Kind)+" side effects", err)
			}
		case err != nil:
			ss.shortTerm, ss.bandwidth = oldST, oldBW
			if errors.Is(err, domain.ErrStore) {
				return err
			}
			return fmt.Errorf("%s info of %s: %w: %w", kind, ss.key, domain.ErrStore, err)
		}
		ss.lastTouch = now
		s.observed(e)
	case now.Sub(ss.lastTouch) >= s.cfg.TouchInterval:
		if t, ok := s.reports.(LastReportToucher); ok {
			t.Touch(ss.key, now)
		} else if err := s.store.TouchLastReports(ctx, []domain.MachineKey{ss.key}, now); err != nil {
			return fmt.Errorf("last report time of %s: %w: %w", ss.key, domain.ErrStore, err)
		}
		ss.lastTouch = now
	}
	return nil
}

// LastReportToucher is a ReportAppender that also batches last_report_time
// refreshes (the ingest batcher): the report that prompts one does not wait
// for it, since the report itself is already durable and many machines'
// refreshes cost one write together. Without it each refresh is written
// before the report is answered.
type LastReportToucher interface {
	Touch(key domain.MachineKey, at time.Time)
}

// Close ends the session: the claim is released and the machine marked
// disconnected (the grace period towards offline starts). A claim already
// taken over by another connection is left alone.
func (ss *Session) Close(ctx context.Context) error {
	s := ss.svc
	s.mu.Lock()
	delete(s.live, ss.connID)
	delete(s.bound, ss.connID)
	s.mu.Unlock()
	if !ss.bound {
		return nil
	}
	ss.bound = false
	unlock := s.keys.lock(ss.key)
	defer unlock()
	deleted, err := s.store.DeleteConnection(ctx, ss.key, ss.connID)
	if err != nil {
		// Either the claim outlives the session (the reconciler releases
		// it) or the delete was done and its answer lost, leaving no claim
		// to find: the disconnect is owed in both cases (a no-op once the
		// machine is no longer online on this node).
		s.owe(ss.key, s.clock.Now())
		return fmt.Errorf("disconnect %s: %w: %w", ss.key, domain.ErrStore, err)
	}
	if !deleted {
		return nil
	}
	now := s.clock.Now()
	if err := s.store.MarkDisconnected(ctx, ss.key, now, ss.lastReport); err != nil {
		s.owe(ss.key, now) // the reconciler marks it disconnected once the store answers
		return fmt.Errorf("disconnect %s: %w: %w", ss.key, domain.ErrStore, err)
	}
	s.observed(domain.Event{Kind: domain.EventDisconnected, Key: ss.key, StakingType: ss.staking, NodeID: s.cfg.NodeID, At: now, Previous: domain.StateOnline})
	return nil
}
