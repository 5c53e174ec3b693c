package domain

import "strconv"

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
// setMachineInfo, in the contract's field order, holding exactly the values
// the original node sends (parity/score.json), so that the mapping from a
// report is a domain rule and the adapter only encodes it. Numbers are the
// original's signed values; the contract's uint256 takes a negative one as
// its 256-bit two's complement, as the original's encoder did.
type ChainMachineInfo struct {
	// MachineOwner is the reported wallet as sent; the adapter reads it as
	// an address the way go-ethereum's HexToAddress does.
	MachineOwner string
	// CalcPoint is the score times 10000, truncated toward zero.
	CalcPoint int64
	CPURate   int64
	GPUType   string
	GPUMem    int64
	CPUType   string
	GPUCount  int64
	// MachineID is the container id (the first argument carries the machine id).
	MachineID  string
	Longitude  string
	Latitude   string
	MachineMem int64
	Region     string
	Model      string
}

// ChainBandwidthInfo is the tuple of the machine-info contract's setBandWidthInfos.
type ChainBandwidthInfo struct {
	MachineOwner string
	MachineID    string
	CPUCores     int64
	MachineMem   int64
	Region       string
	HDD          int64
	Bandwidth    int64
}

// NewChainMachineInfo maps a scored type-2 report onto the contract's tuple
// as the original does: int64(score × 10000), the first GPU's name and
// (converted) memory, the number of reported GPUs, and the coordinates as
// the 6-decimal form of their float32 values.
func NewChainMachineInfo(key MachineKey, i ShortTermInfo) ChainMachineInfo {
	out := ChainMachineInfo{
		MachineOwner: i.Wallet,
		CalcPoint:    int64(i.CalcPoint * 10000),
		CPURate:      i.CPURate,
		CPUType:      i.CPUType,
		GPUCount:     int64(len(i.GPUNames)),
		MachineID:    key.ContainerID,
		Longitude:    ChainCoordinate(i.Longitude),
		Latitude:     ChainCoordinate(i.Latitude),
		MachineMem:   i.MemoryTotal,
		Region:       i.Region,
	}
	if len(i.GPUNames) > 0 {
		out.GPUType = i.GPUNames[0]
	}
	if len(i.GPUMemoryTotal) > 0 {
		out.GPUMem = i.GPUMemoryTotal[0]
	}
	return out
}

// ChainCoordinate formats a longitude or latitude as the original sends it:
// its float32 value (what the geolocation database holds) with 6 decimals.
func ChainCoordinate(v float64) string { return strconv.FormatFloat(float64(float32(v)), 'f', 6, 32) }

// NewChainBandwidthInfo maps a stored type-4 report onto the contract's tuple.
func NewChainBandwidthInfo(key MachineKey, i BandwidthInfo) ChainBandwidthInfo {
	return ChainBandwidthInfo{
		MachineOwner: i.Wallet,
		MachineID:    key.ContainerID,
		CPUCores:     i.CPUCores,
		MachineMem:   i.MemoryTotal,
		Region:       i.Region,
		HDD:          i.HDD,
		Bandwidth:    int64(i.Bandwidth),
	}
}
