package ip2ltest

import (
	"net/netip"
	"testing"
)

func TestBuildRefusesBadRanges(t *testing.T) {
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	for name, ranges := range map[string][]Range{
		"overlap":      {{From: a("1.0.0.0"), To: a("1.0.0.255")}, {From: a("1.0.0.128"), To: a("1.0.1.0")}},
		"mixed family": {{From: a("1.0.0.0"), To: a("::1")}},
		"reversed":     {{From: a("1.0.0.9"), To: a("1.0.0.1")}},
		"invalid":      {{}},
	} {
		if _, err := BuildDB5(ranges); err == nil {
			t.Errorf("%s: BuildDB5 accepted %+v", name, ranges)
		}
	}
	if _, err := BuildDB5(nil); err != nil {
		t.Errorf("an empty database: %v", err)
	}
}
