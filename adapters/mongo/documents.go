package mongo

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"ddn/domain"
)

// Document shapes. Field names are the original node's, so its databases
// are read as they are; fields it did not have are omitted when empty, and
// decoding tolerates their absence and int32/int64/double numbers.

type keyDoc struct {
	MachineID   string `bson:"machine_id"`
	Project     string `bson:"project"`
	ContainerID string `bson:"container_id"`
}

func keyOf(k domain.MachineKey) keyDoc { return keyDoc{k.MachineID, k.Project, k.ContainerID} }

func (k keyDoc) domain() domain.MachineKey {
	return domain.MachineKey{MachineID: k.MachineID, Project: k.Project, ContainerID: k.ContainerID}
}

// keyFilter selects a machine's machine_info or machine_connection document.
func keyFilter(k domain.MachineKey) bson.D {
	return bson.D{{Key: "machine_id", Value: k.MachineID}, {Key: "project", Value: k.Project}, {Key: "container_id", Value: k.ContainerID}}
}

type shortTermDoc struct {
	GPUNames       []string `bson:"gpu_names,omitempty"`
	GPUMemoryTotal []int64  `bson:"gpu_memory_total,omitempty"`
	MemoryTotal    int64    `bson:"memory_total,omitempty"`
	CPUType        string   `bson:"cpu_type,omitempty"`
	CPURate        int64    `bson:"cpu_rate,omitempty"`
	Wallet         string   `bson:"wallet,omitempty"`
	ClientIP       string   `bson:"client_ip,omitempty"`
	CalcPoint      float64  `bson:"calc_point,omitempty"`
	Longitude      float64  `bson:"longitude,omitempty"`
	Latitude       float64  `bson:"latitude,omitempty"`
	Region         string   `bson:"region,omitempty"`
}

func shortTermOf(i domain.ShortTermInfo) *shortTermDoc {
	return &shortTermDoc{i.GPUNames, i.GPUMemoryTotal, i.MemoryTotal, i.CPUType, i.CPURate, i.Wallet, i.ClientIP, i.CalcPoint, i.Longitude, i.Latitude, i.Region}
}

// empty tells whether a deeplink_st holds nothing: the original node wrote
// `deeplink_st: {}` into every machine it registered. Such a machine has
// no short-term info yet (so its first type-2 report sets it on chain).
func (d *shortTermDoc) empty() bool {
	return len(d.GPUNames) == 0 && len(d.GPUMemoryTotal) == 0 && d.MemoryTotal == 0 && d.CPUType == "" && d.CPURate == 0 &&
		d.Wallet == "" && d.ClientIP == "" && d.CalcPoint == 0 && d.Longitude == 0 && d.Latitude == 0 && d.Region == ""
}

func (d *shortTermDoc) domain() *domain.ShortTermInfo {
	if d == nil || d.empty() {
		return nil
	}
	return &domain.ShortTermInfo{GPUNames: d.GPUNames, GPUMemoryTotal: d.GPUMemoryTotal, MemoryTotal: d.MemoryTotal,
		CPUType: d.CPUType, CPURate: d.CPURate, Wallet: d.Wallet, ClientIP: d.ClientIP, CalcPoint: d.CalcPoint,
		Longitude: d.Longitude, Latitude: d.Latitude, Region: d.Region}
}

type bandwidthDoc struct {
	CPUCores    int64   `bson:"cpu_cores,omitempty"`
	MemoryTotal int64   `bson:"memory_total,omitempty"`
	HDD         int64   `bson:"hdd,omitempty"`
	Bandwidth   float64 `bson:"bandwidth,omitempty"`
	Wallet      string  `bson:"wallet,omitempty"`
	ClientIP    string  `bson:"client_ip,omitempty"`
	Region      string  `bson:"region,omitempty"`
}

func bandwidthOf(i domain.BandwidthInfo) *bandwidthDoc {
	return &bandwidthDoc{i.CPUCores, i.MemoryTotal, i.HDD, i.Bandwidth, i.Wallet, i.ClientIP, i.Region}
}

// empty tells whether a deeplink_bw holds nothing (`deeplink_bw: {}`, as
// the original wrote it for every machine it registered).
func (d *bandwidthDoc) empty() bool { return *d == bandwidthDoc{} }

