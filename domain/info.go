package domain

import (
	"fmt"
	"slices"
)

// ShortTermInfo is what a GPU (DeepLink short-term rental) machine reports in a
// type-2 message, plus the facts the node derives from it (client IP, score,
// location). Units: CPURate MHz; GPUMemoryTotal as reported (MiB, as
// nvidia-smi prints it), and GB once a score converted it; MemoryTotal GB.
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

// paramText is a parameter error (code 1) answered with the original's words.
func paramText(text string) error { return &TextError{Err: ErrInvalidParam, Text: text} }

// Validate is the original node's check, in its order and words: lists
// non-empty and the other fields non-zero. Lists of different lengths and
// negative numbers pass, as they did there (ValidateStrict refuses them).
func (i ShortTermInfo) Validate() error {
	switch {
	case len(i.GPUNames) == 0:
		return paramText("empty gpu names")
	case len(i.GPUMemoryTotal) == 0:
		return paramText("empty gpu memory total")
	case i.MemoryTotal == 0:
		return paramText("invalid memory total")
	case i.CPUType == "":
		return paramText("empty cpu type")
	case i.CPURate == 0:
		return paramText("invalid cpu rate")
	case i.Wallet == "":
		return paramText("empty wallet")
	}
	return nil
}

// ValidateStrict is ddn's own, stricter rule (Score.StrictInfo): every
// reported field present and positive, one memory entry per GPU.
func (i ShortTermInfo) ValidateStrict() error {
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

// Validate is the original node's check, in its order and words: every
// field non-zero (negative numbers pass, as they did there).
func (i BandwidthInfo) Validate() error {
	switch {
	case i.CPUCores == 0:
		return paramText("invalid cpu cores")
	case i.MemoryTotal == 0:
		return paramText("invalid memory total")
	case i.HDD == 0:
		return paramText("invalid hdd")
	case i.Bandwidth == 0:
		return paramText("invalid bandwidth")
	case i.Wallet == "":
		return paramText("empty wallet")
	}
	return nil
}

// ValidateStrict is ddn's own, stricter rule: every field present and positive.
func (i BandwidthInfo) ValidateStrict() error {
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
