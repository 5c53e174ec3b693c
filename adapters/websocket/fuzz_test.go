package websocket

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"ddn/domain"
)

// checkCode fails when err maps to no protocol answer a client can act on:
// every refused input is a parse (2), parameter (1) or invalid-info (6) error.
func checkCode(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	code, msg := describe(err)
	switch code {
	case domain.CodeParse, domain.CodeParameter, domain.CodeInvalidInfo:
	default:
		t.Fatalf("%s: %v mapped to code %d %q", what, err, code, msg)
	}
	if msg == "" {
		t.Fatalf("%s: %v answered without a message", what, err)
	}
}

// FuzzOnlineBody feeds arbitrary bytes to the online (type 1) body decoder
// and its validation: no panic, and every refusal is answered with a code.
func FuzzOnlineBody(f *testing.F) {
	f.Add([]byte(`{"machine_id":"123456789","project":"deeplink","container_id":"","staking_type":0}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var b onlineBody
		if err := decodeBody(body, onlineBodyFailed, &b); err != nil {
			checkCode(t, "decode", err)
			return
		}
		req, err := b.domain()
		if err != nil {
			checkCode(t, "staking type", err)
			return
		}
		checkCode(t, "key", req.Key.Validate())
		checkCode(t, "staking type", req.StakingType.Validate())
	})
}

// FuzzShortTermBody does the same for GPU machine info (type 2).
func FuzzShortTermBody(f *testing.F) {
	f.Add([]byte(`{"cpu_type":"x","cpu_rate":2500,"gpu_names":["a"],"gpu_memory_total":[8],"memory_total":16,"wallet":"w"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var b shortTermBody
		if err := decodeBody(body, shortTermBodyFailed, &b); err != nil {
			checkCode(t, "decode", err)
			return
		}
		checkCode(t, "validate", b.domain().Validate())
		checkCode(t, "wallet", checkWallet("", b.Wallet))
	})
}

// FuzzBandwidthBody does the same for bandwidth machine info (type 4).
func FuzzBandwidthBody(f *testing.F) {
	f.Add([]byte(`{"cpu_cores":1,"memory_total":2,"hdd":50,"bandwidth":10,"wallet":"w"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var b bandwidthBody
		if err := decodeBody(body, bandwidthBodyFailed, &b); err != nil {
			checkCode(t, "decode", err)
			return
		}
		checkCode(t, "validate", b.domain().Validate())
	})
}

// FuzzSignedFields feeds arbitrary pub_key/sign values through their decoding:
// every refusal is a sign error (3).
func FuzzSignedFields(f *testing.F) {
	for _, s := range []string{`"AQID"`, `null`, `""`, `42`, `"%%%"`, `"` + "BAUG" + `"`, `{"a":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if _, err := signedField("sign", raw); err != nil {
			if code, _ := describe(err); code != domain.CodeSign {
				t.Fatalf("%q: %v mapped to code %d", raw, err, code)
			}
		}
	})
}

// refDecode is the decoding path as it was before the envelope's fast
// path: every step through encoding/json. FuzzDecodeMatchesEncodingJSON
// holds the fast path to it.
func refDecode(frame []byte) (req request, body []byte, errs [2]string) {
	errString := func(err error) string {
		if err == nil {
			return ""
		}
		code, msg := describe(err)
		return fmt.Sprintf("%d %s", code, msg)
	}
	if err := json.Unmarshal(frame, &req); err != nil {
		errs[0] = errString(errParseRequest(err))
		return req, nil, errs
	}
	raw := bytes.TrimSpace(req.RawBody)
	switch {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			errs[1] = errString(errParseRequest(err))
		} else if b, err := base64.StdEncoding.DecodeString(s); err != nil {
			errs[1] = errString(errParseRequest(err))
		} else {
			body = b
		}
	case raw[0] == '{' || raw[0] == '[':
		body = raw
	default:
		errs[1] = errString(errParseRequest(nil))
	}
	return req, body, errs
}

// FuzzDecodeMatchesEncodingJSON decodes arbitrary frames with the node's
// decoder and with encoding/json alone: the requests, bodies and error
// answers (code and message) must be identical, byte for byte.
func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	gpu := `{"cpu_type":"x","cpu_rate":2500,"gpu_names":["a","b"],"gpu_memory_total":[8,-1],"memory_total":16,"wallet":"w"}`
	bw := `{"cpu_cores":1,"memory_total":2,"hdd":50,"bandwidth":10.5e1,"wallet":"w","extra":true}`
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, seed := range []string{
		string(exampleFrame),
		`{"id":2,"type":2,"body":` + gpu + `}`,
		`{"id":2,"type":2,"body":"` + b64(gpu) + `"}`,
		`{"id":3,"type":4,"body":"` + b64(bw) + `", "pub_key":null,"sign":"AQID"}`,
		`{"id":3,"type":4,"body":"` + b64(`{"Wallet":"w"}`) + `"}`,
		`{"id":3,"type":1,"body":"` + b64(`{"machine_id":"m","project":null,"staking_type":-0,"x":[1]}`) + `"}`,
		` {"version":4294967296,"timestamp":-9223372036854775808,"id":18446744073709551615} `,
		`{"ID":1,"id":2,"type":null}`, `{"id":1}x`, `{"body":"a\u0041"}`, `{"body":"\u00e9"}`,
		`{"version":0,`, `[]`, `null`, `"str"`, `{"id":-1}`, `{"type":"1"}`, `{"body":"%%%"}`, `{"body":42}`,
		`{"id":1e400}`, `{"type":1,"body":"e30="}`, "{\"type\":1,\"body\":\"\xff\xfe\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		wantReq, wantBody, wantErrs := refDecode(frame)
		var errs [2]string
		errString := func(err error) string {
			if err == nil {
				return ""
			}
			code, msg := describe(err)
			return fmt.Sprintf("%d %s", code, msg)
		}
		req, err := decodeRequest(frame)
		errs[0] = errString(err)
		if !reflect.DeepEqual(req, wantReq) || errs[0] != wantErrs[0] {
			t.Fatalf("request %q:\n got %+v %q\nwant %+v %q", frame, req, errs[0], wantReq, wantErrs[0])
		}
		if err != nil {
			return
		}
		body, err := req.body()
		errs[1] = errString(err)
		if !bytes.Equal(body, wantBody) || errs[1] != wantErrs[1] {
			t.Fatalf("body of %q:\n got %q %q\nwant %q %q", frame, body, errs[1], wantBody, wantErrs[1])
		}
	})
}
