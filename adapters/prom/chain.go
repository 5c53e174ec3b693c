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

	requestsInFlight, requestsWaiting prometheus.Gauge
	refused                           prometheus.Counter
	readsInFlight, readsQueued        prometheus.Gauge
	readBatch                         prometheus.Histogram
	readsRetried                      prometheus.Counter
	cache                             *prometheus.CounterVec

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
		requestsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ddn_chain_requests_in_flight",
			Help: "RPC requests sent and not yet answered (at most Chain.MaxConcurrentCalls)."}),
		requestsWaiting: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ddn_chain_requests_waiting",
			Help: "RPC requests waiting for a slot (Chain.MaxConcurrentCalls) or for their endpoint's rate (Chain.MaxRequestsPerSecond)."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "ddn_chain_requests_refused_total",
			Help: "RPC requests the endpoint refused with HTTP 429 (too many requests); each is retried after a pause."}),
		readsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ddn_chain_reads_in_flight",
			Help: "getMachineState reads in a request sent and not yet answered."}),
		readsQueued: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ddn_chain_reads_queued",
			Help: "getMachineState reads waiting for a request to carry them."}),
		readBatch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ddn_chain_read_batch_size",
			Help:    "getMachineState reads per RPC request (a JSON-RPC batch); _count is the requests, _sum the reads.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}}),
		readsRetried: prometheus.NewCounter(prometheus.CounterOpts{Name: "ddn_chain_reads_retried_total",
			Help: "getMachineState reads sent again because their request failed (unreachable, timed out, refused)."}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ddn_chain_registry_cache_total",
			Help: "Registration checks of onlines by result: hit (answered from Chain.RegistrationCacheTTL, no chain read) or miss."}, []string{"result"}),
	}
}

// Collectors are the metrics to register.
func (m *ChainMetrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.txs, m.lastBlock, m.resyncs, m.failovers, m.requestsInFlight, m.requestsWaiting, m.refused,
		m.readsInFlight, m.readsQueued, m.readBatch, m.readsRetried, m.cache}
}

// RequestsInFlight moves the requests-in-flight gauge (chain.Metrics).
func (m *ChainMetrics) RequestsInFlight(d int) { m.requestsInFlight.Add(float64(d)) }

// RequestsWaiting moves the waiting-requests gauge (chain.Metrics).
func (m *ChainMetrics) RequestsWaiting(d int) { m.requestsWaiting.Add(float64(d)) }

// Refused counts a request refused with HTTP 429 (chain.Metrics).
func (m *ChainMetrics) Refused() { m.refused.Inc() }

// ReadsQueued moves the queued-reads gauge (chain.Metrics).
func (m *ChainMetrics) ReadsQueued(d int) { m.readsQueued.Add(float64(d)) }

// ReadsInFlight moves the reads-in-flight gauge (chain.Metrics).
func (m *ChainMetrics) ReadsInFlight(d int) { m.readsInFlight.Add(float64(d)) }

// ReadBatch observes one request carrying n reads (chain.Metrics).
func (m *ChainMetrics) ReadBatch(n int) { m.readBatch.Observe(float64(n)) }

// ReadsRetried counts reads sent again (chain.Metrics).
func (m *ChainMetrics) ReadsRetried(n int) { m.readsRetried.Add(float64(n)) }

// ObserveCacheLookup counts a registration check answered from the cache
// (hit) or by the chain.
func (m *ChainMetrics) ObserveCacheLookup(hit bool) {
	if hit {
		m.cache.WithLabelValues("hit").Inc()
		return
	}
	m.cache.WithLabelValues("miss").Inc()
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
