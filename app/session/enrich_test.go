package session_test

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/app/session"
	"ddn/domain"
	"ddn/domain/score"
)

// countingCatalog counts lookups, so tests see when a report is re-scored.
type countingCatalog struct {
	mu    sync.Mutex
	table *score.Table
	calls int
}

func (c *countingCatalog) count() *score.Table {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return c.table
}

func (c *countingCatalog) WithMemory(model string, mem int64) (score.GPU, bool) {
	return c.count().WithMemory(model, mem)
}

func (c *countingCatalog) First(model string) (score.GPU, bool) { return c.count().First(model) }

func (c *countingCatalog) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

var (
	shenzhen = domain.Location{CountryCode: "CN", Country: "China", Region: "Guangdong", City: "Shenzhen", Latitude: 22.5431, Longitude: 114.0579}
	austin   = domain.Location{CountryCode: "US", Country: "United States of America", Region: "Texas", City: "Austin", Latitude: 30.2672, Longitude: -97.7431}
	bwPC     = domain.BandwidthInfo{CPUCores: 4, MemoryTotal: 8, HDD: 500, Bandwidth: 100, Wallet: "0xdef"}
)

type enrichFixture struct {
	*fixture
	catalog *countingCatalog
	locator *memory.Locator
	failed  []string
}

func newEnrichFixture(t *testing.T) *enrichFixture {
	t.Helper()
	table, err := score.NewTable([]score.GPU{{Model: "4060", MemoryGB: 8, CUDACores: 3072}})
	if err != nil {
		t.Fatal(err)
	}
	f := &enrichFixture{
		fixture: &fixture{store: memory.NewStore(), clock: memory.NewClock(t0), events: &memory.Events{}},
		catalog: &countingCatalog{table: table},
		locator: &memory.Locator{},
	}
	f.locator.Add(netip.MustParseAddr("203.0.113.0"), netip.MustParseAddr("203.0.113.255"), shenzhen)
	f.locator.Add(netip.MustParseAddr("198.51.100.0"), netip.MustParseAddr("198.51.100.255"), austin)
	svc, err := session.NewService(session.Config{NodeID: "node-a", TouchInterval: time.Minute, Catalog: f.catalog, Locator: f.locator},
		f.store, storeAppender{f.store}, f.clock, f.events.Observe)
	if err != nil {
		t.Fatal(err)
	}
	svc.OnLocateFailed = func(_ domain.MachineKey, ip string, _ error) { f.failed = append(f.failed, ip) }
	svc.OnError = func(op string, err error) { t.Errorf("%s: %v", op, err) }
	f.svc = svc
	return f
}

func TestShortTermReportIsScoredAndLocatedOnce(t *testing.T) {
	f := newEnrichFixture(t)
	ss := f.svc.Open("203.0.113.7")
	online(t, ss, keyA)
	if err := ss.ReportShortTerm(ctx, gpuPC); err != nil {
		t.Fatal(err)
	}
	m := f.machine(t, keyA)
	st := m.ShortTerm
	if st == nil || st.CalcPoint != 79.15 || st.Longitude != shenzhen.Longitude || st.Latitude != shenzhen.Latitude || st.Region != "Guangdong" {
		t.Fatalf("machine_info short-term = %+v", st)
	}
	if m.Location == nil || m.Location.City != "Shenzhen" || m.Location.IP != "203.0.113.7" || !m.Location.LocatedAt.Equal(t0) {
		t.Fatalf("machine_info location = %+v", m.Location)
	}
	reports, err := f.store.ListReports(ctx, keyA, time.Time{}, time.Time{}, 0)
	if err != nil || len(reports) != 1 || reports[0].ShortTerm.CalcPoint != 79.15 {
		t.Fatalf("time series = %+v, %v", reports, err)
	}
	lookups, scores := f.locator.Calls(), f.catalog.Calls()

	for range 3 {
		f.clock.Advance(10 * time.Second)
		if err := ss.ReportShortTerm(ctx, gpuPC); err != nil {
			t.Fatal(err)
		}
	}
	if f.locator.Calls() != lookups || f.catalog.Calls() != scores {
		t.Fatalf("unchanged reports looked up again: locator %d→%d, catalog %d→%d", lookups, f.locator.Calls(), scores, f.catalog.Calls())
	}
	reports, _ = f.store.ListReports(ctx, keyA, time.Time{}, time.Time{}, 0)
	for _, r := range reports {
		if r.ShortTerm.CalcPoint != 79.15 || r.ShortTerm.Region != "Guangdong" {
			t.Fatalf("an unchanged report lost its derived fields: %+v", r.ShortTerm)
		}
	}

	// As in the original, a scored machine is not scored again: changed
	// content is stored, with the calc point it has.
	changed := gpuPC
	changed.MemoryTotal = 32
	if err := ss.ReportShortTerm(ctx, changed); err != nil {
		t.Fatal(err)
	}
	if f.catalog.Calls() != scores || f.locator.Calls() != lookups {
		t.Fatalf("changed content: catalog %d→%d, locator %d→%d (want the same)", scores, f.catalog.Calls(), lookups, f.locator.Calls())
	}
	if st := f.machine(t, keyA).ShortTerm; st.CalcPoint != 79.15 || st.MemoryTotal != 32 {
		t.Fatalf("changed content of a scored machine: %+v; want memory 32 with calc point 79.15", st)
	}
}

