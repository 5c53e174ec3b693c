package websocket

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// sinkLog records what feed hands over.
type sinkLog struct {
	controls []string
	messages []string
}

func (s *sinkLog) control(h ws.Header, p []byte) {
	name := map[ws.OpCode]string{ws.OpPing: "ping", ws.OpPong: "pong", ws.OpClose: "close"}[h.OpCode]
	s.controls = append(s.controls, name+":"+string(p))
}
func (s *sinkLog) data(op ws.OpCode, p []byte) { s.messages = append(s.messages, string(p)) }

func clientFrame(t *testing.T, op ws.OpCode, fin bool, payload string) []byte {
	t.Helper()
	return clientFrameBytes(op, fin, payload)
}

// TestFeedAcrossEverySplit: a stream of frames (a fragmented message with a
// ping between its fragments, a 200-byte message with a 16-bit length, a
// close) cut at every byte position into two reads gives the same frames.
func TestFeedAcrossEverySplit(t *testing.T) {
	long := strings.Repeat("r", 200)
	var stream []byte
	for _, f := range [][]byte{
		clientFrame(t, ws.OpText, false, `{"id":1,`),
		clientFrame(t, ws.OpPing, true, "hb"),
		clientFrame(t, ws.OpContinuation, true, `"type":1}`),
		clientFrame(t, ws.OpText, true, long),
		clientFrame(t, ws.OpClose, true, "\x03\xe8bye"),
	} {
		stream = append(stream, f...)
	}
	for cut := 0; cut <= len(stream); cut++ {
		var s frameState
		var got sinkLog
		for _, part := range [][]byte{stream[:cut], stream[cut:]} {
			// feed unmasks in place: give it a copy, as a read would.
			if err := s.feed(bytes.Clone(part), 4096, &got); err != nil {
				t.Fatalf("cut at %d: %v", cut, err)
			}
		}
		if strings.Join(got.messages, "|") != `{"id":1,"type":1}|`+long ||
			strings.Join(got.controls, "|") != "ping:hb|close:\x03\xe8bye" || s.in != nil || s.frag != nil {
			t.Fatalf("cut at %d: messages %q, controls %q, left %d+%d bytes", cut, got.messages, got.controls, len(s.in), len(s.frag))
		}
	}
}

func TestFeedRefuses(t *testing.T) {
	unmasked := func(op ws.OpCode, fin bool, p string) []byte {
		var b bytes.Buffer
		_ = ws.WriteFrame(&b, ws.NewFrame(op, fin, []byte(p)))
		return b.Bytes()
	}
	withRsv := clientFrame(t, ws.OpText, true, "x")
	withRsv[0] |= 0x40
	reserved := clientFrame(t, ws.OpText, true, "x")
	reserved[0] = reserved[0]&0xf0 | 0x3
	for _, tc := range []struct {
		name   string
		stream []byte
		want   error
	}{
		{"unmasked frame", unmasked(ws.OpText, true, "x"), ws.ErrProtocolMaskRequired},
		{"reserved bits", withRsv, ws.ErrProtocolNonZeroRsv},
		{"reserved opcode", reserved, ws.ErrProtocolOpCodeReserved},
		{"continuation without a start", clientFrame(t, ws.OpContinuation, true, "x"), ws.ErrProtocolContinuationUnexpected},
		{"new message inside a fragmented one", append(clientFrame(t, ws.OpText, false, "a"), clientFrame(t, ws.OpText, true, "b")...), ws.ErrProtocolContinuationExpected},
		{"fragmented ping", clientFrame(t, ws.OpPing, false, "x"), ws.ErrProtocolControlNotFinal},
		{"frame over the limit", clientFrame(t, ws.OpText, true, strings.Repeat("a", 101)), errFrameTooBig},
		{"fragments over the limit", append(clientFrame(t, ws.OpText, false, strings.Repeat("a", 60)), clientFrame(t, ws.OpContinuation, true, strings.Repeat("a", 60))...), errFrameTooBig},
		{"64-bit length with its top bit set", append([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}, 0, 0, 0, 0), ws.ErrHeaderLengthMSB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s frameState
			var got sinkLog
			if err := s.feed(tc.stream, 100, &got); !errors.Is(err, tc.want) {
				t.Fatalf("feed: %v, want %v", err, tc.want)
			}
			if len(got.messages) != 0 || s.in != nil || s.frag != nil {
				t.Fatalf("after the error: messages %q, %d+%d bytes kept", got.messages, len(s.in), len(s.frag))
			}
		})
	}
}

func TestAppendFrameIsReadByGobwas(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		p := bytes.Repeat([]byte{'z'}, n)
		f, err := ws.ReadFrame(bytes.NewReader(appendFrame(nil, ws.OpText, p)))
		if err != nil || !f.Header.Fin || f.Header.OpCode != ws.OpText || f.Header.Masked || !bytes.Equal(f.Payload, p) {
			t.Fatalf("%d bytes: %+v %v", n, f.Header, err)
		}
	}
	f, err := ws.ReadFrame(bytes.NewReader(appendCloseFrame(nil, ws.StatusPolicyViolation, strings.Repeat("why", 100))))
	code, reason := ws.ParseCloseFrameData(f.Payload)
	if err != nil || f.Header.OpCode != ws.OpClose || code != ws.StatusPolicyViolation || len(f.Payload) != ws.MaxControlFramePayloadSize || !strings.HasPrefix(reason, "whywhy") {
		t.Fatalf("close frame: %+v %d %q %v", f.Header, code, reason, err)
	}
}

// FuzzFeed: any bytes, cut anywhere into two reads, are parsed without a
// panic into frames within the limit or refused with an error, and a
// stream that parses whole parses the same when cut.
func FuzzFeed(f *testing.F) {
	f.Add(clientFrameBytes(ws.OpText, true, `{"id":1}`), 3)
	f.Add(append(clientFrameBytes(ws.OpText, false, "ab"), clientFrameBytes(ws.OpContinuation, true, "cd")...), 7)
	f.Add(clientFrameBytes(ws.OpPing, true, "x"), 1)
	f.Add([]byte{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}, 5)
	f.Fuzz(func(t *testing.T, stream []byte, cut int) {
		const limit = 256
		whole, wholeErr := feedAll(stream, limit, len(stream))
		if cut < 0 || cut > len(stream) {
			cut = len(stream) / 2
		}
		split, splitErr := feedAll(stream, limit, cut)
		if (wholeErr == nil) != (splitErr == nil) || strings.Join(whole.messages, "\x00") != strings.Join(split.messages, "\x00") {
			t.Fatalf("whole: %q %v; cut at %d: %q %v", whole.messages, wholeErr, cut, split.messages, splitErr)
		}
		for _, m := range whole.messages {
			if len(m) > limit {
				t.Fatalf("a message of %d bytes passed the %d-byte limit", len(m), limit)
			}
		}
	})
}

func feedAll(stream []byte, limit int64, cut int) (*sinkLog, error) {
	var s frameState
	got := &sinkLog{}
	for _, part := range [][]byte{stream[:cut], stream[cut:]} {
		if err := s.feed(bytes.Clone(part), limit, got); err != nil {
			return got, err
		}
	}
	return got, nil
}

func clientFrameBytes(op ws.OpCode, fin bool, payload string) []byte {
	var b bytes.Buffer
	_ = ws.WriteFrame(&b, ws.MaskFrame(ws.NewFrame(op, fin, []byte(payload))))
	return b.Bytes()
}
