package storetest

import (
	"testing"
	"time"

	"ddn/domain"
	"ddn/ports"
)

func locationRoundTrip(t *testing.T, s ports.Store) {
	_, _, err := s.MarkOnline(ctx, keyA, 0, "n1", t0)
	must(t, err)
	m, err := s.GetMachine(ctx, keyA)
	must(t, err)
	if m.Location != nil {
		t.Fatalf("new machine has a location: %+v", m.Location)
	}
	loc := domain.Location{CountryCode: "CN", Country: "China", Region: "Guangdong", City: "Shenzhen", Latitude: 22.5431, Longitude: 114.0579, IP: "203.0.113.9"}
	must(t, s.SetLocation(ctx, keyA, loc, t0.Add(time.Second)))
	must(t, s.SetShortTermInfo(ctx, keyA, gpu, t0.Add(2*time.Second)))
	m, err = s.GetMachine(ctx, keyA)
	must(t, err)
	got := *m.Location
	if !sameTime(got.LocatedAt, t0.Add(time.Second)) {
		t.Fatalf("located at %v, want %v", got.LocatedAt, t0.Add(time.Second))
	}
	got.LocatedAt = time.Time{}
	if got != loc || m.State != domain.StateOnline || m.ShortTerm == nil {
		t.Fatalf("machine after SetLocation = %+v (location %+v), want location %+v", m, got, loc)
	}
	moved := domain.Location{CountryCode: "US", Country: "United States of America", Region: "Texas", City: "Austin", Latitude: 30.2672, Longitude: -97.7431}
	must(t, s.SetLocation(ctx, keyA, moved, t0.Add(3*time.Second)))
	m, err = s.GetMachine(ctx, keyA)
	must(t, err)
	got = *m.Location
	got.LocatedAt = time.Time{}
	if got != moved {
		t.Fatalf("location not replaced: %+v", got)
	}
	if other, err := s.GetMachine(ctx, keyC); err == nil && other.Location != nil {
		t.Fatalf("another machine got the location: %+v", other)
	}
}
