package websocket

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// scanner reads the plain shape of JSON that agents send (flat objects of
// unescaped strings, integers, numbers and arrays of those) without
// reflection or intermediate copies. It is conservative: anything it is not
// sure to read exactly as encoding/json would (escapes, keys that differ from
// a field only in case, values of another type, nesting, errors) makes it
// give up, and the caller decodes the frame with encoding/json instead, so
// results and error messages stay those of encoding/json.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only whitespace is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// rawString reads a string without escapes and returns it with its quotes
// (what a json.RawMessage holds). Bytes of any value from 0x20 are taken
// as they are, as encoding/json's scanner does.
func (s *scanner) rawString() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i - 1
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start:s.i], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// str reads a string value that encoding/json would copy unchanged: no
// escapes, valid UTF-8 (invalid bytes would become U+FFFD there).
func (s *scanner) str() ([]byte, bool) {
	raw, ok := s.rawString()
	if !ok {
		return nil, false
	}
	v := raw[1 : len(raw)-1]
	for _, c := range v {
		if c >= utf8.RuneSelf {
			return v, utf8.Valid(v)
		}
	}
	return v, true
}

// key reads an object key in ASCII (non-ASCII keys can fold onto a field
// name in encoding/json: U+212A is k).
func (s *scanner) key() ([]byte, bool) {
	k, ok := s.str()
	if !ok {
		return nil, false
	}
	for _, c := range k {
		if c >= utf8.RuneSelf {
			return nil, false
		}
	}
	return k, true
}

// null reads the literal null.
func (s *scanner) null() bool {
	if len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// number reads a JSON number token (the full grammar).
func (s *scanner) number() ([]byte, bool) {
	start := s.i
	s.eat('-')
	switch {
	case s.eat('0'):
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return nil, false
	}
	if s.eat('.') {
		if s.digits() == 0 {
			return nil, false
		}
	}
	if s.eat('e') || s.eat('E') {
		if !s.eat('+') {
			s.eat('-')
		}
		if s.digits() == 0 {
			return nil, false
		}
	}
	return s.b[start:s.i], true
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

// integer reads a number that is an integer in [lo, hi] (no fraction or
// exponent: encoding/json refuses those for integer fields).
func (s *scanner) integer(lo int64, hi uint64) (neg bool, mag uint64, ok bool) {
	tok, ok := s.number()
	if !ok {
		return false, 0, false
	}
	if tok[0] == '-' {
		neg, tok = true, tok[1:]
	}
	for _, c := range tok {
		if c < '0' || c > '9' {
			return false, 0, false
		}
		if mag > (math.MaxUint64-9)/10 {
			return false, 0, false
		}
		mag = mag*10 + uint64(c-'0')
	}
	if neg {
		if lo >= 0 || mag > uint64(-(lo+1))+1 {
			return false, 0, false
		}
		return true, mag, true
	}
	return false, mag, mag <= hi
}

func (s *scanner) uint32() (uint32, bool) {
	_, m, ok := s.integer(0, math.MaxUint32)
	return uint32(m), ok
}

func (s *scanner) uint64() (uint64, bool) {
	_, m, ok := s.integer(0, math.MaxUint64)
	return m, ok
}

func (s *scanner) int64() (int64, bool) {
	neg, m, ok := s.integer(math.MinInt64, math.MaxInt64)
	if neg {
		return -int64(m), ok // m <= 1<<63: -int64(1<<63) wraps to MinInt64, as wanted
	}
	return int64(m), ok
}

// float64 reads a number as encoding/json does (strconv.ParseFloat); out of
// range is left to encoding/json's error.
func (s *scanner) float64() (float64, bool) {
	tok, ok := s.number()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(tok), 64)
	return v, err == nil
}

// skip reads a scalar value of a member no field wants.
func (s *scanner) skip() bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, ok := s.rawString()
		return ok
	case c == '-' || (c >= '0' && c <= '9'):
		_, ok := s.number()
		return ok
	case s.null():
		return true
	case len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "true":
		s.i += 4
		return true
	case len(s.b)-s.i >= 5 && string(s.b[s.i:s.i+5]) == "false":
		s.i += 5
		return true
	}
	return false
}

