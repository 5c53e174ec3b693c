package memory

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"ddn/domain"
	"ddn/ports"
)

// Locator is the in-memory fake of ports.Locator: address ranges with a
// place each, and a count of lookups so tests can see what was asked.
type Locator struct {
	mu     sync.Mutex
	ranges []locatedRange
	calls  int
}

type locatedRange struct {
	from, to netip.Addr
	loc      domain.Location
}

var _ ports.Locator = (*Locator)(nil)

// Add places every address from `from` to `to` (inclusive) at loc.
func (l *Locator) Add(from, to netip.Addr, loc domain.Location) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ranges = append(l.ranges, locatedRange{from.Unmap(), to.Unmap(), loc})
}

// Calls counts the lookups so far.
func (l *Locator) Calls() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}

// Locate implements ports.Locator.
func (l *Locator) Locate(_ context.Context, ip string) (domain.Location, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	addr, err := domain.ParseClientIP(ip)
	if err != nil {
		return domain.Location{}, fmt.Errorf("locate: %w", err)
	}
	for _, r := range l.ranges {
		if r.from.Is4() == addr.Is4() && r.from.Compare(addr) <= 0 && addr.Compare(r.to) <= 0 {
			return r.loc, nil
		}
	}
	return domain.Location{}, fmt.Errorf("locate %s: %w: address not in the database", addr, domain.ErrGeo)
}
