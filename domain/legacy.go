package domain

import "time"

// LegacyPresence is the presence given to a machine_info document without a
// state (written by the original node, which kept none): the state, since
// when it is disconnected, and the node of its claim when it is online.
type LegacyPresence struct {
	Key    MachineKey
	State  State
	NodeID string
	// Since is the disconnect time of a machine classified disconnected.
	Since time.Time
}

// ClassifyLegacy gives a presence to a machine that has none, from what the
// original node wrote: its claim in machine_connection and its
// last_offline_time / last_disconnect_time. The grace rules then apply to
// it like to any machine:
//
//   - claimed (a machine_connection document): online, held by the claim's
//     node; a claim of no live node (the original's have none) is released
//     by the sweeper, and the grace period runs from then;
//   - last_offline_time set and not before last_disconnect_time: offline
//     (the original already handled its offline);
//   - otherwise down at the switch: disconnected since now, so it goes
//     offline once the grace period has passed (the original likewise gave
//     every machine not connected a fresh grace period at its start), and
//     the offline policy decides whether the chain hears of it.
func ClassifyLegacy(m Machine, claimed bool, claimNode string, now time.Time) LegacyPresence {
	p := LegacyPresence{Key: m.Key}
	switch {
	case claimed:
		p.State, p.NodeID = StateOnline, claimNode
	case !m.LastOfflineTime.IsZero() && !m.LastOfflineTime.Before(m.LastDisconnectTime):
		p.State = StateOffline
	default:
		p.State, p.Since = StateDisconnected, now
	}
	return p
}
