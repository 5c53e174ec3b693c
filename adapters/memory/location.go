package memory

import (
	"context"
	"time"

	"ddn/domain"
)

// SetLocation implements ports.LocationStore.
func (s *Store) SetLocation(_ context.Context, key domain.MachineKey, loc domain.Location, at time.Time) error {
	loc.LocatedAt = at
	return s.update(key, func(m *domain.Machine) { m.Location = &loc })
}
