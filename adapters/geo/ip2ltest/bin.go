// Package ip2ltest writes small IP2Location DB5 .BIN files (country, region,
// city, latitude, longitude; IPv4 and IPv6 tables with their indexes), so
// that tests read real files with the real ip2location-go library instead of
// shipping a licensed database.
package ip2ltest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"net/netip"
	"os"
	"slices"
)

// Range is one row of the database: every address from From to To
// (inclusive, both of the same family) is at this place.
type Range struct {
	From, To    netip.Addr
	CountryCode string
	Country     string
	Region      string
	City        string
	Latitude    float32
	Longitude   float32
}

// Layout of a DB5 file (what ip2location-go reads): a 64-byte header; per
// family an index of 65,536 entries (one per value of the address's top 16
// bits, 8 bytes: first and last row that can hold such an address); the rows
// sorted by their first address (IPv4: 4-byte address and five 4-byte
// columns; IPv6: 16-byte address and the same five columns), each row
// spanning up to the next row's first address, the last row followed by a
// sentinel holding the family's largest address; then the strings, each a
// length byte and its bytes. Addresses in the header and index are 1-based
// file positions; string pointers are 0-based. The country column points at
// the short code, the long name follows 3 bytes later.
const (
	dbType      = 5
	dbColumns   = 6
	headerSize  = 64
	indexSize   = 65536 * 8
	v4RowSize   = dbColumns * 4
	v6RowSize   = 16 + (dbColumns-1)*4
	unknownName = "-"
)

// row is a range stretched to cover the gap up to the next one.
type row struct {
	from *big.Int
	r    *Range // nil: unknown ("-"), as LITE databases mark unallocated space
}

// WriteDB5 writes a DB5 .BIN holding ranges to path. Ranges must not
// overlap; the space between them is written as unknown.
func WriteDB5(path string, ranges []Range) error {
	data, err := BuildDB5(ranges)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// BuildDB5 returns the bytes WriteDB5 writes.
func BuildDB5(ranges []Range) ([]byte, error) {
	var v4, v6 []Range
	for _, r := range ranges {
		switch {
		case !r.From.IsValid() || !r.To.IsValid() || r.From.Is4() != r.To.Is4() || r.To.Less(r.From):
			return nil, fmt.Errorf("range %v-%v: not a range of one address family", r.From, r.To)
		case r.From.Is4():
			v4 = append(v4, r)
		default:
			v6 = append(v6, r)
		}
	}
	rows4, err := rowsOf(v4, 32)
	if err != nil {
		return nil, err
	}
	rows6, err := rowsOf(v6, 128)
	if err != nil {
		return nil, err
	}

	v4Index := headerSize
	v6Index := v4Index + indexSize
	v4Rows := v6Index + indexSize
	v6Rows := v4Rows + (len(rows4)+1)*v4RowSize
	stringsAt := v6Rows + (len(rows6)+1)*v6RowSize

	strs := &stringTable{base: stringsAt, at: map[string]int{}}
	var body bytes.Buffer
	body.Write(buildIndex(rows4, 32))
	body.Write(buildIndex(rows6, 128))
	writeRows(&body, rows4, 4, strs)
	writeRows(&body, rows6, 16, strs)
	body.Write(strs.buf.Bytes())

	h := make([]byte, headerSize)
	h[0], h[1], h[2], h[3], h[4] = dbType, dbColumns, 24, 11, 1
	le := binary.LittleEndian
	le.PutUint32(h[5:], uint32(len(rows4)))
	le.PutUint32(h[9:], uint32(v4Rows+1))
	le.PutUint32(h[13:], uint32(len(rows6)))
	le.PutUint32(h[17:], uint32(v6Rows+1))
	le.PutUint32(h[21:], uint32(v4Index+1))
	le.PutUint32(h[25:], uint32(v6Index+1))
	h[29] = 1 // product code: IP2Location
	h[30] = 2 // product type: LITE
	le.PutUint32(h[31:], uint32(headerSize+body.Len()))
	return append(h, body.Bytes()...), nil
}

// rowsOf sorts one family's ranges and fills the gaps, starting at address 0.
func rowsOf(ranges []Range, bits int) ([]row, error) {
	slices.SortFunc(ranges, func(a, b Range) int { return a.From.Compare(b.From) })
	limit := new(big.Int).Lsh(big.NewInt(1), uint(bits)) // one past the largest address
	var rows []row
	next := big.NewInt(0)
	for i := range ranges {
		from, to := addrInt(ranges[i].From), addrInt(ranges[i].To)
		if from.Cmp(next) < 0 {
			return nil, fmt.Errorf("range %v-%v overlaps the one before it", ranges[i].From, ranges[i].To)
		}
		if from.Cmp(next) > 0 {
			rows = append(rows, row{from: next})
		}
		rows = append(rows, row{from: from, r: &ranges[i]})
		next = new(big.Int).Add(to, big.NewInt(1))
	}
	if next.Cmp(limit) < 0 {
		rows = append(rows, row{from: next})
	}
	if len(rows) == 0 {
		rows = append(rows, row{from: big.NewInt(0)})
	}
	return rows, nil
}

// buildIndex maps each value of the top 16 bits to the rows that can hold an
// address starting with it.
func buildIndex(rows []row, bits int) []byte {
	out := make([]byte, indexSize)
	shift := uint(bits - 16)
	first, last := 0, 0
	for p := range 65536 {
		lo := new(big.Int).Lsh(big.NewInt(int64(p)), shift)
		hi := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(int64(p+1)), shift), big.NewInt(1))
		for first+1 < len(rows) && rows[first+1].from.Cmp(lo) <= 0 {
			first++
		}
		last = max(last, first)
		for last+1 < len(rows) && rows[last+1].from.Cmp(hi) <= 0 {
			last++
		}
		binary.LittleEndian.PutUint32(out[p*8:], uint32(first))
		binary.LittleEndian.PutUint32(out[p*8+4:], uint32(last))
	}
	return out
}