// TestScoringConvertsMiB: the report that scores is stored (machine_info
// and the time series) with its GPU memory converted from MiB to GB, as
// the original stores it; later reports are stored as sent.
func TestScoringConvertsMiB(t *testing.T) {
	f := newEnrichFixture(t)
	ss := f.svc.Open("203.0.113.7")
	online(t, ss, keyA)
	mib := gpuPC
	mib.GPUMemoryTotal = []int64{8188}
	if err := ss.ReportShortTerm(ctx, mib); err != nil {
		t.Fatal(err)
	}
	if st := f.machine(t, keyA).ShortTerm; st.CalcPoint != 79.15 || st.GPUMemoryTotal[0] != 8 {
		t.Fatalf("scored report stored as %+v; want 8 GB, 79.15", st)
	}
	f.clock.Advance(time.Minute)
	if err := ss.ReportShortTerm(ctx, mib); err != nil {
		t.Fatal(err)
	}
	reports, err := f.store.ListReports(ctx, keyA, time.Time{}, time.Time{}, 0)
	if err != nil || len(reports) != 2 {
		t.Fatalf("reports %+v, %v", reports, err)
	}
	mem := map[int64]bool{}
	for _, r := range reports {
		mem[r.ShortTerm.GPUMemoryTotal[0]] = true
		if r.ShortTerm.CalcPoint != 79.15 {
			t.Fatalf("report %+v", r.ShortTerm)
		}
	}
	if !mem[8] || !mem[8188] {
		t.Fatalf("time series memory %v; want the scored report in GB and the next as sent", mem)
	}
}

func TestUnscorableInfoIsRefusedWithCode6(t *testing.T) {
	f := newEnrichFixture(t)
	ss := f.svc.Open("203.0.113.7")
	online(t, ss, keyA)
	bad := gpuPC
	bad.GPUNames = []string{"NVIDIA GeForce RTX 9999"}
	err := ss.ReportShortTerm(ctx, bad)
	if domain.CodeOf(err) != domain.CodeInvalidInfo {
		t.Fatalf("unknown GPU: %v, want code 6", err)
	}
	invalid := gpuPC
	invalid.CPURate = 0
	if err := ss.ReportShortTerm(ctx, invalid); domain.CodeOf(err) != domain.CodeParameter {
		t.Fatalf("invalid field: %v, want code 1", err)
	}
	if reports, _ := f.store.ListReports(ctx, keyA, time.Time{}, time.Time{}, 0); len(reports) != 0 {
		t.Fatalf("a refused report was stored: %+v", reports)
	}
	if err := ss.ReportShortTerm(ctx, gpuPC); err != nil {
		t.Fatalf("the session no longer serves: %v", err)
	}
}

func TestBandwidthReportGetsTheRegionName(t *testing.T) {
	f := newEnrichFixture(t)
	ss := f.svc.Open("198.51.100.20")
	online(t, ss, keyB)
	if err := ss.ReportBandwidth(ctx, bwPC); err != nil {
		t.Fatal(err)
	}
	m := f.machine(t, keyB)
	if m.Bandwidth == nil || m.Bandwidth.Region != "Texas" || m.Location == nil || m.Location.City != "Austin" {
		t.Fatalf("machine = %+v, bandwidth %+v, location %+v", m, m.Bandwidth, m.Location)
	}
}

func TestGeolocationFailureDoesNotFailAReport(t *testing.T) {
	f := newEnrichFixture(t)
	ss := f.svc.Open("192.0.2.1") // not in the locator
	online(t, ss, keyA)
	for range 2 {
		if err := ss.ReportShortTerm(ctx, gpuPC); err != nil {
			t.Fatal(err)
		}
	}
	m := f.machine(t, keyA)
	if m.Location != nil || m.ShortTerm.Region != "" || m.ShortTerm.CalcPoint != 79.15 {
		t.Fatalf("machine = %+v, short-term %+v", m, m.ShortTerm)
	}
	if len(f.failed) != 1 || f.failed[0] != "192.0.2.1" || f.locator.Calls() != 1 {
		t.Fatalf("failures observed %v after %d lookups; want one", f.failed, f.locator.Calls())
	}
}

