// Package wire holds the agents' WebSocket protocol on the wire
// (PROTOCOL.md): the envelopes and the body types, in one place for the
// node's adapter, the agent library, the load generator and the calculator
// route. Number types are the original node's: a value that does not fit
// them (a fraction, a cpu_rate beyond int32) does not decode, as there.
package wire

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

	"ddn/domain"
)

// Message types.
const (
	TypeReserved    uint32 = 0
	TypeOnline      uint32 = 1
	TypeShortTerm   uint32 = 2
	TypeNotify      uint32 = 3
	TypeBandwidth   uint32 = 4
	TypeRequestInfo uint32 = 5
)

// Request is a client envelope as the node reads it: pub_key, sign and
// body are kept raw, since body may be a base64 string or inline JSON and
// pub_key/sign may be absent or null.
type Request struct {
	Version   uint32          `json:"version"`
	Timestamp int64           `json:"timestamp"`
	ID        uint64          `json:"id"`
	Type      uint32          `json:"type"`
	PubKey    json.RawMessage `json:"pub_key"`
	Sign      json.RawMessage `json:"sign"`
	Body      json.RawMessage `json:"body"`
}

// Envelope is what an agent sends and what it reads back: the header, the
// answer's code and message, and the body as base64 (what Go encodes for
// []byte).
type Envelope struct {
	Version   uint32 `json:"version"`
	Timestamp int64  `json:"timestamp"`
	ID        uint64 `json:"id"`
	Type      uint32 `json:"type"`
	PubKey    string `json:"pub_key"`
	Sign      string `json:"sign"`
	Code      uint32 `json:"code,omitempty"`
	Message   string `json:"message,omitempty"`
	Body      string `json:"body"`
}

// EncodeRequest is the frame of a request with body (JSON, then base64):
// the bytes json.Marshal writes for its Envelope, appended without
// reflection (the load generator sends tens of thousands a second).
func EncodeRequest(id uint64, typ uint32, timestampMS int64, body any) ([]byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	dst := appendHeader(make([]byte, 0, 96+base64.StdEncoding.EncodedLen(len(raw))), 0, timestampMS, id, typ)
	dst = append(dst, `,"body":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, raw)
	return append(dst, `"}`...), nil
}

// appendHeader opens an envelope with the header fields both directions
// share, up to the empty pub_key and sign.
func appendHeader(dst []byte, version uint32, timestampMS int64, id uint64, typ uint32) []byte {
	dst = append(dst, `{"version":`...)
	dst = strconv.AppendUint(dst, uint64(version), 10)
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, timestampMS, 10)
	dst = append(dst, `,"id":`...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `,"type":`...)
	dst = strconv.AppendUint(dst, uint64(typ), 10)
	return append(dst, `,"pub_key":"","sign":""`...)
}

// Response is a server envelope.
type Response struct {
	Version   uint32
	Timestamp int64
	ID        uint64
	Type      uint32
	Code      uint32
	Message   string
	Body      []byte
}

// AppendResponse writes r in the field order of PROTOCOL.md, with pub_key
// and sign as empty strings and body as base64.
func AppendResponse(dst []byte, r Response) []byte {
	dst = appendHeader(dst, r.Version, r.Timestamp, r.ID, r.Type)
	dst = append(dst, `,"code":`...)
	dst = strconv.AppendUint(dst, uint64(r.Code), 10)
	dst = append(dst, `,"message":`...)
	msg, _ := json.Marshal(r.Message) // a string always marshals
	dst = append(dst, msg...)
	dst = append(dst, `,"body":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, r.Body)
	return append(dst, `"}`...)
}

// Online is the type-1 body.
type Online struct {
	MachineID   string `json:"machine_id"`
	Project     string `json:"project"`
	ContainerID string `json:"container_id"`
	StakingType int64  `json:"staking_type"`
}

// Request is the online the body asks for; a staking type the protocol
// does not define is a parameter error.
func (b Online) Request() (domain.OnlineRequest, error) {
	if b.StakingType < 0 || b.StakingType > int64(domain.StakingFree) {
		return domain.OnlineRequest{}, &domain.FieldError{Field: "staking_type", Reason: fmt.Sprintf("must be 0, 1 or 2, got %d", b.StakingType)}
	}
	return domain.OnlineRequest{Key: domain.MachineKey{MachineID: b.MachineID, Project: b.Project, ContainerID: b.ContainerID},
		StakingType: domain.StakingType(b.StakingType)}, nil
}

// ShortTerm is the type-2 body (GPU machines); gpu_memory_total in MiB as
// nvidia-smi prints it.
type ShortTerm struct {
	CPUType        string   `json:"cpu_type"`
	CPURate        int32    `json:"cpu_rate"`
	GPUNames       []string `json:"gpu_names"`
	GPUMemoryTotal []int32  `json:"gpu_memory_total"`
	MemoryTotal    int64    `json:"memory_total"`
	Wallet         string   `json:"wallet"`
}

// Info is the body as the domain's report.
func (b ShortTerm) Info() domain.ShortTermInfo {
	var mem []int64
	if b.GPUMemoryTotal != nil {
		mem = make([]int64, len(b.GPUMemoryTotal))
		for i, v := range b.GPUMemoryTotal {
			mem[i] = int64(v)
		}
	}
	return domain.ShortTermInfo{CPUType: b.CPUType, CPURate: int64(b.CPURate), GPUNames: b.GPUNames,
		GPUMemoryTotal: mem, MemoryTotal: b.MemoryTotal, Wallet: b.Wallet}
}

// Bandwidth is the type-4 body (bandwidth-mining machines).
type Bandwidth struct {
	CPUCores    int32  `json:"cpu_cores"`
	MemoryTotal int64  `json:"memory_total"`
	HDD         int64  `json:"hdd"`
	Bandwidth   int32  `json:"bandwidth"`
	Wallet      string `json:"wallet"`
}

// Info is the body as the domain's report.
func (b Bandwidth) Info() domain.BandwidthInfo {
	return domain.BandwidthInfo{CPUCores: int64(b.CPUCores), MemoryTotal: b.MemoryTotal, HDD: b.HDD,
		Bandwidth: float64(b.Bandwidth), Wallet: b.Wallet}
}

// Notify is the type-3 body the node sends.
type Notify struct {
	Unregister Unregister `json:"unregister"`
}

// Unregister says the machine was unregistered.
type Unregister struct {
	Message string `json:"message"`
}