// object reads a whole document that is one object, calling member with the
// scanner at each value; member returns false to give up.
func (s *scanner) object(member func(key []byte) bool) bool {
	s.ws()
	if !s.eat('{') {
		return false
	}
	s.ws()
	if s.eat('}') {
		return s.end()
	}
	for {
		s.ws()
		k, ok := s.key()
		if !ok {
			return false
		}
		s.ws()
		if !s.eat(':') {
			return false
		}
		s.ws()
		if !member(k) {
			return false
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			return s.end()
		}
		return false
	}
}

// unknown handles a member no field is named exactly: encoding/json would
// still match a field whose name differs only in ASCII case, so that gives
// up; any other key's scalar value is skipped.
func (s *scanner) unknown(key []byte, fields ...string) bool {
	for _, f := range fields {
		if asciiEqualFold(key, f) {
			return false
		}
	}
	return s.skip()
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// elements guesses how many elements the array being read holds (commas
// outside strings before the closing bracket, plus one), so a list is
// allocated once at its size; a wrong guess costs only an append.
func (s *scanner) elements() int {
	n, inString := 1, false
	for _, c := range s.b[s.i:] {
		switch {
		case c == '"':
			inString = !inString
		case inString:
		case c == ',':
			n++
		case c == ']':
			return n
		}
	}
	return n
}

// stringList reads an array of strings, or null (nil, as encoding/json
// sets); [] is an empty, non-nil slice, as there.
func (s *scanner) stringList() ([]string, bool) {
	if s.null() {
		return nil, true
	}
	if !s.eat('[') {
		return nil, false
	}
	out := make([]string, 0, s.elements())
	s.ws()
	if s.eat(']') {
		return out, true
	}
	for {
		s.ws()
		v, ok := s.str()
		if !ok {
			return nil, false
		}
		out = append(out, string(v))
		s.ws()
		if s.eat(',') {
			continue
		}
		return out, s.eat(']')
	}
}

// int64List is stringList for integers.
func (s *scanner) int64List() ([]int64, bool) {
	if s.null() {
		return nil, true
	}
	if !s.eat('[') {
		return nil, false
	}
	out := make([]int64, 0, s.elements())
	s.ws()
	if s.eat(']') {
		return out, true
	}
	for {
		s.ws()
		v, ok := s.int64()
		if !ok {
			return nil, false
		}
		out = append(out, v)
		s.ws()
		if s.eat(',') {
			continue
		}
		return out, s.eat(']')
	}
}

// scanRequest is decodeRequest's fast path; ok false means "ask encoding/json".
func scanRequest(frame []byte) (r request, ok bool) {
	s := scanner{b: frame}
	var pubKey, sign, body []byte
	raw := func(dst *[]byte) bool {
		if s.null() {
			*dst = s.b[s.i-4 : s.i]
			return true
		}
		v, ok := s.rawString()
		*dst = v
		return ok
	}
	ok = s.object(func(key []byte) bool {
		if s.i < len(s.b) && s.b[s.i] == 'n' && string(key) != "pub_key" && string(key) != "sign" && string(key) != "body" {
			// null leaves a number field as it is.
			return s.null() || s.unknown(key, "version", "timestamp", "id", "type")
		}
		var ok bool
		switch string(key) {
		case "version":
			r.Version, ok = s.uint32()
		case "timestamp":
			r.Timestamp, ok = s.int64()
		case "id":
			r.ID, ok = s.uint64()
		case "type":
			r.Type, ok = s.uint32()
		case "pub_key":
			ok = raw(&pubKey)
		case "sign":
			ok = raw(&sign)
		case "body":
			ok = raw(&body)
		default:
			ok = s.unknown(key, "version", "timestamp", "id", "type", "pub_key", "sign", "body")
		}
		return ok
	})
	if !ok {
		return request{}, false
	}
	// encoding/json copies raw values out of the frame; so does this, in
	// one allocation, so the request never aliases a buffer that a
	// connection may reuse for its next frame.
	if n := len(pubKey) + len(sign) + len(body); n > 0 {
		buf := make([]byte, 0, n)
		take := func(v []byte) []byte {
			if v == nil {
				return nil
			}
			start := len(buf)
			buf = append(buf, v...)
			return buf[start:len(buf):len(buf)]
		}
		r.PubKey, r.Sign, r.RawBody = take(pubKey), take(sign), take(body)
	}
	return r, true
}
