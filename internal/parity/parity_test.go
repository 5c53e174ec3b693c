package parity

import (
	"testing"

	"ddn/domain"
)

// TestCasesDecode keeps the vectors readable by the typed loaders (an
// unknown or retyped field fails here, not silently in a parity test).
func TestCasesDecode(t *testing.T) {
	s, err := Score()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Regions()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Coords()
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 670 || len(r) != 22 || len(c) != 8 {
		t.Fatalf("cases: %d score, %d region, %d coords; want 670, 22, 8", len(s), len(r), len(c))
	}
}

// TestBandwidthRegions reproduces every region the original names for an
// IP2Location record.
func TestBandwidthRegions(t *testing.T) {
	cases, err := Regions()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		loc := domain.Location{CountryCode: c.CountryShort, Country: c.CountryLong, Region: c.Region, City: c.City}
		if got := domain.BandwidthRegion(loc); got != c.BandwidthRegion {
			t.Errorf("%s (%s): BandwidthRegion(%+v) = %q, want %q", c.ID, c.Source, loc, got, c.BandwidthRegion)
		}
	}
}

// TestCoordinates reproduces the coordinate and region strings the original
// sends to the chain, from the float32 value widened to float64 and from
// its shortest decimal (what ddn stores), and the bandwidth region of
// records whose country the case names.
func TestCoordinates(t *testing.T) {
	cases, err := Coords()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		for _, v := range []struct {
			lat, lon float64
		}{{c.LatitudeF64, c.LongitudeF64}, {float64(c.Latitude), float64(c.Longitude)}, {c.DBStored.Latitude, c.DBStored.Longitude}} {
			info := domain.NewChainMachineInfo(domain.MachineKey{}, domain.ShortTermInfo{Latitude: v.lat, Longitude: v.lon, Region: c.Region})
			if info.Latitude != c.ChainLatitude || info.Longitude != c.ChainLongitude || info.Region != c.ChainRegion {
				t.Errorf("%s from (%v, %v): tuple has (%q, %q, %q), want (%q, %q, %q)", c.ID, v.lat, v.lon, info.Latitude, info.Longitude,
					info.Region, c.ChainLatitude, c.ChainLongitude, c.ChainRegion)
			}
		}
		if float64(c.Latitude) != c.LatitudeF64 || float64(c.Longitude) != c.LongitudeF64 {
			t.Errorf("%s: the float32 inputs do not widen to the case's float64", c.ID)
		}
	}
}
