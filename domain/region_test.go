package domain

import (
	"encoding/json"
	"os"
	"testing"
)

// TestBandwidthRegionParity reproduces every region the original node names
// for an IP2Location record (internal/parity/region.json, its own answers).
func TestBandwidthRegionParity(t *testing.T) {
	var rows []struct {
		ID              string `json:"id"`
		CountryShort    string `json:"country_short"`
		CountryLong     string `json:"country_long"`
		Region          string `json:"region"`
		City            string `json:"city"`
		Source          string `json:"source"`
		BandwidthRegion string `json:"bandwidth_region"`
	}
	readParity(t, "../internal/parity/region.json", &rows)
	for _, r := range rows {
		loc := Location{CountryCode: r.CountryShort, Country: r.CountryLong, Region: r.Region, City: r.City}
		if got := BandwidthRegion(loc); got != r.BandwidthRegion {
			t.Errorf("%s (%s): BandwidthRegion(%+v) = %q, want %q", r.ID, r.Source, loc, got, r.BandwidthRegion)
		}
	}
}

// TestBandwidthRegionRules covers each branch of the rule, including the
// fallbacks the sample above may not hold.
func TestBandwidthRegionRules(t *testing.T) {
	tests := []struct {
		loc  Location
		want string
	}{
		{Location{Country: "China", Region: "Guangxi Zhuangzu"}, "South China"},
		{Location{Country: "China", Region: "Heilongjiang"}, "Northeast China"},
		{Location{Country: "China", Region: "Xizang"}, "Southwest China"},
		{Location{Country: "China", Region: "Taiwan"}, "Taiwan, China"},
		{Location{Country: "China", Region: "Hong Kong"}, "Hong Kong, China"},
		{Location{Country: "China", Region: "Nei Mongol Zizhiqu"}, "Nei Mongol Zizhiqu, China"},
		{Location{Country: "Hong Kong", Region: "Hong Kong"}, "Hong Kong, China"},
		{Location{Country: "India", Region: "Karnataka"}, "Karnataka, India"},
		{Location{Country: "India", Region: "Bihar"}, "Bihar"},
		{Location{Country: "United States of America", Region: "North Carolina"}, "North Carolina"},
		{Location{Country: "United States of America", Region: "Oregon"}, RegionOtherUSA},
		{Location{Country: "Russian Federation", Region: "Moskva", City: "Moscow"}, "Moscow"},
		{Location{Country: "Russian Federation", Region: "Sankt-Peterburg", City: "Saint Petersburg"}, "Saint Petersburg"},
		{Location{Country: "Russian Federation", Region: "Moskva", City: "Zelenograd"}, RegionOtherRussia},
		{Location{Country: "Korea (the Republic of)"}, "South Korea"},
		{Location{Country: "Viet Nam"}, "Vietnam"},
		{Location{Country: "Turkiye"}, "Turkey"},
		{Location{Country: "United Kingdom of Great Britain and Northern Ireland"}, "United Kingdom"},
		{Location{Country: "Netherlands (Kingdom of the)"}, "Netherlands"},
		{Location{Country: "Bolivia (Plurinational State of)"}, "Bolivia (Plurinational State of)"},
		{Location{}, ""},
	}
	for _, tt := range tests {
		if got := BandwidthRegion(tt.loc); got != tt.want {
			t.Errorf("BandwidthRegion(%+v) = %q, want %q", tt.loc, got, tt.want)
		}
	}
}

// TestChainCoordinateParity reproduces the coordinate strings the original
// sends to the chain (internal/parity/coords.json), from the float32 value
// widened to float64 (what ddn stores) and from its shortest decimal.
func TestChainCoordinateParity(t *testing.T) {
	var rows []struct {
		ID             string  `json:"id"`
		Region         string  `json:"region"`
		Latitude       float64 `json:"latitude"`
		Longitude      float64 `json:"longitude"`
		ChainLatitude  string  `json:"chain_latitude"`
		ChainLongitude string  `json:"chain_longitude"`
		ChainRegion    string  `json:"chain_region"`
	}
	readParity(t, "../internal/parity/coords.json", &rows)
	if len(rows) == 0 {
		t.Fatal("no rows")
	}
	for _, r := range rows {
		for _, lat := range []float64{r.Latitude, float64(float32(r.Latitude))} {
			if got := ChainCoordinate(lat); got != r.ChainLatitude {
				t.Errorf("%s: ChainCoordinate(%v) = %q, want %q", r.ID, lat, got, r.ChainLatitude)
			}
		}
		for _, lon := range []float64{r.Longitude, float64(float32(r.Longitude))} {
			if got := ChainCoordinate(lon); got != r.ChainLongitude {
				t.Errorf("%s: ChainCoordinate(%v) = %q, want %q", r.ID, lon, got, r.ChainLongitude)
			}
		}
		info := NewChainMachineInfo(MachineKey{}, ShortTermInfo{Latitude: r.Latitude, Longitude: r.Longitude, Region: r.Region})
		if info.Latitude != r.ChainLatitude || info.Longitude != r.ChainLongitude || info.Region != r.ChainRegion {
			t.Errorf("%s: tuple has (%q, %q, %q), want (%q, %q, %q)", r.ID, info.Latitude, info.Longitude, info.Region,
				r.ChainLatitude, r.ChainLongitude, r.ChainRegion)
		}
	}
}

// readParity decodes a parity file.
func readParity(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
