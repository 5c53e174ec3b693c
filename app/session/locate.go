package session

import (
	"context"
	"fmt"
	"time"

	"ddn/domain"
)

// locate returns where the session's client IP is, or nil when unknown. It
// asks the Locator at most once per session, and not at all when
// machine_info already holds a location found for the same IP. A new or
// changed location is written to machine_info; failures are observed, never
// returned: a report does not fail for want of a place.
func (ss *Session) locate(ctx context.Context) *domain.Location {
	if ss.located {
		return ss.location
	}
	ss.located = true
	s := ss.svc
	if s.cfg.Locator == nil || ss.clientIP == "" {
		return nil
	}
	if ss.storedLoc != nil && ss.storedLoc.IP == ss.clientIP {
		ss.location = ss.storedLoc
		return ss.location
	}
	loc, err := s.cfg.Locator.Locate(ctx, ss.clientIP)
	if err != nil {
		if s.OnLocateFailed != nil {
			s.OnLocateFailed(ss.key, ss.clientIP, err)
		}
		return nil
	}
	loc.IP = ss.clientIP
	ss.location = &loc
	if ss.storedLoc == nil || ss.storedLoc.IP != loc.IP || !sameLocation(*ss.storedLoc, loc) {
		if err := s.store.SetLocation(ctx, ss.key, loc, s.clock.Now()); err != nil && s.OnError != nil {
			s.OnError("store location", fmt.Errorf("machine %s: %w: %w", ss.key, domain.ErrStore, err))
		}
	}
	return ss.location
}

// sameLocation compares places, not when or for which IP they were found.
func sameLocation(a, b domain.Location) bool {
	a.LocatedAt, b.LocatedAt, a.IP, b.IP = time.Time{}, time.Time{}, "", ""
	return a == b
}
