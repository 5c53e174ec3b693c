package prom

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// ChainMetrics are the chain adapter's metrics: what an operator watches to
// know that verdicts reach the chain.
type ChainMetrics struct {
	txs       *prometheus.CounterVec
	lastBlock prometheus.Gauge
	resyncs   prometheus.Counter
	failovers prometheus.Counter

	mu      sync.Mutex
	highest uint64
}

// NewChainMetrics returns the chain metrics, to be registered with
// NodeMetrics.Register(m.Collectors()...).
func NewChainMetrics() *ChainMetrics {
	return &ChainMetrics{
		txs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ddn_chain_transactions_total",
			Help: "Chain transactions sent by this node, by contract method and result (ok, reverted, failed, timeout)."}, []string{"method", "result"}),
		lastBlock: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ddn_chain_last_block",
			Help: "Latest block number this node saw on the chain."}),
		resyncs: prometheus.NewCounter(prometheus.CounterOpts{Name: "ddn_chain_nonce_resyncs_total",
			Help: "Times the sender read its nonce from the chain again (start, lease change, nonce errors)."}),
		failovers: prometheus.NewCounter(prometheus.CounterOpts{Name: "ddn_chain_rpc_failovers_total",
			Help: "Switches to another RPC endpoint because the current one was unreachable."}),
	}
}

// Collectors are the metrics to register.
func (m *ChainMetrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.txs, m.lastBlock, m.resyncs, m.failovers}
}

// ObserveTx counts one transaction by method and result.
func (m *ChainMetrics) ObserveTx(method, result string) { m.txs.WithLabelValues(method, result).Inc() }

// ObserveBlock records a block number seen; the gauge only moves forward.
func (m *ChainMetrics) ObserveBlock(n uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n > m.highest {
		m.highest = n
		m.lastBlock.Set(float64(n))
	}
}

// ObserveResync counts a nonce resynchronisation.
func (m *ChainMetrics) ObserveResync() { m.resyncs.Inc() }

// ObserveFailover counts a switch of RPC endpoint.
func (m *ChainMetrics) ObserveFailover() { m.failovers.Inc() }
