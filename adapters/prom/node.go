package prom

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"ddn/domain"
)

// NodeMetrics are the node's own metrics; it observes connections, messages
// (the WebSocket adapter's Observer) and report batches.
type NodeMetrics struct {
	// registry holds ddn's own metrics; runtime the Go and process collectors,
	// which /metrics serves too but the Pushgateway does not get (it has its own).
	registry    *prometheus.Registry
	runtime     *prometheus.Registry
	connections prometheus.Gauge
	messages    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	batchSize   prometheus.Histogram
	flush       prometheus.Histogram
	flushErrors prometheus.Counter
	deliveries  *prometheus.CounterVec
	transitions *prometheus.CounterVec
	storeOps    *prometheus.HistogramVec
	storeErrors *prometheus.CounterVec
}

// NewNodeMetrics registers the node's metrics, Go runtime and process collectors.
func NewNodeMetrics() *NodeMetrics {
	m := &NodeMetrics{
		registry: prometheus.NewRegistry(),
		runtime:  prometheus.NewRegistry(),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ddn_open_connections",
			Help: "WebSocket connections this node holds open."}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ddn_messages_total",
			Help: "Messages answered, by message type and result code."}, []string{"type", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ddn_message_duration_seconds",
			Help: "Time from reading a message to answering it.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"type"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ddn_report_batch_size",
			Help: "Reports stored per batch insert.", Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
		flush: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ddn_report_flush_duration_seconds",
			Help: "Time to store one batch of reports.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		flushErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "ddn_report_flush_errors_total",
			Help: "Batches of reports the store refused (none of them was acknowledged)."}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ddn_outbox_deliveries_total",
			Help: "Outbox delivery attempts by this node, by target and result (ok, error, skipped: nothing to do)."}, []string{"target", "result"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ddn_sweeper_transitions_total",
			Help: "Presence transitions made by this node's sweeper: released (a dead node's machine) and offline."}, []string{"transition"}),
		storeOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ddn_store_operation_duration_seconds",
			Help: "Database commands by name (insert, update, find, delete, ...).", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"operation"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ddn_store_operation_errors_total",
			Help: "Database commands that failed, by name."}, []string{"operation"}),
	}
	m.registry.MustRegister(m.connections, m.messages, m.latency, m.batchSize, m.flush, m.flushErrors, m.deliveries, m.transitions, m.storeOps, m.storeErrors)
	m.runtime.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ConnectionOpened implements the WebSocket Observer.
func (m *NodeMetrics) ConnectionOpened() { m.connections.Inc() }

// ConnectionClosed implements the WebSocket Observer.
func (m *NodeMetrics) ConnectionClosed() { m.connections.Dec() }

// MessageHandled implements the WebSocket Observer.
func (m *NodeMetrics) MessageHandled(msgType uint32, code domain.Code, took time.Duration) {
	t := strconv.FormatUint(uint64(msgType), 10)
	m.messages.WithLabelValues(t, strconv.FormatUint(uint64(code), 10)).Inc()
	m.latency.WithLabelValues(t).Observe(took.Seconds())
}

// ObserveReportFlush records one batch insert of the report batcher.
func (m *NodeMetrics) ObserveReportFlush(size int, took time.Duration, err error) {
	m.batchSize.Observe(float64(size))
	m.flush.Observe(took.Seconds())
	if err != nil {
		m.flushErrors.Inc()
	}
}

// ObserveDelivery records one outbox delivery attempt to a target.
func (m *NodeMetrics) ObserveDelivery(target string, err error) {
	result := "ok"
	switch {
	case errors.Is(err, domain.ErrNoEffect):
		result = "skipped"
	case err != nil:
		result = "error"
	}
	m.deliveries.WithLabelValues(target, result).Inc()
}

// ObserveStoreOp records one database command.
func (m *NodeMetrics) ObserveStoreOp(op string, took time.Duration, err error) {
	m.storeOps.WithLabelValues(op).Observe(took.Seconds())
	if err != nil {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}

// ObserveSweep records the transitions of one sweep.
func (m *NodeMetrics) ObserveSweep(released, offline int) {
	m.transitions.WithLabelValues("released").Add(float64(released))
	m.transitions.WithLabelValues("offline").Add(float64(offline))
}

// Register adds collectors (e.g. the cluster collector) to /metrics.
func (m *NodeMetrics) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := m.registry.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Handler serves the node's metrics (GET /metrics).
func (m *NodeMetrics) Handler() http.Handler {
	return promhttp.HandlerFor(prometheus.Gatherers{m.registry, m.runtime}, promhttp.HandlerOpts{})
}

// Gatherer gathers ddn's own node metrics, without the runtime ones (for the Pushgateway).
func (m *NodeMetrics) Gatherer() prometheus.Gatherer { return m.registry }

// Connections gathers only the open-connection gauge, which the fleet
// endpoint serves beside the fleet.
func (m *NodeMetrics) Connections() prometheus.Gatherer {
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.connections)
	return reg
}
