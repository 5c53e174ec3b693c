package websocket

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"

	"ddn/domain"
	"ddn/internal/wire"
)

var exampleFrame = []byte(`{"version":0,"timestamp":1732450000000,"id":0,"type":1,"pub_key":"","sign":"",` +
	`"body":"eyJtYWNoaW5lX2lkIjoiMTIzNDU2Nzg5IiwicHJvamVjdCI6ImRlZXBsaW5rIiwiY29udGFpbmVyX2lkIjoiIiwic3Rha2luZ190eXBlIjowfQ=="}`)

// FuzzDecodeRequest feeds arbitrary frames through the decoding path of a
// request: nothing may panic, and every failure maps to a protocol code.
func FuzzDecodeRequest(f *testing.F) {
	gpu := `{"cpu_type":"x","cpu_rate":2500,"gpu_names":["a"],"gpu_memory_total":[8],"memory_total":16,"wallet":"w"}`
	for _, seed := range []string{
		string(exampleFrame),
		`{"id":2,"type":2,"body":` + gpu + `}`,
		`{"id":3,"type":4,"body":"` + base64.StdEncoding.EncodeToString([]byte(`{"cpu_cores":1,"memory_total":2,"hdd":50,"bandwidth":10,"wallet":"w"}`)) + `"}`,
		`{"version":0,`, `[]`, `null`, `"str"`, `{"id":-1}`, `{"type":"1"}`, `{"body":"%%%"}`, `{"body":42}`,
		`{"id":1e400}`, `{"type":1,"body":"e30="}`, "{\"type\":1,\"body\":\"\xff\xfe\"}",
		`{"type":1,"body":"e30\u003d"}`, `{"type":1,"body":"e3\/0="}`, "{\"type\":1,\"body\":\"e30=\xc3\xa9\"}", `{"body":" e30= "}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		req, err := decodeRequest(frame)
		if err != nil {
			if code, msg := describe(err); code == domain.CodeOK || code == domain.CodeInternal || msg == "" {
				t.Fatalf("envelope error %v mapped to code %d %q", err, code, msg)
			}
			return
		}
		body, err := requestBody(req)
		if want, wantErr := referenceBody(req); !bytes.Equal(body, want) || fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("body %q, %v; encoding/json and base64 decode %q, %v", body, err, want, wantErr)
		}
		if err != nil {
			if code, _ := describe(err); code != domain.CodeParse && code != domain.CodeParameter {
				t.Fatalf("body error %v mapped to code %d", err, code)
			}
			return
		}
		for _, v := range []any{&wire.Online{}, &wire.ShortTerm{}, &wire.Bandwidth{}} {
			if err := decodeBody(body, "fuzz", v); err != nil {
				if code, _ := describe(err); code != domain.CodeParse && code != domain.CodeParameter {
					t.Fatalf("body error %v mapped to code %d", err, code)
				}
			}
		}
		var ob wire.Online
		if decodeBody(body, "online", &ob) == nil {
			if r, err := ob.Request(); err == nil {
				_ = r.Key.Validate()
			}
		}
		out := wire.AppendResponse(nil, wire.Response{ID: req.ID, Type: req.Type, Message: string(frame), Body: body})
		if len(out) == 0 || out[0] != '{' || out[len(out)-1] != '}' {
			t.Fatalf("response is not an object: %s", out)
		}
	})
}

func BenchmarkDecodeRequest(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		req, err := decodeRequest(exampleFrame)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := requestBody(req)
		var ob wire.Online
		if err := decodeBody(body, "online", &ob); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeResponse(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for b.Loop() {
		buf = wire.AppendResponse(buf[:0], wire.Response{Timestamp: 1732450000012, ID: 42, Type: 2, Message: "add machine tm success"})
	}
}

// BenchmarkDecodeReport decodes a GPU machine report (type 2, base64 body,
// the message agents send most): envelope, body, body fields.
func BenchmarkDecodeReport(b *testing.B) {
	body := `{"cpu_type":"AMD Ryzen 9 7950X","cpu_rate":4500,"gpu_names":["NVIDIA GeForce RTX 4090","NVIDIA GeForce RTX 4090"],` +
		`"gpu_memory_total":[24564,24564],"memory_total":64,"wallet":"0x0123456789abcdef0123456789abcdef01234567"}`
	frame := []byte(`{"version":0,"timestamp":1732450000000,"id":7,"type":2,"pub_key":"","sign":"","body":"` +
		base64.StdEncoding.EncodeToString([]byte(body)) + `"}`)
	b.ReportAllocs()
	for b.Loop() {
		req, err := decodeRequest(frame)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := requestBody(req)
		var st wire.ShortTerm
		if err := decodeBody(body, shortTermBodyFailed, &st); err != nil {
			b.Fatal(err)
		}
	}
}

// referenceBody is requestBody written the plain way (unquote with
// encoding/json, then decode the base64): the fast path must answer the same.
func referenceBody(r request) ([]byte, error) {
	raw := bytes.TrimSpace(r.Body)
	if len(raw) == 0 || raw[0] != '"' {
		return requestBody(r)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, errParseRequest(fmt.Errorf("body is not a valid JSON string: %w", err))
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errParseRequest(fmt.Errorf("body is not valid base64: %w", err))
	}
	return b, nil
}
