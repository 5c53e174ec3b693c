// Package prom exposes the fleet and the node to Prometheus.
package prom

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"ddn/domain"
	"ddn/ports"
)

var (
	descOnline = prometheus.NewDesc("ddn_machine_online",
		"1 while the machine holds an open, heart-beating connection to the cluster, else 0.",
		[]string{"machine_id", "project", "container_id"}, nil)
	descMachines = prometheus.NewDesc("ddn_machines",
		"Machines by project and presence state.", []string{"project", "state"}, nil)
)

// FleetCollector reads machine_info (never the time series) at scrape time.
type FleetCollector struct {
	store   ports.MachineStore
	timeout time.Duration
	log     *zap.Logger
	errors  prometheus.Counter
}

// NewFleetCollector returns a collector of the fleet's presence.
func NewFleetCollector(store ports.MachineStore, timeout time.Duration, log *zap.Logger) *FleetCollector {
	if log == nil {
		log = zap.NewNop()
	}
	return &FleetCollector{store: store, timeout: timeout, log: log,
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "ddn_fleet_scrape_errors_total",
			Help: "Scrapes of the fleet that could not read the store."})}
}

// Describe implements prometheus.Collector.
func (f *FleetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descOnline
	ch <- descMachines
	f.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (f *FleetCollector) Collect(ch chan<- prometheus.Metric) {
	defer f.errors.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	machines, err := f.store.ListMachines(ctx, ports.MachineFilter{})
	if err != nil {
		f.errors.Inc()
		f.log.Error("fleet metrics: list machines", zap.Error(err))
		return
	}
	type group struct{ project, state string }
	counts := map[group]int{}
	for _, m := range machines {
		online := 0.0
		if m.State == domain.StateOnline {
			online = 1
		}
		ch <- prometheus.MustNewConstMetric(descOnline, prometheus.GaugeValue, online, m.Key.MachineID, m.Key.Project, m.Key.ContainerID)
		state := string(m.State)
		if state == "" {
			state = "unknown"
		}
		counts[group{m.Key.Project, state}]++
	}
	for g, n := range counts {
		ch <- prometheus.MustNewConstMetric(descMachines, prometheus.GaugeValue, float64(n), g.project, g.state)
	}
}
