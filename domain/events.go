package domain

import "time"

// EventKind names a domain event.
type EventKind string

// Domain events: presence transitions and first reports, which drive the
// chain, the webhook and metrics.
const (
	EventOnline       EventKind = "online"
	EventDisconnected EventKind = "disconnected"
	EventOffline      EventKind = "offline"
	// EventShortTermInfo: a machine's type-2 content was stored because it is
	// new or changed (chain: set machine info).
	EventShortTermInfo EventKind = "short_term_info"
	// EventBandwidthInfo: a machine's type-4 content was stored because it is
	// new or changed (chain: set bandwidth info).
	EventBandwidthInfo EventKind = "bandwidth_info"
	// EventContractRegister, ...Unregister, ...Online and ...Offline are the
	// operator's contract management commands (chain: report 1, 2, 3, 4).
	EventContractRegister   EventKind = "contract_register"
	EventContractUnregister EventKind = "contract_unregister"
	EventContractOnline     EventKind = "contract_online"
	EventContractOffline    EventKind = "contract_offline"
	// EventChainOnline: a machine came back within the grace period (no
	// presence transition) but the chain shows it offline: it is reported
	// online again (chain: report 3 unless already online; the webhook
	// hears of it like of an online, as the original notified after every
	// online report it sent).
	EventChainOnline EventKind = "chain_online"
	// EventOfflineRentCheck: an offline machine that was not rented (or
	// whose rent could not be read) is asked again a while later; rented
	// by then, it gets its offline penalty (chain: report 4; the webhook
	// hears of it only when that transaction was sent).
	EventOfflineRentCheck EventKind = "offline_rent_check"
)

// Event is something that happened to a machine, published after it is stored.
type Event struct {
	Kind        EventKind
	Key         MachineKey
	StakingType StakingType
	NodeID      string
	At          time.Time
	// Previous is the state before the transition (presence events only).
	Previous State
	// Since is when the previous state began, when that identifies the
	// transition (offline: the disconnect time every sweeper read).
	Since time.Time
	// ShortTerm or Bandwidth carry the stored content of an info event.
	ShortTerm *ShortTermInfo
	Bandwidth *BandwidthInfo
	// ReportTxHash is the transaction the chain target sent for the event
	// (an offline penalty), handed to the targets that follow it; empty
	// when none was sent.
	ReportTxHash string
}
