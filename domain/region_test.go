package domain

import "testing"

// TestBandwidthRegionRules covers each branch of the rule, including the
// fallbacks the parity sample may not hold (internal/parity checks every
// record of the original's answers).
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
