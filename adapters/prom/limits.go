package prom

import "github.com/prometheus/client_golang/prometheus"

// LimitMetrics count what the node's limits turned away, so an attack or an
// undersized limit shows on a dashboard; it is the WebSocket LimitObserver.
type LimitMetrics struct {
	refused *prometheus.CounterVec
	closed  *prometheus.CounterVec
}

// NewLimitMetrics returns the counters; register them with NodeMetrics.Register.
func NewLimitMetrics() *LimitMetrics {
	return &LimitMetrics{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ddn_connections_refused_total",
			Help: "WebSocket upgrades refused by a limit: node_full, per_ip, anonymous, draining."}, []string{"reason"}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ddn_connections_policy_closed_total",
			Help: "Connections closed for abuse (1008): rate_limit, online_deadline."}, []string{"reason"}),
	}
}

// Collectors are the counters to register.
func (m *LimitMetrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.refused, m.closed}
}

// ConnectionRefused implements the WebSocket LimitObserver.
func (m *LimitMetrics) ConnectionRefused(reason string) { m.refused.WithLabelValues(reason).Inc() }

// ConnectionPolicyClosed implements the WebSocket LimitObserver.
func (m *LimitMetrics) ConnectionPolicyClosed(reason string) { m.closed.WithLabelValues(reason).Inc() }
