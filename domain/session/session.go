package session

import (
	"context"
	"fmt"
	"time"

	"ddn/domain"
	"ddn/domain/score"
	"ddn/ports"
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
	// scored is the last info this session scored, with its calc point.
	scored *domain.ShortTermInfo
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
	// The chain is asked before a store write slot is taken: reads that
	// wait together go to the chain together (one batch), and an online
	// waiting for a slow chain holds no slot the store's writers need.
	chainState, err := s.checkRegistered(ctx, req)
	if err != nil {
		return err
	}
	done, err := s.writeSlot(ctx, "online "+req.Key.String())
	if err != nil {
		return err
	}
	defer done()
	now := s.clock.Now()
	err = s.claim(ctx, ports.Connection{Key: req.Key, NodeID: s.cfg.NodeID, ConnID: ss.connID, ClientIP: ss.clientIP, AddTime: now})
	if err != nil {
		return err
	}
	ev := domain.Event{Kind: domain.EventOnline, Key: req.Key, StakingType: req.StakingType, NodeID: s.cfg.NodeID, At: now}
	// Give the claim back on failure: the machine is not online if we cannot say so.
	release := func() { _, _ = s.store.DeleteConnection(context.WithoutCancel(ctx), req.Key, ss.connID) }
	var entry ports.OutboxEntry
	if s.cfg.Effects != nil {
		if entry, err = s.cfg.Effects.Record(ctx, ev); err != nil {
			release()
			return fmt.Errorf("online %s: record side effects: %w: %w", req.Key, domain.ErrStore, err)
		}
	}
	prev, _, err := s.store.MarkOnline(ctx, req.Key, req.StakingType, s.cfg.NodeID, now)
	if err != nil {
		if s.cfg.Effects != nil {
			_ = s.cfg.Effects.Cancel(context.WithoutCancel(ctx), entry) // else recovery cancels it
		}
		release()
		return fmt.Errorf("online %s: %w: %w", req.Key, domain.ErrStore, err)
	}
	if s.cfg.Effects != nil {
		// Only a machine that was offline (or new) went online; a reconnect
		// within the grace period or a takeover from a dead node did not.
		settle, what := s.cfg.Effects.Confirm, "confirm"
		if prev.State == domain.StateOnline || prev.State == domain.StateDisconnected {
			settle, what = s.cfg.Effects.Cancel, "cancel"
			s.catchUpChain(ctx, req, chainState, now)
		}
		if err := settle(ctx, entry); err != nil && s.OnError != nil {
			s.OnError(what+" online side effects (recovery will settle them)", err)
		}
	}
	ss.bound, ss.key, ss.staking = true, req.Key, req.StakingType
	ss.shortTerm, ss.bandwidth, ss.lastTouch = prev.ShortTerm, prev.Bandwidth, now
	ss.storedLoc = prev.Location
	ev.Previous = prev.State
	s.publish(ctx, ev)
	return nil
}

// ReportShortTerm stores a type-2 report; nil means it is durable. The info
// gets its calc point (when a catalog is configured) and its location's
// coordinates and region; an unchanged report in the same session reuses them.
func (ss *Session) ReportShortTerm(ctx context.Context, info domain.ShortTermInfo) error {
	info.ClientIP = ss.clientIP
	derive := func() error {
		if loc := ss.locate(ctx); loc != nil {
			info.Longitude, info.Latitude, info.Region = loc.Longitude, loc.Latitude, loc.Region
		}
		cat := ss.svc.cfg.Catalog
		if cat == nil {
			return nil
		}
		// Scored once per session (so a corrected catalog applies from the
		// next connection) and again whenever the content changes.
		if last := ss.scored; last != nil && last.SameReport(info) {
			info.CalcPoint = last.CalcPoint
			return nil
		}
		p, err := score.Of(info, cat)
		if err != nil {
			return fmt.Errorf("short-term report of %s: %w", ss.key, err)
		}
		info.CalcPoint = p
		scored := info
		ss.scored = &scored
		return nil
	}
	return ss.report(ctx, "short-term", info.Validate, derive, domain.Report{ShortTerm: &info},
		func() bool { return ss.shortTerm != nil && sameShortTerm(*ss.shortTerm, info) },
		func(at time.Time) error { return ss.svc.store.SetShortTermInfo(ctx, ss.key, info, at) },
		func(e *domain.Event) { ss.shortTerm = &info; e.Kind, e.ShortTerm = domain.EventShortTermInfo, &info })
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
	return ss.report(ctx, "bandwidth", info.Validate, derive, domain.Report{Bandwidth: &info},
		func() bool {
			return ss.bandwidth != nil && ss.bandwidth.SameReport(info) && ss.bandwidth.Region == info.Region
		},
		func(at time.Time) error { return ss.svc.store.SetBandwidthInfo(ctx, ss.key, info, at) },
		func(e *domain.Event) { ss.bandwidth = &info; e.Kind, e.Bandwidth = domain.EventBandwidthInfo, &info })
}

