// Package domain holds the detection node's core: machine identity, reported
// machine facts and their validation, presence states and the events that
// presence changes produce. It imports nothing of the project and no library.
package domain

import (
	"fmt"
	"time"
)

// MachineKey identifies one machine across the cluster; it is the unique key of
// machine_connection and machine_info, as in the original node.
type MachineKey struct {
	MachineID   string
	Project     string
	ContainerID string
}

// String renders the key for logs and error messages.
func (k MachineKey) String() string {
	if k.ContainerID == "" {
		return k.Project + "/" + k.MachineID
	}
	return k.Project + "/" + k.MachineID + "/" + k.ContainerID
}

// Validate rejects keys an online request may not bind to: the original
// node requires only machine_id (project and container_id may be empty).
func (k MachineKey) Validate() error {
	if k.MachineID == "" {
		return paramText("machine id is empty")
	}
	return nil
}

// StakingType says how a machine is staked; stored as a number (`stakingtype`).
type StakingType uint8

// Staking types of the wire protocol.
const (
	StakingShortTerm StakingType = 0
	StakingLongTerm  StakingType = 1
	StakingFree      StakingType = 2
)

// Validate rejects staking types the protocol does not define.
func (s StakingType) Validate() error {
	if s > StakingFree {
		return &FieldError{Field: "staking_type", Reason: fmt.Sprintf("must be 0, 1 or 2, got %d", s)}
	}
	return nil
}

// OnlineRequest is what a type-1 message asks for: bind this connection to a machine.
type OnlineRequest struct {
	Key         MachineKey
	StakingType StakingType
}

// Location is where a machine's client IP geolocates; zero when unknown.
type Location struct {
	// CountryCode is the ISO 3166-1 alpha-2 code; Country the database's long name.
	CountryCode string
	Country     string
	Region      string
	City        string
	Latitude    float64
	Longitude   float64
	// IP and LocatedAt say for which client IP and when the location was
	// looked up; a Locator leaves them zero, the session sets them.
	IP        string
	LocatedAt time.Time
}

// Machine is the latest known state of one machine (a machine_info document).
type Machine struct {
	Key                MachineKey
	StakingType        StakingType
	State              State
	NodeID             string
	RegisterTime       time.Time
	LastOnlineTime     time.Time
	LastOfflineTime    time.Time
	LastDisconnectTime time.Time
	LastReportTime     time.Time
	ShortTerm          *ShortTermInfo
	Bandwidth          *BandwidthInfo
	Location           *Location
}

// Report is one machine-info message as stored in the time series.
type Report struct {
	Key       MachineKey
	Timestamp time.Time
	ShortTerm *ShortTermInfo
	Bandwidth *BandwidthInfo
}
