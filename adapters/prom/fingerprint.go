package prom

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"time"

	"ddn/domain"
)

// fingerprinter hashes a fleet as read from machine_info, so a refresh can
// tell that nothing changed since the last one and keep the rendered
// snapshot instead of rendering and compressing it again. It hashes every
// field of domain.Machine (TestFingerprintCoversMachine fails when a field
// is added and not hashed), not only the rendered ones, so a new rendered
// field cannot be forgotten here.
type fingerprinter struct {
	seed maphash.Seed
	h    maphash.Hash
	// buf gathers a few KiB of input per write to h: maphash costs per call.
	buf []byte
}

func newFingerprinter() *fingerprinter {
	f := &fingerprinter{seed: maphash.MakeSeed(), buf: make([]byte, 0, 8<<10)}
	f.h.SetSeed(f.seed)
	return f
}

// sum is the fingerprint of machines, in their order.
func (f *fingerprinter) sum(machines []domain.Machine) uint64 {
	f.h.Reset()
	f.int(int64(len(machines)))
	for i := range machines {
		m := &machines[i]
		f.str(m.Key.MachineID)
		f.str(m.Key.Project)
		f.str(m.Key.ContainerID)
		f.int(int64(m.StakingType))
		f.str(string(m.State))
		f.str(m.NodeID)
		f.time(m.RegisterTime)
		f.time(m.LastOnlineTime)
		f.time(m.LastOfflineTime)
		f.time(m.LastDisconnectTime)
		f.time(m.LastReportTime)
		f.shortTerm(m.ShortTerm)
		f.bandwidth(m.Bandwidth)
		f.location(m.Location)
		if len(f.buf) > 7<<10 {
			f.flush()
		}
	}
	f.flush()
	return f.h.Sum64()
}

func (f *fingerprinter) shortTerm(s *domain.ShortTermInfo) {
	if s == nil {
		f.int(0)
		return
	}
	f.int(1)
	f.int(int64(len(s.GPUNames)))
	for _, n := range s.GPUNames {
		f.str(n)
	}
	f.int(int64(len(s.GPUMemoryTotal)))
	for _, n := range s.GPUMemoryTotal {
		f.int(n)
	}
	f.int(s.MemoryTotal)
	f.str(s.CPUType)
	f.int(s.CPURate)
	f.str(s.Wallet)
	f.str(s.ClientIP)
	f.float(s.CalcPoint)
	f.float(s.Longitude)
	f.float(s.Latitude)
	f.str(s.Region)
}

func (f *fingerprinter) bandwidth(b *domain.BandwidthInfo) {
	if b == nil {
		f.int(0)
		return
	}
	f.int(1)
	f.int(b.CPUCores)
	f.int(b.MemoryTotal)
	f.int(b.HDD)
	f.float(b.Bandwidth)
	f.str(b.Wallet)
	f.str(b.ClientIP)
	f.str(b.Region)
}

func (f *fingerprinter) location(l *domain.Location) {
	if l == nil {
		f.int(0)
		return
	}
	f.int(1)
	f.str(l.CountryCode)
	f.str(l.Country)
	f.str(l.Region)
	f.str(l.City)
	f.float(l.Latitude)
	f.float(l.Longitude)
	f.str(l.IP)
	f.time(l.LocatedAt)
}

func (f *fingerprinter) flush() {
	_, _ = f.h.Write(f.buf) // a maphash.Hash write never fails
	f.buf = f.buf[:0]
}

// str writes s with its length, so adjacent strings cannot run together.
func (f *fingerprinter) str(s string) {
	f.int(int64(len(s)))
	f.buf = append(f.buf, s...)
}

func (f *fingerprinter) int(n int64) {
	f.buf = binary.LittleEndian.AppendUint64(f.buf, uint64(n))
}

func (f *fingerprinter) float(v float64) { f.int(int64(math.Float64bits(v))) }

func (f *fingerprinter) time(t time.Time) {
	if t.IsZero() {
		f.int(math.MinInt64)
		return
	}
	f.int(t.UnixNano())
}
