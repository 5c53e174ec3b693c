package domain

import (
	"fmt"
	"slices"
)

// ShortTermInfo is what a GPU (DeepLink short-term rental) machine reports in a
// type-2 message, plus the facts the node derives from it (client IP, score,
// location). Units: CPURate MHz, GPUMemoryTotal GB per GPU, MemoryTotal GB.
type ShortTermInfo struct {
	GPUNames       []string
	GPUMemoryTotal []int64
	MemoryTotal    int64
	CPUType        string
	CPURate        int64
	Wallet         string

	ClientIP  string
	CalcPoint float64
	Longitude float64
	Latitude  float64
	Region    string
}

// Validate enforces the protocol rule: every reported field present and non-zero,
// one memory entry per GPU.
func (i ShortTermInfo) Validate() error {
	switch {
	case i.CPUType == "":
		return &FieldError{Field: "cpu_type", Reason: "is required"}
	case i.CPURate <= 0:
		return &FieldError{Field: "cpu_rate", Reason: "must be a positive number of MHz"}
	case len(i.GPUNames) == 0:
		return &FieldError{Field: "gpu_names", Reason: "must name at least one GPU"}
	case len(i.GPUMemoryTotal) != len(i.GPUNames):
		return &FieldError{Field: "gpu_memory_total", Reason: fmt.Sprintf("has %d entries for %d gpu_names", len(i.GPUMemoryTotal), len(i.GPUNames))}
	case i.MemoryTotal <= 0:
		return &FieldError{Field: "memory_total", Reason: "must be a positive number of GB"}
	case i.Wallet == "":
		return &FieldError{Field: "wallet", Reason: "is required"}
	}
	for n, name := range i.GPUNames {
		if name == "" {
			return &FieldError{Field: fmt.Sprintf("gpu_names[%d]", n), Reason: "is empty"}
		}
	}
	for n, mem := range i.GPUMemoryTotal {
		if mem <= 0 {
			return &FieldError{Field: fmt.Sprintf("gpu_memory_total[%d]", n), Reason: "must be a positive number of GB"}
		}
	}
	return nil
}

// SameReport tells whether two infos carry the same reported content, so that
// machine_info is rewritten only when a machine's facts change.
func (i ShortTermInfo) SameReport(o ShortTermInfo) bool {
	return slices.Equal(i.GPUNames, o.GPUNames) &&
		slices.Equal(i.GPUMemoryTotal, o.GPUMemoryTotal) &&
		i.MemoryTotal == o.MemoryTotal && i.CPUType == o.CPUType &&
		i.CPURate == o.CPURate && i.Wallet == o.Wallet && i.ClientIP == o.ClientIP
}

// BandwidthInfo is what a bandwidth-mining machine reports in a type-4 message,
// plus derived facts. Units: MemoryTotal GB, HDD GB, Bandwidth Mbps.
type BandwidthInfo struct {
	CPUCores    int64
	MemoryTotal int64
	HDD         int64
	Bandwidth   float64
	Wallet      string

	ClientIP string
	Region   string
}

// Validate enforces the protocol rule: every reported field present and non-zero.
func (i BandwidthInfo) Validate() error {
	switch {
	case i.CPUCores <= 0:
		return &FieldError{Field: "cpu_cores", Reason: "must be a positive number"}
	case i.MemoryTotal <= 0:
		return &FieldError{Field: "memory_total", Reason: "must be a positive number of GB"}
	case i.HDD <= 0:
		return &FieldError{Field: "hdd", Reason: "must be a positive number of GB"}
	case i.Bandwidth <= 0:
		return &FieldError{Field: "bandwidth", Reason: "must be a positive number of Mbps"}
	case i.Wallet == "":
		return &FieldError{Field: "wallet", Reason: "is required"}
	}
	return nil
}

// SameReport tells whether two infos carry the same reported content.
func (i BandwidthInfo) SameReport(o BandwidthInfo) bool {
	return i.CPUCores == o.CPUCores && i.MemoryTotal == o.MemoryTotal && i.HDD == o.HDD &&
		i.Bandwidth == o.Bandwidth && i.Wallet == o.Wallet && i.ClientIP == o.ClientIP
}
