package domain

import "testing"

func TestOfflineReportPolicy(t *testing.T) {
	scored := Machine{ShortTerm: &ShortTermInfo{CalcPoint: 83.72}}
	unscored := Machine{ShortTerm: &ShortTermInfo{}}
	bandwidth := Machine{Bandwidth: &BandwidthInfo{Bandwidth: 10}}
	never := Machine{}
	for _, tt := range []struct {
		policy string
		want   [4]bool
	}{
		{"", [4]bool{true, false, false, false}},
		{"scored", [4]bool{true, false, false, false}},
		{"all", [4]bool{true, true, true, true}},
		{"none", [4]bool{}},
	} {
		p, err := ParseOfflineReportPolicy(tt.policy)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range []Machine{scored, unscored, bandwidth, never} {
			if got := p.Reports(m); got != tt.want[i] {
				t.Errorf("policy %q, machine %d: reports = %v, want %v", tt.policy, i, got, tt.want[i])
			}
		}
	}
	if _, err := ParseOfflineReportPolicy("some"); CodeOf(err) != CodeParameter {
		t.Fatalf("bad policy: %v", err)
	}
}
