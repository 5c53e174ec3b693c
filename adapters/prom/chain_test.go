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
