package websocket

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"ddn/domain"
)

// Message types of the wire protocol.
const (
	typeReserved  uint32 = 0
	typeOnline    uint32 = 1
	typeShortTerm uint32 = 2
	typeNotify    uint32 = 3
	typeBandwidth uint32 = 4
)

// request is a decoded client envelope.
type request struct {
	Version   uint32          `json:"version"`
	Timestamp int64           `json:"timestamp"`
	ID        uint64          `json:"id"`
	Type      uint32          `json:"type"`
	PubKey    json.RawMessage `json:"pub_key"`
	Sign      json.RawMessage `json:"sign"`
	RawBody   json.RawMessage `json:"body"`
}

// wireError is a failure the protocol answers with a code and message of
// its own; cause, when set, is the detail for logs.
type wireError struct {
	code  domain.Code
	msg   string
	cause error
}

func (e *wireError) Error() string {
	if e.cause != nil {
		return e.msg + ": " + e.cause.Error()
	}
	return e.msg
}

func (e *wireError) Unwrap() error { return e.cause }

func parseError(format string, args ...any) error {
	return &wireError{code: domain.CodeParse, msg: fmt.Sprintf(format, args...)}
}

func paramError(format string, args ...any) error {
	return &wireError{code: domain.CodeParameter, msg: fmt.Sprintf(format, args...)}
}

// errParseRequest answers a frame whose envelope (or base64 body) cannot be
// read, with id 0 and type 0, in the original node's words.
func errParseRequest(cause error) error {
	return &wireError{code: domain.CodeParameter, msg: "parse request failed", cause: cause}
}

// decodeRequest parses one text frame's envelope. On error the returned
// request holds whatever header fields could be read (zero otherwise) and
// the error is errParseRequest.
func decodeRequest(frame []byte) (request, error) {
	var r request
	if err := json.Unmarshal(frame, &r); err != nil {
		return r, errParseRequest(err)
	}
	return r, nil
}

// body returns the body bytes: base64 in a JSON string (what Go encodes for
// []byte), or a JSON object or array written inline. A body that is
// neither fails the request as the original node's envelope decoding did.
func (r request) body() ([]byte, error) {
	raw := bytes.TrimSpace(r.RawBody)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, errParseRequest(fmt.Errorf("body is not a valid JSON string: %w", err))
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, errParseRequest(fmt.Errorf("body is not valid base64: %w", err))
		}
		return b, nil
	case raw[0] == '{' || raw[0] == '[':
		return raw, nil
	}
	return nil, errParseRequest(errors.New("body must be a base64 string or a JSON object"))
}

// Body decoding failures, prefixed as the original node answers them (code 1).
const (
	onlineBodyFailed    = "parse online request failed"
	shortTermBodyFailed = "parse machine info request failed"
	bandwidthBodyFailed = "parse machine info bandwidth request failed"
)

// decodeBody parses a body into v with encoding/json; a failure is a
// parameter error (1) answered as "<failed>: <encoding/json's error>", as
// the original's.
func decodeBody(body []byte, failed string, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return paramError("%s: %v", failed, err)
	}
	return nil
}

type onlineBody struct {
	MachineID   string `json:"machine_id"`
	Project     string `json:"project"`
	ContainerID string `json:"container_id"`
	StakingType int64  `json:"staking_type"`
}

func (b onlineBody) domain() (domain.OnlineRequest, error) {
	if b.StakingType < 0 || b.StakingType > int64(domain.StakingFree) {
		return domain.OnlineRequest{}, &domain.FieldError{Field: "staking_type", Reason: fmt.Sprintf("must be 0, 1 or 2, got %d", b.StakingType)}
	}
	return domain.OnlineRequest{Key: domain.MachineKey{MachineID: b.MachineID, Project: b.Project, ContainerID: b.ContainerID},
		StakingType: domain.StakingType(b.StakingType)}, nil
}

// shortTermBody is the type-2 body, with the original's number types: a
// value that does not fit (a cpu_rate of 3e9, a fraction) is refused as it
// was there.
type shortTermBody struct {
	CPUType        string   `json:"cpu_type"`
	CPURate        int32    `json:"cpu_rate"`
	GPUNames       []string `json:"gpu_names"`
	GPUMemoryTotal []int32  `json:"gpu_memory_total"`
	MemoryTotal    int64    `json:"memory_total"`
	Wallet         string   `json:"wallet"`
}

func (b shortTermBody) domain() domain.ShortTermInfo {
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

// bandwidthBody is the type-4 body, with the original's number types.
type bandwidthBody struct {
	CPUCores    int32  `json:"cpu_cores"`
	MemoryTotal int64  `json:"memory_total"`
	HDD         int64  `json:"hdd"`
	Bandwidth   int32  `json:"bandwidth"`
	Wallet      string `json:"wallet"`
}

func (b bandwidthBody) domain() domain.BandwidthInfo {
	return domain.BandwidthInfo{CPUCores: int64(b.CPUCores), MemoryTotal: b.MemoryTotal, HDD: b.HDD,
		Bandwidth: float64(b.Bandwidth), Wallet: b.Wallet}
}

// response is a server envelope; appendResponse writes it in the field order
// of PROTOCOL.md, with pub_key and sign as empty strings and body as base64.
type response struct {
	Version   uint32
	Timestamp int64
	ID        uint64
	Type      uint32
	Code      domain.Code
	Message   string
	Body      []byte
}

func appendResponse(dst []byte, r response) []byte {
	dst = append(dst, `{"version":`...)
	dst = strconv.AppendUint(dst, uint64(r.Version), 10)
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, r.Timestamp, 10)
	dst = append(dst, `,"id":`...)
	dst = strconv.AppendUint(dst, r.ID, 10)
	dst = append(dst, `,"type":`...)
	dst = strconv.AppendUint(dst, uint64(r.Type), 10)
	dst = append(dst, `,"pub_key":"","sign":"","code":`...)
	dst = strconv.AppendUint(dst, uint64(r.Code), 10)
	dst = append(dst, `,"message":`...)
	msg, _ := json.Marshal(r.Message) // a string always marshals
	dst = append(dst, msg...)
	dst = append(dst, `,"body":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, r.Body)
	return append(dst, `"}`...)
}
