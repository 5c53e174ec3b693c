// Package geo locates client IPs with an IP2Location LITE DB5 .BIN file
// (country, region, city, latitude, longitude) through ip2location-go v9.
package geo

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/ip2location/ip2location-go/v9"

	"ddn/domain"
	"ddn/ports"
)

// DB is a ports.Locator over one open .BIN file. Lookups are safe for
// concurrent use: the library reads the file with ReadAt and keeps no state
// per query.
type DB struct {
	path string
	db   *ip2location.DB
}

var _ ports.Locator = (*DB)(nil)

// Open opens the database at path and checks that it holds the columns ddn
// needs (a DB5 or a richer edition), so that a wrong file fails at startup.
func Open(path string) (*DB, error) {
	db, err := ip2location.OpenDB(path)
	if err != nil {
		return nil, fmt.Errorf("ip2location database %s: %w", path, err)
	}
	// Editions DB5, DB6 and DB8 to DB26 hold region, city, latitude and
	// longitude; the others lack some, and the library would answer them
	// with a message in the field rather than an error.
	if t, err := editionOf(path); err != nil || !(t == 5 || t == 6 || (t >= 8 && t <= 26)) {
		db.Close()
		if err != nil {
			return nil, fmt.Errorf("ip2location database %s: %w", path, err)
		}
		return nil, fmt.Errorf("ip2location database %s: edition DB%d lacks region, city, latitude or longitude (DB5 or richer is needed)", path, t)
	}
	return &DB{path: path, db: db}, nil
}

// editionOf reads the database type, the header's first byte.
func editionOf(path string) (byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var b [1]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}

// Path is the file the database was opened from.
func (d *DB) Path() string { return d.path }

// Close releases the file.
func (d *DB) Close() { d.db.Close() }

// Locate implements ports.Locator.
func (d *DB) Locate(_ context.Context, ip string) (domain.Location, error) {
	addr, err := domain.ParseClientIP(ip)
	if err != nil {
		return domain.Location{}, fmt.Errorf("locate: %w", err)
	}
	rec, err := d.db.Get_all(addr.String())
	if err != nil {
		return domain.Location{}, fmt.Errorf("locate %s: %w: read %s: %w", addr, domain.ErrGeo, d.path, err)
	}
	if msg, bad := libraryMessage(rec.Country_short); bad {
		return domain.Location{}, fmt.Errorf("locate %s: %w: %s", addr, domain.ErrGeo, msg)
	}
	if rec.Country_short == "" || rec.Country_short == "-" {
		return domain.Location{}, fmt.Errorf("locate %s: %w: address not in the database", addr, domain.ErrGeo)
	}
	return domain.Location{
		CountryCode: rec.Country_short,
		Country:     rec.Country_long,
		Region:      known(rec.Region),
		City:        known(rec.City),
		Latitude:    decimal(rec.Latitude),
		Longitude:   decimal(rec.Longitude),
	}, nil
}

// libraryMessage tells a message the library puts in every field ("Invalid
// IP address.", "IPv6 address missing in IPv4 BIN.") from a country code.
func libraryMessage(s string) (string, bool) {
	return s, len(s) > 3 && strings.ContainsRune(s, ' ')
}

func known(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// decimal turns the file's float32 into the float64 with the same shortest
// decimal form (22.54, not 22.540000915527344).
func decimal(f float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'f', -1, 32), 64)
	return v
}

// None is the Locator of a node without a database: every lookup fails with
// domain.ErrGeo saying so.
type None struct{}

var _ ports.Locator = None{}

// Locate implements ports.Locator.
func (None) Locate(_ context.Context, ip string) (domain.Location, error) {
	addr, err := domain.ParseClientIP(ip)
	if err != nil {
		return domain.Location{}, fmt.Errorf("locate: %w", err)
	}
	return domain.Location{}, fmt.Errorf("locate %s: %w: no geolocation database configured (IP2LocationDB.DatabasePath)", addr, domain.ErrGeo)
}
