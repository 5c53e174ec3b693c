package ports

import (
	"context"
	"time"

	"ddn/domain"
)

// Locator geolocates a machine's client IP, so that machine info carries a
// place and bandwidth machines a region name.
type Locator interface {
	// Locate returns where ip is. An ip that is not an address is an error
	// matching domain.ErrInvalidParam; an address the database does not place
	// (or no database at all) is an error matching domain.ErrGeo that says why.
	Locate(ctx context.Context, ip string) (domain.Location, error)
}

// LocationStore keeps where each machine is (machine_info.location), so the
// fleet's places are read without geolocating again.
type LocationStore interface {
	// SetLocation replaces the machine's location, located at `at`.
	SetLocation(ctx context.Context, key domain.MachineKey, loc domain.Location, at time.Time) error
}
