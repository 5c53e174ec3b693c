package prom

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ddn/domain"
	"ddn/ports"
)

var (
	descOutbox = prometheus.NewDesc("ddn_outbox_entries",
		"Outbox entries of the whole cluster by status (ready and pending are the backlog; dead needs an operator).", []string{"status"}, nil)
	descNodes = prometheus.NewDesc("ddn_cluster_nodes",
		"Nodes in the cluster by liveness of their lease.", []string{"state"}, nil)
)

// ClusterCollector reads the outbox depth and the nodes' liveness at scrape time.
type ClusterCollector struct {
	outbox  ports.OutboxStore
	alive   func(ctx context.Context) (alive, dead int, err error)
	timeout time.Duration
}

// NewClusterCollector returns a collector of cluster-wide state.
func NewClusterCollector(outbox ports.OutboxStore, alive func(ctx context.Context) (int, int, error), timeout time.Duration) *ClusterCollector {
	return &ClusterCollector{outbox: outbox, alive: alive, timeout: timeout}
}

// Describe implements prometheus.Collector.
func (c *ClusterCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descOutbox; ch <- descNodes }

// Collect implements prometheus.Collector; a store that does not answer
// leaves the series out (store errors are counted elsewhere).
func (c *ClusterCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if counts, err := c.outbox.CountOutbox(ctx); err == nil {
		for _, st := range []domain.OutboxStatus{domain.OutboxPending, domain.OutboxReady, domain.OutboxDone, domain.OutboxDead, domain.OutboxCancelled} {
			ch <- prometheus.MustNewConstMetric(descOutbox, prometheus.GaugeValue, float64(counts[st]), string(st))
		}
	}
	if alive, dead, err := c.alive(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(alive), "alive")
		ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(dead), "dead")
	}
}
