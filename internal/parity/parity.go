// Package parity holds the original node's own answers for sample inputs
// (copied from the project's shared parity vectors; README.md says what
// each field means), so that tests anywhere in ddn can check that ddn
// computes the same values: calc points, chain tuples, region names and
// coordinates.
package parity

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"math/big"
)

//go:embed score.json
var scoreJSON []byte

//go:embed region.json
var regionJSON []byte

//go:embed coords.json
var coordsJSON []byte

// Step is one scoring step's own result.
type Step struct {
	CalcPoint float64 `json:"calc_point"`
	Error     string  `json:"error"`
}

// Chain is what the original passes to setMachineInfo: the first argument
// (ID) and the tuple. CalcPoint is a uint256 (a negative score's two's
// complement), the other numbers fit an int64.
type Chain struct {
	ID           string   `json:"id"`
	MachineOwner string   `json:"machineOwner"`
	CalcPoint    *big.Int `json:"calcPoint"`
	CPURate      *big.Int `json:"cpuRate"`
	GPUType      string   `json:"gpuType"`
	GPUMem       *big.Int `json:"gpuMem"`
	CPUType      string   `json:"cpuType"`
	GPUCount     *big.Int `json:"gpuCount"`
	MachineID    string   `json:"machineId"`
	Longitude    string   `json:"longitude"`
	Latitude     string   `json:"latitude"`
	MachineMem   *big.Int `json:"machineMem"`
	Region       string   `json:"region"`
	Model        string   `json:"model"`
}

// ScoreCase is a type-2 report of a machine with no score yet and what the
// original made of it.
type ScoreCase struct {
	ID                  string          `json:"id"`
	GPUNames            []string        `json:"gpu_names"`
	GPUMemoryTotal      []int64         `json:"gpu_memory_total"`
	MemoryTotal         int64           `json:"memory_total"`
	CPUType             string          `json:"cpu_type"`
	CPURate             int64           `json:"cpu_rate"`
	Wallet              string          `json:"wallet"`
	CalcPoint           float64         `json:"calc_point"`
	Path                string          `json:"path"`
	Code                uint32          `json:"code"`
	Error               string          `json:"error"`
	Exact               Step            `json:"exact"`
	Fuzzy               Step            `json:"fuzzy"`
	FuzzyCalled         bool            `json:"fuzzy_called"`
	GPUMemoryTotalAfter []int64         `json:"gpu_memory_total_after"`
	Chain               *Chain          `json:"chain"`
	DBMachineInfoST     json.RawMessage `json:"db_machine_info_st"`
	DBMachineTMST       json.RawMessage `json:"db_machine_tm_st"`
}

// Body is the case's type-2 body as an agent sends it.
func (c ScoreCase) Body() []byte {
	b, _ := json.Marshal(map[string]any{"gpu_names": c.GPUNames, "gpu_memory_total": c.GPUMemoryTotal,
		"memory_total": c.MemoryTotal, "cpu_type": c.CPUType, "cpu_rate": c.CPURate, "wallet": c.Wallet})
	return b
}

// The fixed context of every score case.
const (
	MachineID   = "golden-machine-0001"
	ContainerID = "golden-container-0001"
	Project     = "DeepLinkEVM"
	ClientIP    = "203.0.113.7"
	Region      = "Guangdong"
	Latitude    = float32(22.54554)
	Longitude   = float32(114.0683)
)

// RegionCase is an IP2Location record and the bandwidth region the
// original names for it.
type RegionCase struct {
	ID              string `json:"id"`
	CountryShort    string `json:"country_short"`
	CountryLong     string `json:"country_long"`
	Region          string `json:"region"`
	City            string `json:"city"`
	Source          string `json:"source"`
	BandwidthRegion string `json:"bandwidth_region"`
}

// CoordsCase is a location record and what a short-term machine gets from it.
type CoordsCase struct {
	ID             string  `json:"id"`
	Region         string  `json:"region"`
	Latitude       float32 `json:"latitude"`
	Longitude      float32 `json:"longitude"`
	LatitudeF64    float64 `json:"latitude_f64"`
	LongitudeF64   float64 `json:"longitude_f64"`
	ChainLatitude  string  `json:"chain_latitude"`
	ChainLongitude string  `json:"chain_longitude"`
	ChainRegion    string  `json:"chain_region"`
	Source         string  `json:"source"`
	DBStored       struct {
		Longitude float64 `json:"longitude"`
		Latitude  float64 `json:"latitude"`
		Region    string  `json:"region"`
	} `json:"db_stored"`
	JSONStored struct {
		Longitude float32 `json:"longitude"`
		Latitude  float32 `json:"latitude"`
		Region    string  `json:"region"`
	} `json:"json_stored"`
	BandwidthRegion string `json:"bandwidth_region"`
}

// Score returns every score case.
func Score() ([]ScoreCase, error) { return decode[ScoreCase]("score.json", scoreJSON) }

// Regions returns every region case.
func Regions() ([]RegionCase, error) { return decode[RegionCase]("region.json", regionJSON) }

// Coords returns every coordinates case.
func Coords() ([]CoordsCase, error) { return decode[CoordsCase]("coords.json", coordsJSON) }

func decode[T any](name string, data []byte) ([]T, error) {
	var out []T
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("parity %s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("parity %s: no cases", name)
	}
	return out, nil
}
