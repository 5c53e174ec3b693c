package httpapi

import (
	"time"

	"ddn/domain"
)

// shortTermView is a GPU machine's reported info as the API shows it: the
// protocol's field names plus what ddn adds (client IP, score, location).
type shortTermView struct {
	GPUNames       []string `json:"gpu_names"`
	GPUMemoryTotal []int64  `json:"gpu_memory_total"`
	MemoryTotal    int64    `json:"memory_total"`
	CPUType        string   `json:"cpu_type"`
	CPURate        int64    `json:"cpu_rate"`
	Wallet         string   `json:"wallet"`
	ClientIP       string   `json:"client_ip,omitempty"`
	CalcPoint      float64  `json:"calc_point,omitempty"`
	Longitude      float64  `json:"longitude,omitempty"`
	Latitude       float64  `json:"latitude,omitempty"`
	Region         string   `json:"region,omitempty"`
}

// bandwidthView is a bandwidth machine's reported info as the API shows it.
type bandwidthView struct {
	CPUCores    int64   `json:"cpu_cores"`
	MemoryTotal int64   `json:"memory_total"`
	HDD         int64   `json:"hdd"`
	Bandwidth   float64 `json:"bandwidth"`
	Wallet      string  `json:"wallet"`
	ClientIP    string  `json:"client_ip,omitempty"`
	Region      string  `json:"region,omitempty"`
}

// locationView is where a machine's client IP geolocates.
type locationView struct {
	Country     string  `json:"country"`
	CountryCode string  `json:"country_code,omitempty"`
	Region      string  `json:"region"`
	City        string  `json:"city"`
	Latitude    float64 `json:"latitude"`
	Longitude   float64 `json:"longitude"`
}

// machineView is a machine as the query API answers it and as an export
// line carries it (with kind "machine"), so an export imports back as is.
type machineView struct {
	Kind               string         `json:"kind,omitempty"`
	MachineID          string         `json:"machine_id"`
	Project            string         `json:"project"`
	ContainerID        string         `json:"container_id"`
	StakingType        uint8          `json:"staking_type"`
	State              string         `json:"state"`
	NodeID             string         `json:"node_id,omitempty"`
	RegisterTime       time.Time      `json:"register_time,omitzero"`
	LastOnlineTime     time.Time      `json:"last_online_time,omitzero"`
	LastOfflineTime    time.Time      `json:"last_offline_time,omitzero"`
	LastDisconnectTime time.Time      `json:"last_disconnect_time,omitzero"`
	LastReportTime     time.Time      `json:"last_report_time,omitzero"`
	ShortTerm          *shortTermView `json:"deeplink_st,omitempty"`
	Bandwidth          *bandwidthView `json:"deeplink_bw,omitempty"`
	Location           *locationView  `json:"location,omitempty"`
}

// connectionView is the cluster's claim of a connected machine: the node
// holding its WebSocket, its client IP and since when (null when not connected).
type connectionView struct {
	NodeID   string    `json:"node_id"`
	ClientIP string    `json:"client_ip"`
	Since    time.Time `json:"since"`
}

// reportView is one stored report; the machine's key is present in exports
// (kind "report") and omitted in a machine's own time series.
type reportView struct {
	Kind        string         `json:"kind,omitempty"`
	MachineID   string         `json:"machine_id,omitempty"`
	Project     string         `json:"project,omitempty"`
	ContainerID string         `json:"container_id,omitempty"`
	Timestamp   time.Time      `json:"timestamp"`
	ShortTerm   *shortTermView `json:"deeplink_st,omitempty"`
	Bandwidth   *bandwidthView `json:"deeplink_bw,omitempty"`
}

func shortTermOf(i *domain.ShortTermInfo) *shortTermView {
	if i == nil {
		return nil
	}
	return &shortTermView{i.GPUNames, i.GPUMemoryTotal, i.MemoryTotal, i.CPUType, i.CPURate, i.Wallet, i.ClientIP, i.CalcPoint, i.Longitude, i.Latitude, i.Region}
}

func (v *shortTermView) domain() *domain.ShortTermInfo {
	if v == nil {
		return nil
	}
	return &domain.ShortTermInfo{GPUNames: v.GPUNames, GPUMemoryTotal: v.GPUMemoryTotal, MemoryTotal: v.MemoryTotal, CPUType: v.CPUType,
		CPURate: v.CPURate, Wallet: v.Wallet, ClientIP: v.ClientIP, CalcPoint: v.CalcPoint, Longitude: v.Longitude, Latitude: v.Latitude, Region: v.Region}
}

func bandwidthOf(i *domain.BandwidthInfo) *bandwidthView {
	if i == nil {
		return nil
	}
	return &bandwidthView{i.CPUCores, i.MemoryTotal, i.HDD, i.Bandwidth, i.Wallet, i.ClientIP, i.Region}
}

func (v *bandwidthView) domain() *domain.BandwidthInfo {
	if v == nil {
		return nil
	}
	return &domain.BandwidthInfo{CPUCores: v.CPUCores, MemoryTotal: v.MemoryTotal, HDD: v.HDD, Bandwidth: v.Bandwidth, Wallet: v.Wallet, ClientIP: v.ClientIP, Region: v.Region}
}

func machineOf(m domain.Machine) machineView {
	v := machineView{MachineID: m.Key.MachineID, Project: m.Key.Project, ContainerID: m.Key.ContainerID,
		StakingType: uint8(m.StakingType), State: string(m.State), NodeID: m.NodeID, RegisterTime: m.RegisterTime,
		LastOnlineTime: m.LastOnlineTime, LastOfflineTime: m.LastOfflineTime, LastDisconnectTime: m.LastDisconnectTime,
		LastReportTime: m.LastReportTime, ShortTerm: shortTermOf(m.ShortTerm), Bandwidth: bandwidthOf(m.Bandwidth)}
	if l := m.Location; l != nil {
		v.Location = &locationView{Country: l.Country, CountryCode: l.CountryCode, Region: l.Region, City: l.City, Latitude: l.Latitude, Longitude: l.Longitude}
	}
	return v
}

func (v machineView) key() domain.MachineKey {
	return domain.MachineKey{MachineID: v.MachineID, Project: v.Project, ContainerID: v.ContainerID}
}

func (v machineView) domain() domain.Machine {
	m := domain.Machine{Key: v.key(), StakingType: domain.StakingType(v.StakingType), State: domain.State(v.State), NodeID: v.NodeID,
		RegisterTime: v.RegisterTime.UTC(), LastOnlineTime: v.LastOnlineTime.UTC(), LastOfflineTime: v.LastOfflineTime.UTC(),
		LastDisconnectTime: v.LastDisconnectTime.UTC(), LastReportTime: v.LastReportTime.UTC(),
		ShortTerm: v.ShortTerm.domain(), Bandwidth: v.Bandwidth.domain()}
	if l := v.Location; l != nil {
		m.Location = &domain.Location{Country: l.Country, CountryCode: l.CountryCode, Region: l.Region, City: l.City, Latitude: l.Latitude, Longitude: l.Longitude}
	}
	return m
}

func reportOf(r domain.Report, withKey bool) reportView {
	v := reportView{Timestamp: r.Timestamp, ShortTerm: shortTermOf(r.ShortTerm), Bandwidth: bandwidthOf(r.Bandwidth)}
	if withKey {
		v.Kind, v.MachineID, v.Project, v.ContainerID = "report", r.Key.MachineID, r.Key.Project, r.Key.ContainerID
	}
	return v
}
