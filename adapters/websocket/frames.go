package websocket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/gobwas/ws"
)

// Frames are parsed from whatever bytes a read returned rather than from a
// stream (ws.ReadHeader): an idle connection has no reader blocked on it,
// and a frame split across reads waits in conn.in until the rest comes.

// errFrameTooBig is a frame or fragmented message over MaxMessageBytes: the
// connection closes with 1009.
var errFrameTooBig = errors.New("frame larger than the limit")

// parseHeader decodes the frame header at the start of p. ok is false when
// p does not hold the whole header yet; n is the header's size.
func parseHeader(p []byte) (h ws.Header, n int, ok bool, err error) {
	if len(p) < 2 {
		return h, 0, false, nil
	}
	h.Fin = p[0]&0x80 != 0
	h.Rsv = (p[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(p[0] & 0x0f)
	h.Masked = p[1]&0x80 != 0
	n = 2
	switch l := p[1] & 0x7f; l {
	case 126:
		if len(p) < n+2 {
			return h, 0, false, nil
		}
		h.Length = int64(binary.BigEndian.Uint16(p[n:]))
		n += 2
	case 127:
		if len(p) < n+8 {
			return h, 0, false, nil
		}
		u := binary.BigEndian.Uint64(p[n:])
		if u > math.MaxInt64 {
			return h, 0, false, ws.ErrHeaderLengthMSB
		}
		h.Length = int64(u)
		n += 8
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		if len(p) < n+4 {
			return h, 0, false, nil
		}
		copy(h.Mask[:], p[n:n+4])
		n += 4
	}
	return h, n, true, nil
}

// appendFrame appends one unmasked, final server frame to dst.
func appendFrame(dst []byte, op ws.OpCode, payload []byte) []byte {
	dst = append(dst, 0x80|byte(op))
	switch l := len(payload); {
	case l < 126:
		dst = append(dst, byte(l))
	case l <= math.MaxUint16:
		dst = append(dst, 126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(l))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(l))
	}
	return append(dst, payload...)
}

// appendCloseFrame appends a close frame with status and reason (cut to the
// 123 bytes a control frame leaves for it).
func appendCloseFrame(dst []byte, status ws.StatusCode, reason string) []byte {
	if len(reason) > ws.MaxControlFramePayloadSize-2 {
		reason = reason[:ws.MaxControlFramePayloadSize-2]
	}
	var body [ws.MaxControlFramePayloadSize]byte
	binary.BigEndian.PutUint16(body[:], uint16(status))
	n := 2 + copy(body[2:], reason)
	return appendFrame(dst, ws.OpClose, body[:n])
}

// message is one whole data message waiting for the connection's worker.
type message struct {
	op   ws.OpCode
	data []byte
}

// frameSink takes the frames parseFrames finds; the payload is only valid
// during the call.
type frameSink interface {
	control(h ws.Header, payload []byte)
	data(op ws.OpCode, payload []byte)
}

// frameState is what a connection remembers between reads: the bytes of an
// unfinished frame and the fragments of an unfinished message.
type frameState struct {
	in     []byte
	frag   []byte
	fragOp ws.OpCode
	inFrag bool
}

// feed parses the frames in p (after any bytes left from the previous
// read), hands them to sink, and keeps what is left of an unfinished frame.
// It stops at the first protocol error or frame over limit.
func (s *frameState) feed(p []byte, limit int64, sink frameSink) error {
	data := p
	if len(s.in) > 0 {
		s.in = append(s.in, p...)
		data = s.in
	}
	for len(data) > 0 {
		h, n, ok, err := parseHeader(data)
		if err != nil {
			s.reset()
			return err
		}
		if !ok {
			break
		}
		state := ws.StateServerSide
		if s.inFrag {
			state |= ws.StateFragmented
		}
		if err := ws.CheckHeader(h, state); err != nil {
			s.reset()
			return err
		}
		if !h.OpCode.IsControl() && h.Length+int64(len(s.frag)) > limit {
			s.reset()
			return fmt.Errorf("%w: %d bytes, the limit is %d", errFrameTooBig, h.Length+int64(len(s.frag)), limit)
		}
		if int64(len(data)-n) < h.Length {
			break
		}
		payload := data[n : n+int(h.Length)]
		data = data[n+int(h.Length):]
		ws.Cipher(payload, h.Mask, 0)
		switch {
		case h.OpCode.IsControl():
			sink.control(h, payload)
		case h.OpCode == ws.OpContinuation:
			s.frag = append(s.frag, payload...)
			if h.Fin {
				sink.data(s.fragOp, s.frag)
				s.frag, s.inFrag = nil, false
			}
		case h.Fin:
			sink.data(h.OpCode, payload)
		default:
			s.frag, s.fragOp, s.inFrag = append([]byte(nil), payload...), h.OpCode, true
		}
	}
	switch {
	case len(data) == 0:
		s.in = nil
	case len(s.in) > 0:
		// data is the tail of s.in: move it to the front.
		s.in = append(s.in[:0], data...)
	default:
		s.in = append([]byte(nil), data...)
	}
	return nil
}

func (s *frameState) reset() { *s = frameState{} }