func writeRows(w *bytes.Buffer, rows []row, addrBytes int, strs *stringTable) {
	cols := make([]byte, (dbColumns-1)*4)
	le := binary.LittleEndian
	for _, rw := range rows {
		w.Write(addrBytesLE(rw.from, addrBytes))
		country, region, city, lat, lon := unknownName, unknownName, unknownName, float32(0), float32(0)
		short := unknownName
		if r := rw.r; r != nil {
			short, country, region, city, lat, lon = r.CountryCode, r.Country, r.Region, r.City, r.Latitude, r.Longitude
		}
		le.PutUint32(cols[0:], uint32(strs.country(short, country)))
		le.PutUint32(cols[4:], uint32(strs.add(region)))
		le.PutUint32(cols[8:], uint32(strs.add(city)))
		le.PutUint32(cols[12:], math.Float32bits(lat))
		le.PutUint32(cols[16:], math.Float32bits(lon))
		w.Write(cols)
	}
	// The sentinel: the family's largest address ends the last row.
	top := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(addrBytes*8)), big.NewInt(1))
	w.Write(addrBytesLE(top, addrBytes))
	w.Write(make([]byte, len(cols)))
}

// stringTable lays out the strings once each.
type stringTable struct {
	base int
	buf  bytes.Buffer
	at   map[string]int
}

func (s *stringTable) add(str string) int {
	if at, ok := s.at[str]; ok {
		return at
	}
	at := s.base + s.buf.Len()
	s.buf.WriteByte(byte(min(len(str), 255)))
	s.buf.WriteString(str[:min(len(str), 255)])
	s.at[str] = at
	return at
}

// country writes the short code padded to 2 bytes and the long name right
// after it, where the library looks (pointer + 3).
func (s *stringTable) country(short, long string) int {
	key := "\x00country|" + short + "|" + long
	if at, ok := s.at[key]; ok {
		return at
	}
	code := (short + "  ")[:2]
	if short == unknownName {
		code = "- "
	}
	at := s.base + s.buf.Len()
	n := byte(len(short))
	if n > 2 {
		n = 2
	}
	s.buf.WriteByte(n)
	s.buf.WriteString(code)
	s.buf.WriteByte(byte(min(len(long), 255)))
	s.buf.WriteString(long[:min(len(long), 255)])
	s.at[key] = at
	return at
}

func addrInt(a netip.Addr) *big.Int {
	b := a.AsSlice()
	return new(big.Int).SetBytes(b)
}

// addrBytesLE writes an address number little-endian in n bytes.
func addrBytesLE(v *big.Int, n int) []byte {
	be := v.FillBytes(make([]byte, n))
	slices.Reverse(be)
	return be
}
