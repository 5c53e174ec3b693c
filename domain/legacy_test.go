package domain

import (
	"testing"
	"time"
)

func TestClassifyLegacy(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	shutdown := now.Add(-time.Hour)
	off := now.Add(-48 * time.Hour)
	k := MachineKey{MachineID: "m", Project: "p"}
	for _, tt := range []struct {
		name      string
		m         Machine
		claimed   bool
		state     State
		since     time.Time
		claimNode string
	}{
		{"connected when the original stopped", Machine{Key: k, LastOfflineTime: off}, true, StateOnline, time.Time{}, ""},
		{"offline handled by the original", Machine{Key: k, LastOfflineTime: off}, false, StateOffline, time.Time{}, ""},
		{"offline after its last disconnect", Machine{Key: k, LastOfflineTime: off, LastDisconnectTime: off.Add(-time.Minute)}, false, StateOffline, time.Time{}, ""},
		{"disconnected at the original's shutdown", Machine{Key: k, LastOfflineTime: off, LastDisconnectTime: shutdown}, false, StateDisconnected, now, ""},
		{"never offline, not connected", Machine{Key: k, RegisterTime: off}, false, StateDisconnected, now, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ClassifyLegacy(tt.m, tt.claimed, tt.claimNode, now)
			if got.Key != k || got.State != tt.state || !got.Since.Equal(tt.since) || got.NodeID != tt.claimNode {
				t.Fatalf("ClassifyLegacy = %+v, want %s since %v", got, tt.state, tt.since)
			}
		})
	}
}
