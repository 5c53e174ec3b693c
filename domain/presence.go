package domain

import (
	"fmt"
	"time"
)

// State is a machine's presence as stored in machine_info.state.
type State string

// Presence states. The zero state is a machine never seen.
const (
	StateUnknown      State = ""
	StateOnline       State = "online"
	StateDisconnected State = "disconnected"
	StateOffline      State = "offline"
)

// Trigger is what moves a machine between presence states.
type Trigger string

// Presence triggers.
const (
	// TriggerConnect: a connection went online as the machine.
	TriggerConnect Trigger = "connect"
	// TriggerDisconnect: the connection holding the machine closed.
	TriggerDisconnect Trigger = "disconnect"
	// TriggerGraceExpired: disconnected for longer than the grace period, nowhere connected.
	TriggerGraceExpired Trigger = "grace_expired"
)

// Next is the presence state machine: online from anywhere; disconnected only
// from online; offline only from disconnected.
func (s State) Next(t Trigger) (State, error) {
	switch t {
	case TriggerConnect:
		return StateOnline, nil
	case TriggerDisconnect:
		if s == StateOnline {
			return StateDisconnected, nil
		}
	case TriggerGraceExpired:
		if s == StateDisconnected {
			return StateOffline, nil
		}
	}
	return s, fmt.Errorf("%w: %s on %q", ErrInvalidTransition, t, s)
}

// GraceExpired tells whether a machine disconnected at since is due to go
// offline at now under the given grace period.
func GraceExpired(since, now time.Time, grace time.Duration) bool {
	return !since.IsZero() && now.Sub(since) >= grace
}
