package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"ddn/domain"
)

// SetLocation implements ports.LocationStore.
func (s *Store) SetLocation(ctx context.Context, key domain.MachineKey, loc domain.Location, at time.Time) error {
	doc := locationDoc{CountryCode: loc.CountryCode, IP: loc.IP, LocatedAt: at, Country: loc.Country, Region: loc.Region,
		City: loc.City, Latitude: loc.Latitude, Longitude: loc.Longitude}
	return s.set(ctx, "set location", key, bson.D{{Key: "location", Value: doc}})
}