// sameShortTerm compares reported content and what the node derived from it.
func sameShortTerm(a, b domain.ShortTermInfo) bool {
	return a.SameReport(b) && a.CalcPoint == b.CalcPoint && a.Longitude == b.Longitude &&
		a.Latitude == b.Latitude && a.Region == b.Region
}

// report is the shared path of both info kinds: validate, append to the time
// series, then copy the content into machine_info only if it changed, else
// refresh last_report_time at most once per TouchInterval.
func (ss *Session) report(ctx context.Context, kind string, validate, derive func() error, r domain.Report,
	unchanged func() bool, store func(time.Time) error, stored func(*domain.Event)) error {
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
	// The first content of each kind a machine ever reports goes to the
	// chain through the outbox (set machine info / bandwidth info).
	first := (r.ShortTerm != nil && ss.shortTerm == nil) || (r.Bandwidth != nil && ss.bandwidth == nil)
	if err := s.reports.Append(ctx, r); err != nil {
		return err
	}
	ss.lastReport = now
	switch {
	case !unchanged():
		done, err := s.writeSlot(ctx, kind+" info of "+ss.key.String())
		if err != nil {
			return err
		}
		defer done()
		e := domain.Event{Key: ss.key, StakingType: ss.staking, NodeID: s.cfg.NodeID, At: now}
		oldST, oldBW := ss.shortTerm, ss.bandwidth
		stored(&e)
		var entry ports.OutboxEntry
		recorded := false
		if first && s.cfg.Effects != nil {
			var err error
			if entry, err = s.cfg.Effects.Record(ctx, e); err != nil {
				ss.shortTerm, ss.bandwidth = oldST, oldBW
				return fmt.Errorf("%s info of %s: record side effects: %w: %w", kind, ss.key, domain.ErrStore, err)
			}
			recorded = true
		}
		if err := store(now); err != nil {
			if recorded {
				_ = s.cfg.Effects.Cancel(context.WithoutCancel(ctx), entry) // else recovery cancels it
			}
			ss.shortTerm, ss.bandwidth = oldST, oldBW
			return fmt.Errorf("%s info of %s: %w: %w", kind, ss.key, domain.ErrStore, err)
		}
		if recorded {
			if err := s.cfg.Effects.Confirm(ctx, entry); err != nil && s.OnError != nil {
				s.OnError("confirm "+string(e.Kind)+" side effects (recovery will settle them)", err)
			}
		}
		ss.lastTouch = now
		s.publish(ctx, e)
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
	s.mu.Unlock()
	if !ss.bound {
		return nil
	}
	ss.bound = false
	deleted, err := s.store.DeleteConnection(ctx, ss.key, ss.connID)
	if err != nil {
		return fmt.Errorf("disconnect %s: %w: %w", ss.key, domain.ErrStore, err)
	}
	if !deleted {
		return nil
	}
	now := s.clock.Now()
	if err := s.store.MarkDisconnected(ctx, ss.key, now, ss.lastReport); err != nil {
		return fmt.Errorf("disconnect %s: %w: %w", ss.key, domain.ErrStore, err)
	}
	s.publish(ctx, domain.Event{Kind: domain.EventDisconnected, Key: ss.key, StakingType: ss.staking, NodeID: s.cfg.NodeID, At: now, Previous: domain.StateOnline})
	return nil
}
