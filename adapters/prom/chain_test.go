package prom_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"ddn/adapters/prom"
)

func TestChainMetrics(t *testing.T) {
	m := prom.NewChainMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collectors()...)
	m.ObserveTx("report", "ok")
	m.ObserveTx("report", "ok")
	m.ObserveTx("setMachineInfo", "reverted")
	m.ObserveBlock(42)
	m.ObserveBlock(40) // an older block from a lagging endpoint does not move it back
	m.ObserveResync()
	m.ObserveFailover()
	want := `
# HELP ddn_chain_last_block Latest block number this node saw on the chain.
# TYPE ddn_chain_last_block gauge
ddn_chain_last_block 42
# HELP ddn_chain_transactions_total Chain transactions sent by this node, by contract method and result (ok, reverted, failed, timeout).
# TYPE ddn_chain_transactions_total counter
ddn_chain_transactions_total{method="report",result="ok"} 2
ddn_chain_transactions_total{method="setMachineInfo",result="reverted"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ddn_chain_last_block", "ddn_chain_transactions_total"); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.Collectors()[2]); got != 1 {
		t.Fatalf("resyncs = %v", got)
	}
}

func TestChainRequestMetrics(t *testing.T) {
	m := prom.NewChainMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collectors()...)
	m.RequestsInFlight(2)
	m.RequestsInFlight(-1)
	m.RequestsWaiting(3)
	m.Refused()
	m.ReadsQueued(5)
	m.ReadsInFlight(4)
	m.ReadBatch(100)
	m.ReadBatch(20)
	m.ReadsRetried(7)
	m.ObserveCacheLookup(true)
	m.ObserveCacheLookup(true)
	m.ObserveCacheLookup(false)
	want := `
# HELP ddn_chain_registry_cache_total Registration checks of onlines by result: hit (answered from Chain.RegistrationCacheTTL, no chain read) or miss.
# TYPE ddn_chain_registry_cache_total counter
ddn_chain_registry_cache_total{result="hit"} 2
ddn_chain_registry_cache_total{result="miss"} 1
# HELP ddn_chain_requests_in_flight RPC requests sent and not yet answered (at most Chain.MaxConcurrentCalls).
# TYPE ddn_chain_requests_in_flight gauge
ddn_chain_requests_in_flight 1
# HELP ddn_chain_requests_refused_total RPC requests the endpoint refused with HTTP 429 (too many requests); each is retried after a pause.
# TYPE ddn_chain_requests_refused_total counter
ddn_chain_requests_refused_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ddn_chain_registry_cache_total", "ddn_chain_requests_in_flight", "ddn_chain_requests_refused_total"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, mm := range mf.GetMetric() {
			switch {
			case mm.GetGauge() != nil:
				got[mf.GetName()] = mm.GetGauge().GetValue()
			case mm.GetHistogram() != nil:
				got[mf.GetName()+"_count"] = float64(mm.GetHistogram().GetSampleCount())
				got[mf.GetName()+"_sum"] = mm.GetHistogram().GetSampleSum()
			case mm.GetCounter() != nil && len(mm.GetLabel()) == 0:
				got[mf.GetName()] = mm.GetCounter().GetValue()
			}
		}
	}
	for name, v := range map[string]float64{"ddn_chain_requests_waiting": 3, "ddn_chain_reads_queued": 5, "ddn_chain_reads_in_flight": 4,
		"ddn_chain_read_batch_size_count": 2, "ddn_chain_read_batch_size_sum": 120, "ddn_chain_reads_retried_total": 7} {
		if got[name] != v {
			t.Errorf("%s = %v, want %v", name, got[name], v)
		}
	}
}
