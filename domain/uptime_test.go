package domain

import (
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

func change(min int, st State, r OutageReason) PresenceChange {
	return PresenceChange{At: at(min), State: st, Reason: r}
}

func TestComputeUptimeKnownSequences(t *testing.T) {
	cases := []struct {
		name       string
		seq        []PresenceChange
		from, to   int
		fraction   float64
		known      bool
		outages    []Outage
		reconnects int
	}{
		{name: "online all window", seq: []PresenceChange{change(-10, StateOnline, "")}, from: 0, to: 100, fraction: 1, known: true},
		{name: "nothing known", seq: nil, from: 0, to: 100},
		{name: "disconnect and reconnect within grace",
			seq:  []PresenceChange{change(0, StateOnline, ""), change(20, StateDisconnected, ReasonDisconnected), change(30, StateOnline, "")},
			from: 0, to: 100, fraction: 0.9, known: true, reconnects: 1,
			outages: []Outage{{From: at(20), To: at(30), Reason: ReasonDisconnected}}},
		{name: "disconnect, offline, reconnect",
			seq: []PresenceChange{change(0, StateOnline, ""), change(10, StateDisconnected, ReasonDisconnected),
				change(15, StateOffline, ReasonOffline), change(50, StateOnline, "")},
			from: 0, to: 100, fraction: 0.6, known: true, reconnects: 1,
			outages: []Outage{{From: at(10), To: at(50), Reason: ReasonOffline, OfflineAt: at(15)}}},
		{name: "node lost, still out at the end",
			seq:  []PresenceChange{change(0, StateOnline, ""), change(75, StateDisconnected, ReasonNodeLost)},
			from: 0, to: 100, fraction: 0.75, known: true,
			outages: []Outage{{From: at(75), To: at(100), Reason: ReasonNodeLost, Ongoing: true}}},
		{name: "first seen inside the window: before that is unknown",
			seq:  []PresenceChange{change(50, StateOnline, ""), change(90, StateDisconnected, ReasonDisconnected)},
			from: 0, to: 100, fraction: 0.8, known: true,
			outages: []Outage{{From: at(90), To: at(100), Reason: ReasonDisconnected, Ongoing: true}}},
		{name: "outage that began before the window is clipped, its reconnect counts",
			seq: []PresenceChange{change(-30, StateOnline, ""), change(-20, StateDisconnected, ReasonDisconnected),
				change(-14, StateOffline, ReasonOffline), change(25, StateOnline, "")},
			from: 0, to: 100, fraction: 0.75, known: true, reconnects: 1,
			outages: []Outage{{From: at(0), To: at(25), Reason: ReasonOffline, OfflineAt: at(-14)}}},
		{name: "changes after the window are ignored, two outages",
			seq: []PresenceChange{change(0, StateOnline, ""), change(10, StateDisconnected, ReasonDisconnected), change(20, StateOnline, ""),
				change(40, StateDisconnected, ReasonNodeLost), change(60, StateOnline, ""), change(150, StateDisconnected, ReasonDisconnected)},
			from: 0, to: 100, fraction: 0.7, known: true, reconnects: 2,
			outages: []Outage{{From: at(10), To: at(20), Reason: ReasonDisconnected}, {From: at(40), To: at(60), Reason: ReasonNodeLost}}},
		{name: "a repeated online (takeover) is no reconnect",
			seq:  []PresenceChange{change(0, StateOnline, ""), change(50, StateOnline, "")},
			from: 0, to: 100, fraction: 1, known: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := ComputeUptime(c.seq, at(c.from), at(c.to))
			if u.HasFraction != c.known || u.Fraction != c.fraction {
				t.Errorf("fraction = %v (known %v), want %v (known %v)", u.Fraction, u.HasFraction, c.fraction, c.known)
			}
			if !reflect.DeepEqual(u.Outages, c.outages) {
				t.Errorf("outages = %+v\nwant %+v", u.Outages, c.outages)
			}
			if u.Reconnects != c.reconnects {
				t.Errorf("reconnects = %d, want %d", u.Reconnects, c.reconnects)
			}
		})
	}
}

func TestPresenceSequenceFromAnImportedRecord(t *testing.T) {
	// An original database's record: no history, only its times and state.
	m := Machine{State: StateOnline, LastOnlineTime: at(60), LastDisconnectTime: at(20), LastOfflineTime: at(30)}
	seq := PresenceSequence(m, nil)
	want := []PresenceChange{change(20, StateDisconnected, ReasonDisconnected), change(30, StateOffline, ReasonOffline), change(60, StateOnline, "")}
	if !reflect.DeepEqual(seq, want) {
		t.Fatalf("sequence = %+v\nwant %+v", seq, want)
	}
	u := ComputeUptime(seq, at(0), at(100))
	// Known from minute 20: 80 minutes, online the last 40.
	if u.Fraction != 0.5 || u.Reconnects != 1 || len(u.Outages) != 1 || u.Outages[0].Reason != ReasonOffline {
		t.Fatalf("uptime = %+v", u)
	}
}

func TestPresenceSequenceRecordDoesNotRepeatHistory(t *testing.T) {
	hist := []PresenceChange{change(10, StateOnline, ""), change(20, StateDisconnected, ReasonNodeLost)}
	m := Machine{State: StateDisconnected, LastOnlineTime: at(10), LastDisconnectTime: at(20), LastOfflineTime: at(5)}
	seq := PresenceSequence(m, hist)
	// The record's offline at minute 5 is older than the history: kept.
	want := []PresenceChange{change(5, StateOffline, ReasonOffline), hist[0], hist[1]}
	if !reflect.DeepEqual(seq, want) {
		t.Fatalf("sequence = %+v\nwant %+v", seq, want)
	}
}

func TestPresenceSequenceRecordStateWins(t *testing.T) {
	m := Machine{State: StateOffline, LastOnlineTime: at(10)}
	seq := PresenceSequence(m, nil)
	if len(seq) != 2 || seq[1].State != StateOffline || !seq[1].At.After(at(10)) {
		t.Fatalf("sequence = %+v", seq)
	}
}
