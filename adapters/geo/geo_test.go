package geo_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ddn/adapters/geo"
	"ddn/adapters/geo/ip2ltest"
	"ddn/domain"
	"ddn/ports/locatortest"
)

// fixtureDB writes the contract's fixture as a DB5 .BIN.
func fixtureDB(t testing.TB) string {
	t.Helper()
	var ranges []ip2ltest.Range
	for _, r := range locatortest.Fixture {
		ranges = append(ranges, ip2ltest.Range{From: r.From, To: r.To, CountryCode: r.Loc.CountryCode, Country: r.Loc.Country,
			Region: r.Loc.Region, City: r.Loc.City, Latitude: float32(r.Loc.Latitude), Longitude: float32(r.Loc.Longitude)})
	}
	path := filepath.Join(t.TempDir(), "IP2LOCATION-LITE-DB5.BIN")
	if err := ip2ltest.WriteDB5(path, ranges); err != nil {
		t.Fatal(err)
	}
	return path
}

// The tests do not run in parallel: ip2location-go sets package variables
// when it opens a file.

func TestDBContract(t *testing.T) {
	db, err := geo.Open(fixtureDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	locatortest.Run(t, db)
}

func TestOpenRefusesWhatIsNotADB5(t *testing.T) {
	dir := t.TempDir()
	if _, err := geo.Open(filepath.Join(dir, "missing.BIN")); err == nil {
		t.Error("missing file: no error")
	}
	data, err := os.ReadFile(fixtureDB(t))
	if err != nil {
		t.Fatal(err)
	}
	data[0] = 3 // a DB3: country, region, city, no coordinates
	db3 := filepath.Join(dir, "DB3.BIN")
	if err := os.WriteFile(db3, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := geo.Open(db3); err == nil || !strings.Contains(err.Error(), "DB3") {
		t.Errorf("DB3: Open = %v, want an error naming the edition", err)
	}
	short := filepath.Join(dir, "short.BIN")
	if err := os.WriteFile(short, []byte("PK\x03\x04"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := geo.Open(short); err == nil {
		t.Error("truncated file: no error")
	}
}

func TestNone(t *testing.T) {
	_, err := geo.None{}.Locate(context.Background(), "8.8.8.8")
	if !errors.Is(err, domain.ErrGeo) || !strings.Contains(err.Error(), "no geolocation database") {
		t.Errorf("None.Locate = %v", err)
	}
	if _, err := (geo.None{}).Locate(context.Background(), "nope"); !errors.Is(err, domain.ErrInvalidParam) {
		t.Errorf("None.Locate(invalid) = %v", err)
	}
}
