package websocket

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"ddn/domain"
	"ddn/internal/wire"
)

// request is a decoded client envelope.
type request = wire.Request

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

// requestBody returns the body bytes: base64 in a JSON string (what Go
// encodes for []byte), or a JSON object or array written inline. A body
// that is neither fails the request as the original node's envelope
// decoding did.
func requestBody(r request) ([]byte, error) {
	raw := bytes.TrimSpace(r.Body)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, nil
	case raw[0] == '"':
		// The envelope's decoding validated the string: one of plain ASCII
		// without escapes (what every encoder writes for base64) is its own
		// contents; any other is unquoted by encoding/json.
		s := raw[1 : len(raw)-1]
		if !plainASCII(s) {
			var str string
			if err := json.Unmarshal(raw, &str); err != nil {
				return nil, errParseRequest(fmt.Errorf("body is not a valid JSON string: %w", err))
			}
			s = []byte(str)
		}
		b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
		n, err := base64.StdEncoding.Decode(b, s)
		if err != nil {
			return nil, errParseRequest(fmt.Errorf("body is not valid base64: %w", err))
		}
		return b[:n], nil
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

// originalStruct names the body types as the original node's decoder did,
// so that a field of the wrong type is answered with its very words.
var originalStruct = map[string]string{"ShortTerm": "DeepLinkMachineInfoST", "Bandwidth": "DeepLinkMachineInfoBandwidth"}

// decodeBody parses a body into v with encoding/json; a failure is a
// parameter error (1) answered as "<failed>: <encoding/json's error>", as
// the original's.
func decodeBody(body []byte, failed string, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if name, ok := originalStruct[te.Struct]; ok {
				te.Struct = name
			}
		}
		return paramError("%s: %v", failed, err)
	}
	return nil
}

// plainASCII tells whether s holds only ASCII bytes and no backslash.
func plainASCII(s []byte) bool {
	for _, c := range s {
		if c >= 0x80 || c == '\\' {
			return false
		}
	}
	return true
}
