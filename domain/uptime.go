package domain

import (
	"sort"
	"time"
)

// OutageReason says why a machine was not online.
type OutageReason string

// Outage reasons: its connection closed, the node holding it was lost
// (lease expired, or a previous life of that node), or it stayed away past
// the grace period and was declared offline.
const (
	ReasonDisconnected OutageReason = "disconnected"
	ReasonNodeLost     OutageReason = "node_lost"
	ReasonOffline      OutageReason = "offline"
)

// PresenceChange is one recorded presence transition of a machine.
type PresenceChange struct {
	Key   MachineKey
	At    time.Time
	State State
	// Reason is why a machine left online (disconnected, node_lost) or
	// became offline; empty for online.
	Reason OutageReason
	NodeID string
}

// Outage is a stretch of a window during which a machine was not online.
type Outage struct {
	From, To time.Time
	// Reason is offline when the outage reached the offline state, else
	// what started it (disconnected or node_lost).
	Reason OutageReason
	// OfflineAt is when the machine was declared offline during the outage.
	OfflineAt time.Time
	// Ongoing: the outage had not ended by the window's end.
	Ongoing bool
}

// Uptime is a machine's presence over a window.
type Uptime struct {
	From, To time.Time
	// Known is the part of the window after the first thing known of the
	// machine; Online the part of Known it was online.
	Known, Online time.Duration
	// Fraction is Online/Known; HasFraction is false when nothing is known.
	Fraction    float64
	HasFraction bool
	Outages     []Outage
	// Reconnects counts comings online within the window after an outage.
	Reconnects int
}

// PresenceSequence merges a machine's recorded changes with what its record
// says (last online, disconnect and offline times), so that a machine
// imported from an original database, or whose oldest changes expired,
// still has a history. Changes of the record already in the history (same
// state at the same millisecond) are not repeated. The result is ordered
// by time.
func PresenceSequence(m Machine, recorded []PresenceChange) []PresenceChange {
	seq := append([]PresenceChange(nil), recorded...)
	have := make(map[[2]int64]bool, len(seq))
	stateCode := map[State]int64{StateOnline: 1, StateDisconnected: 2, StateOffline: 3}
	for _, c := range seq {
		have[[2]int64{c.At.UnixMilli(), stateCode[c.State]}] = true
	}
	add := func(at time.Time, st State, reason OutageReason) {
		if at.IsZero() || have[[2]int64{at.UnixMilli(), stateCode[st]}] {
			return
		}
		if len(recorded) > 0 && !at.Before(recorded[0].At) {
			return // the history covers this time: a missing change there is no change
		}
		seq = append(seq, PresenceChange{Key: m.Key, At: at, State: st, Reason: reason})
	}
	add(m.LastOnlineTime, StateOnline, "")
	add(m.LastDisconnectTime, StateDisconnected, ReasonDisconnected)
	add(m.LastOfflineTime, StateOffline, ReasonOffline)
	if len(recorded) == 0 && m.State != StateUnknown && len(seq) > 0 {
		// The record's own state is the latest: a record whose times are
		// out of order with its state (imported) ends in its state.
		last := seq[0]
		for _, c := range seq {
			if c.At.After(last.At) {
				last = c
			}
		}
		if last.State != m.State {
			seq = append(seq, PresenceChange{Key: m.Key, At: last.At.Add(time.Millisecond), State: m.State, Reason: reasonOf(m.State)})
		}
	}
	sort.SliceStable(seq, func(i, j int) bool { return seq[i].At.Before(seq[j].At) })
	return seq
}

func reasonOf(s State) OutageReason {
	switch s {
	case StateDisconnected:
		return ReasonDisconnected
	case StateOffline:
		return ReasonOffline
	}
	return ""
}

// ComputeUptime measures a window [from, to) over a time-ordered presence
// sequence (PresenceSequence): how long the machine was online, its
// outages clipped to the window, and how often it came back. Time before
// the first change is unknown and counts neither way.
func ComputeUptime(seq []PresenceChange, from, to time.Time) Uptime {
	u := Uptime{From: from, To: to}
	if !from.Before(to) || len(seq) == 0 {
		return u
	}
	state := StateUnknown
	var open *Outage
	cursor := from
	if seq[0].At.After(from) {
		cursor = seq[0].At
	}
	if cursor.After(to) {
		cursor = to
	}
	u.Known = to.Sub(cursor)
	// advance accounts for [cursor, t) in the current state.
	advance := func(t time.Time) {
		if t.After(to) {
			t = to
		}
		if t.Before(cursor) {
			return
		}
		if state == StateOnline {
			u.Online += t.Sub(cursor)
		}
		cursor = t
	}
	closeOutage := func(at time.Time) {
		if open != nil {
			open.To = at
			if open.To.After(open.From) {
				u.Outages = append(u.Outages, *open)
			}
			open = nil
		}
	}
	for _, c := range seq {
		if !c.At.Before(to) {
			break
		}
		advance(c.At)
		at := c.At
		if at.Before(from) {
			at = from
		}
		switch c.State {
		case StateOnline:
			if state != StateOnline && state != StateUnknown && !c.At.Before(from) {
				u.Reconnects++
			}
			closeOutage(at)
		case StateDisconnected, StateOffline:
			if open == nil {
				reason := c.Reason
				if reason == "" {
					reason = reasonOf(c.State)
				}
				open = &Outage{From: at, Reason: reason}
			}
			if c.State == StateOffline {
				open.Reason = ReasonOffline
				open.OfflineAt = c.At
			}
		}
		state = c.State
	}
	advance(to)
	if open != nil {
		open.Ongoing = true
		closeOutage(to)
	}
	if u.Known > 0 {
		u.Fraction = float64(u.Online) / float64(u.Known)
		u.HasFraction = true
	}
	return u
}
