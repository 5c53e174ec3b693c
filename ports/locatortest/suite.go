// Package locatortest is the contract every ports.Locator must honour. It
// runs against the in-memory fake and against the IP2Location adapter on a
// generated .BIN, so they cannot drift.
package locatortest

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"ddn/domain"
	"ddn/ports"
)

// Range is one fixture row: every address from From to To is at Loc.
type Range struct {
	From, To netip.Addr
	Loc      domain.Location
}

// Fixture is what each implementation under test must be loaded with.
var Fixture = []Range{
	{netip.MustParseAddr("1.0.1.0"), netip.MustParseAddr("1.0.3.255"),
		domain.Location{CountryCode: "CN", Country: "China", Region: "Fujian", City: "Fuzhou", Latitude: 26.0614, Longitude: 119.3061}},
	{netip.MustParseAddr("8.8.8.0"), netip.MustParseAddr("8.8.8.255"),
		domain.Location{CountryCode: "US", Country: "United States of America", Region: "California", City: "Mountain View", Latitude: 37.4056, Longitude: -122.0775}},
	{netip.MustParseAddr("95.165.0.0"), netip.MustParseAddr("95.165.255.255"),
		domain.Location{CountryCode: "RU", Country: "Russian Federation", Region: "Moskva", City: "Moscow", Latitude: 55.7522, Longitude: 37.6156}},
	{netip.MustParseAddr("240e::"), netip.MustParseAddr("240e:ff:ffff:ffff:ffff:ffff:ffff:ffff"),
		domain.Location{CountryCode: "CN", Country: "China", Region: "Guangdong", City: "Guangzhou", Latitude: 23.1167, Longitude: 113.25}},
	{netip.MustParseAddr("2a02:6b8::"), netip.MustParseAddr("2a02:6b8:ffff:ffff:ffff:ffff:ffff:ffff"),
		domain.Location{CountryCode: "RU", Country: "Russian Federation", Region: "Sankt-Peterburg", City: "Saint Petersburg", Latitude: 59.9386, Longitude: 30.3141}},
}

// Run runs the contract against a locator loaded with Fixture.
func Run(t *testing.T, loc ports.Locator) {
	ctx := context.Background()
	for _, tt := range []struct {
		ip   string
		want domain.Location
	}{
		{"1.0.1.0", Fixture[0].Loc},            // first address of a range
		{"1.0.2.77", Fixture[0].Loc},           // inside
		{"1.0.3.255", Fixture[0].Loc},          // last address
		{"8.8.8.8", Fixture[1].Loc},            // a one-/24 range
		{"95.165.12.1", Fixture[2].Loc},        // spans a /16 index entry
		{"::ffff:8.8.8.8", Fixture[1].Loc},     // IPv4-mapped IPv6 reads the IPv4 table
		{"240e:3b::1", Fixture[3].Loc},         // IPv6
		{"240e:ff:ffff::1", Fixture[3].Loc},    // IPv6 near the end of the range
		{"2a02:6b8:0:1::feed", Fixture[4].Loc}, // another IPv6 range
		{"8.8.8.10:40123", Fixture[1].Loc},     // with a port
		{"[2a02:6b8::2]:443", Fixture[4].Loc},  // IPv6 with a port
		{" 8.8.8.9 ", Fixture[1].Loc},          // surrounding space is ignored
	} {
		got, err := loc.Locate(ctx, tt.ip)
		if err != nil || got != tt.want {
			t.Errorf("Locate(%q) = %+v, %v; want %+v", tt.ip, got, err, tt.want)
		}
	}
	for _, ip := range []string{"1.0.0.255", "1.0.4.0", "10.1.2.3", "255.255.255.255", "0.0.0.0", "240f::1", "2a02:6b9::1", "::1"} {
		if got, err := loc.Locate(ctx, ip); !errors.Is(err, domain.ErrGeo) {
			t.Errorf("Locate(%q) = %+v, %v; want domain.ErrGeo (not in the database)", ip, got, err)
		}
	}
	for _, ip := range []string{"", "not-an-ip", "1.2.3", "1.2.3.4.5", "8.8.8.8/24", "8.8.8.8:99999"} {
		if got, err := loc.Locate(ctx, ip); !errors.Is(err, domain.ErrInvalidParam) {
			t.Errorf("Locate(%q) = %+v, %v; want domain.ErrInvalidParam", ip, got, err)
		}
	}
}
