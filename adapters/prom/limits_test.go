package prom_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"ddn/adapters/prom"
)

func TestLimitMetricsOnNodeMetrics(t *testing.T) {
	m := prom.NewNodeMetrics()
	lm := prom.NewLimitMetrics()
	if err := m.Register(lm.Collectors()...); err != nil {
		t.Fatal(err)
	}
	lm.ConnectionRefused("per_ip")
	lm.ConnectionRefused("per_ip")
	lm.ConnectionRefused("node_full")
	lm.ConnectionPolicyClosed("rate_limit")
	want := `
# HELP ddn_connections_refused_total WebSocket upgrades refused by a limit: node_full, per_ip, anonymous, draining.
# TYPE ddn_connections_refused_total counter
ddn_connections_refused_total{reason="node_full"} 1
ddn_connections_refused_total{reason="per_ip"} 2
# HELP ddn_connections_policy_closed_total Connections closed for abuse (1008): rate_limit, online_deadline.
# TYPE ddn_connections_policy_closed_total counter
ddn_connections_policy_closed_total{reason="rate_limit"} 1
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(want), "ddn_connections_refused_total", "ddn_connections_policy_closed_total"); err != nil {
		t.Fatal(err)
	}
}