func TestReconnectReusesTheStoredLocationForTheSameIP(t *testing.T) {
	f := newEnrichFixture(t)
	ss := f.svc.Open("203.0.113.7")
	online(t, ss, keyA)
	if err := ss.ReportShortTerm(ctx, gpuPC); err != nil {
		t.Fatal(err)
	}
	if err := ss.Close(ctx); err != nil {
		t.Fatal(err)
	}
	calls := f.locator.Calls()

	again := f.svc.Open("203.0.113.7")
	online(t, again, keyA)
	if err := again.ReportShortTerm(ctx, gpuPC); err != nil {
		t.Fatal(err)
	}
	if f.locator.Calls() != calls {
		t.Fatalf("same IP located again: %d lookups, want %d", f.locator.Calls(), calls)
	}
	if err := again.Close(ctx); err != nil {
		t.Fatal(err)
	}

	moved := f.svc.Open("198.51.100.9")
	online(t, moved, keyA)
	f.clock.Advance(time.Hour)
	if err := moved.ReportShortTerm(ctx, gpuPC); err != nil {
		t.Fatal(err)
	}
	m := f.machine(t, keyA)
	if f.locator.Calls() != calls+1 || m.Location.City != "Austin" || m.Location.IP != "198.51.100.9" || m.ShortTerm.Region != "Texas" {
		t.Fatalf("after moving: %d lookups, location %+v, short-term %+v", f.locator.Calls(), m.Location, m.ShortTerm)
	}
}

func TestNoCatalogNoLocatorLeavesInfosAsReported(t *testing.T) {
	f := newFixture(t, "node-a")
	ss := f.svc.Open("203.0.113.7")
	online(t, ss, keyA)
	if err := ss.ReportShortTerm(ctx, gpuPC); err != nil {
		t.Fatal(err)
	}
	m := f.machine(t, keyA)
	if m.ShortTerm.CalcPoint != 0 || m.Location != nil {
		t.Fatalf("machine = %+v, short-term %+v", m, m.ShortTerm)
	}
}

// TestACorrectedCatalogScoresMachinesNotYetScored: a catalog edit applies
// to machines with no calc point yet; a scored machine keeps its calc point
// across reports and connections (the original never scores it again).
func TestACorrectedCatalogScoresMachinesNotYetScored(t *testing.T) {
	f := newEnrichFixture(t)
	ss := f.svc.Open("203.0.113.7")
	online(t, ss, keyA)
	if err := ss.ReportShortTerm(ctx, gpuPC); err != nil {
		t.Fatal(err)
	}
	other := f.svc.Open("203.0.113.8")
	online(t, other, keyB)
	unknown := gpuPC
	unknown.GPUNames = []string{"NVIDIA GeForce RTX 5090"}
	if err := other.ReportShortTerm(ctx, unknown); domain.CodeOf(err) != domain.CodeInvalidInfo {
		t.Fatalf("unknown GPU: %v, want code 6", err)
	}
	corrected, err := score.NewTable([]score.GPU{{Model: "4060", MemoryGB: 8, CUDACores: 4000}, {Model: "5090", MemoryGB: 32, CUDACores: 21760}})
	if err != nil {
		t.Fatal(err)
	}
	f.catalog.mu.Lock()
	f.catalog.table = corrected
	f.catalog.mu.Unlock()
	if err := ss.Close(ctx); err != nil {
		t.Fatal(err)
	}
	again := f.svc.Open("203.0.113.7")
	online(t, again, keyA)
	if err := again.ReportShortTerm(ctx, gpuPC); err != nil {
		t.Fatal(err)
	}
	if got := f.machine(t, keyA).ShortTerm.CalcPoint; got != 79.15 {
		t.Fatalf("a scored machine was scored again: %v, want 79.15", got)
	}
	if err := other.ReportShortTerm(ctx, unknown); err != nil {
		t.Fatal(err)
	}
	// 16/3.5 + 25 + sqrt(21760)*sqrt(3.2) = 4.5714 + 25 + 263.88
	if got := f.machine(t, keyB).ShortTerm.CalcPoint; got != 293.45 {
		t.Fatalf("the corrected catalog did not score the machine: %v, want 293.45", got)
	}
}