func (d *bandwidthDoc) domain() *domain.BandwidthInfo {
	if d == nil || d.empty() {
		return nil
	}
	return &domain.BandwidthInfo{CPUCores: d.CPUCores, MemoryTotal: d.MemoryTotal, HDD: d.HDD, Bandwidth: d.Bandwidth,
		Wallet: d.Wallet, ClientIP: d.ClientIP, Region: d.Region}
}

type locationDoc struct {
	CountryCode string    `bson:"country_code,omitempty"`
	IP          string    `bson:"ip,omitempty"`
	LocatedAt   time.Time `bson:"located_at,omitempty"`
	Country     string    `bson:"country,omitempty"`
	Region      string    `bson:"region,omitempty"`
	City        string    `bson:"city,omitempty"`
	Latitude    float64   `bson:"latitude,omitempty"`
	Longitude   float64   `bson:"longitude,omitempty"`
}

// machineDoc is a machine_info document.
type machineDoc struct {
	ID                 any           `bson:"_id,omitempty"`
	Key                keyDoc        `bson:",inline"`
	StakingType        int64         `bson:"stakingtype"`
	State              string        `bson:"state,omitempty"`
	NodeID             string        `bson:"node_id,omitempty"`
	RegisterTime       time.Time     `bson:"register_time,omitempty"`
	LastOnlineTime     time.Time     `bson:"last_online_time,omitempty"`
	LastOfflineTime    time.Time     `bson:"last_offline_time,omitempty"`
	LastDisconnectTime time.Time     `bson:"last_disconnect_time,omitempty"`
	LastReportTime     time.Time     `bson:"last_report_time,omitempty"`
	ShortTerm          *shortTermDoc `bson:"deeplink_st,omitempty"`
	Bandwidth          *bandwidthDoc `bson:"deeplink_bw,omitempty"`
	Location           *locationDoc  `bson:"location,omitempty"`
}

func (d machineDoc) domain() domain.Machine {
	m := domain.Machine{
		Key: d.Key.domain(), StakingType: domain.StakingType(d.StakingType), State: domain.State(d.State), NodeID: d.NodeID,
		RegisterTime: utc(d.RegisterTime), LastOnlineTime: utc(d.LastOnlineTime), LastOfflineTime: utc(d.LastOfflineTime),
		LastDisconnectTime: utc(d.LastDisconnectTime), LastReportTime: utc(d.LastReportTime),
		ShortTerm: d.ShortTerm.domain(), Bandwidth: d.Bandwidth.domain(),
	}
	if d.Location != nil {
		m.Location = &domain.Location{CountryCode: d.Location.CountryCode, Country: d.Location.Country, Region: d.Location.Region,
			City: d.Location.City, Latitude: d.Location.Latitude, Longitude: d.Location.Longitude,
			IP: d.Location.IP, LocatedAt: utc(d.Location.LocatedAt)}
	}
	return m
}

// connectionDoc is a machine_connection document.
type connectionDoc struct {
	ID       any       `bson:"_id,omitempty"`
	Key      keyDoc    `bson:",inline"`
	AddTime  time.Time `bson:"add_time"`
	NodeID   string    `bson:"node_id,omitempty"`
	ConnID   string    `bson:"conn_id,omitempty"`
	ClientIP string    `bson:"client_ip,omitempty"`
}

// nodeDoc is a nodes document.
type nodeDoc struct {
	ID          string    `bson:"_id"`
	Addr        string    `bson:"addr"`
	Version     string    `bson:"version"`
	StartedAt   time.Time `bson:"started_at"`
	HeartbeatAt time.Time `bson:"heartbeat_at"`
	BootID      string    `bson:"boot_id,omitempty"`
	Seq         int64     `bson:"seq,omitempty"`
}

// reportDoc is a machine_tm document.
type reportDoc struct {
	Timestamp time.Time     `bson:"timestamp"`
	Machine   keyDoc        `bson:"machine"`
	ShortTerm *shortTermDoc `bson:"deeplink_st,omitempty"`
	Bandwidth *bandwidthDoc `bson:"deeplink_bw,omitempty"`
}

// utc normalises decoded times (the driver decodes into local time) and
// keeps the zero time zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
