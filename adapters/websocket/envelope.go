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

// wireError is a failure the protocol answers with a code and message of its own.
type wireError struct {
	code domain.Code
	msg  string
}

func (e *wireError) Error() string { return e.msg }

func parseError(format string, args ...any) error {
	return &wireError{code: domain.CodeParse, msg: fmt.Sprintf(format, args...)}
}

func paramError(format string, args ...any) error {
	return &wireError{code: domain.CodeParameter, msg: fmt.Sprintf(format, args...)}
}

// decodeRequest parses one text frame. On error the returned request holds
// whatever header fields could be read (zero otherwise). The request does
// not alias frame. Frames of the usual shape are read by scanRequest;
// anything else, and every error, by encoding/json.
func decodeRequest(frame []byte) (request, error) {
	if r, ok := scanRequest(frame); ok {
		return r, nil
	}
	var r request
	if err := json.Unmarshal(frame, &r); err != nil {
		return r, jsonError("request", err)
	}
	return r, nil
}

// body returns the body bytes: base64 in a JSON string (what Go encodes for
// []byte), or a JSON object or array written inline.
func (r request) body() ([]byte, error) {
	raw := bytes.TrimSpace(r.RawBody)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, nil
	case raw[0] == '"':
		if b, ok, err := base64Body(raw); ok {
			return b, err
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, parseError("body is not a valid JSON string: %v", err)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, parseError("body is not valid base64: %v", err)
		}
		return b, nil
	case raw[0] == '{' || raw[0] == '[':
		return raw, nil
	}
	return nil, paramError("body must be a base64 string or a JSON object")
}

// base64Body decodes a body string that JSON-unquotes to itself (no
// escapes, ASCII) straight from the frame, without the intermediate string;
// ok false leaves the body to encoding/json.
func base64Body(raw []byte) (body []byte, ok bool, err error) {
	if len(raw) < 2 || raw[len(raw)-1] != '"' {
		return nil, false, nil
	}
	in := raw[1 : len(raw)-1]
	for _, c := range in {
		if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			return nil, false, nil
		}
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(in)))
	n, err := base64.StdEncoding.Decode(out, in)
	if err != nil {
		return nil, true, parseError("body is not valid base64: %v", err)
	}
	return out[:n], true, nil
}

// decodeBody parses a body into v (a zero value), mapping JSON failures to
// protocol codes: not JSON is a parse error (2), a field of the wrong type a
// parameter error (1). Bodies of the usual shape are read by scanBody.
func decodeBody(body []byte, what string, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return parseError("%s body is empty", what)
	}
	if scanBody(body, v) {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return jsonError(what+" body", err)
	}
	return nil
}

func jsonError(what string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return parseError("%s is not a JSON object", what)
		}
		return &wireError{code: domain.CodeParameter, msg: fmt.Sprintf("%s has invalid type (want %s, got %s)", te.Field, te.Type, te.Value)}
	}
	return parseError("%s is not valid JSON: %v", what, err)
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

type shortTermBody struct {
	CPUType        string   `json:"cpu_type"`
	CPURate        int64    `json:"cpu_rate"`
	GPUNames       []string `json:"gpu_names"`
	GPUMemoryTotal []int64  `json:"gpu_memory_total"`
	MemoryTotal    int64    `json:"memory_total"`
	Wallet         string   `json:"wallet"`
}

func (b shortTermBody) domain() domain.ShortTermInfo {
	return domain.ShortTermInfo{CPUType: b.CPUType, CPURate: b.CPURate, GPUNames: b.GPUNames,
		GPUMemoryTotal: b.GPUMemoryTotal, MemoryTotal: b.MemoryTotal, Wallet: b.Wallet}
}

type bandwidthBody struct {
	CPUCores    int64   `json:"cpu_cores"`
	MemoryTotal int64   `json:"memory_total"`
	HDD         int64   `json:"hdd"`
	Bandwidth   float64 `json:"bandwidth"`
	Wallet      string  `json:"wallet"`
}

func (b bandwidthBody) domain() domain.BandwidthInfo {
	return domain.BandwidthInfo{CPUCores: b.CPUCores, MemoryTotal: b.MemoryTotal, HDD: b.HDD, Bandwidth: b.Bandwidth, Wallet: b.Wallet}
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
