package domain

import (
	"math"
	"strconv"
)

// ReportType is the first argument of the report contract's `report` call:
// what happened to a machine, in the contract's numbering.
type ReportType uint8

// Report types of the report contract (DESIGN.md, "Integrations").
const (
	ReportContractRegister  ReportType = 0
	ReportMachineRegister   ReportType = 1
	ReportMachineUnregister ReportType = 2
	ReportMachineOnline     ReportType = 3
	ReportMachineOffline    ReportType = 4
)

// ChainState is what the report contract knows of a machine; it decides
// whether a machine may go online and whether an online must be reported.
type ChainState struct {
	Online     bool
	Registered bool
}

// ChainMachineInfo is the tuple of the machine-info contract's
// setMachineInfo, in the contract's field order and units, so that the
// mapping from a report is a domain rule and the adapter only encodes it.
type ChainMachineInfo struct {
	MachineOwner string
	// CalcPoint is the score times 10000, rounded.
	CalcPoint uint64
	CPURate   uint64
	GPUType   string
	GPUMem    uint64
	CPUType   string
	GPUCount  uint64
	// MachineID is the container id (the first argument carries the machine id).
	MachineID  string
	Longitude  string
	Latitude   string
	MachineMem uint64
	Region     string
	Model      string
}

// ChainBandwidthInfo is the tuple of the machine-info contract's setBandWidthInfos.
type ChainBandwidthInfo struct {
	MachineOwner string
	MachineID    string
	CPUCores     uint64
	MachineMem   uint64
	Region       string
	HDD          uint64
	Bandwidth    uint64
}

// NewChainMachineInfo maps a stored type-2 report onto the contract's tuple:
// score × 10000, the first GPU's name and memory, coordinates as decimal strings.
func NewChainMachineInfo(key MachineKey, i ShortTermInfo) ChainMachineInfo {
	out := ChainMachineInfo{
		MachineOwner: i.Wallet,
		CalcPoint:    uint64(math.Round(max(i.CalcPoint, 0) * 10000)),
		CPURate:      uint64(max(i.CPURate, 0)),
		CPUType:      i.CPUType,
		GPUCount:     uint64(len(i.GPUNames)),
		MachineID:    key.ContainerID,
		Longitude:    strconv.FormatFloat(i.Longitude, 'f', -1, 64),
		Latitude:     strconv.FormatFloat(i.Latitude, 'f', -1, 64),
		MachineMem:   uint64(max(i.MemoryTotal, 0)),
		Region:       i.Region,
	}
	if len(i.GPUNames) > 0 {
		out.GPUType = i.GPUNames[0]
	}
	if len(i.GPUMemoryTotal) > 0 {
		out.GPUMem = uint64(max(i.GPUMemoryTotal[0], 0))
	}
	return out
}

// NewChainBandwidthInfo maps a stored type-4 report onto the contract's tuple
// (bandwidth in whole Mbps, rounded).
func NewChainBandwidthInfo(key MachineKey, i BandwidthInfo) ChainBandwidthInfo {
	return ChainBandwidthInfo{
		MachineOwner: i.Wallet,
		MachineID:    key.ContainerID,
		CPUCores:     uint64(max(i.CPUCores, 0)),
		MachineMem:   uint64(max(i.MemoryTotal, 0)),
		Region:       i.Region,
		HDD:          uint64(max(i.HDD, 0)),
		Bandwidth:    uint64(math.Round(max(i.Bandwidth, 0))),
	}
}
