package prom_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"ddn/adapters/memory"
	"ddn/adapters/prom"
	"ddn/domain"
	"ddn/ports"
)

func TestFleetSeries(t *testing.T) {
	ctx := context.Background()
	store := memory.NewStore()
	at := time.Unix(1_700_000_000, 0)
	for _, k := range []domain.MachineKey{{MachineID: "a", Project: "deeplink"}, {MachineID: "b", Project: "deeplink", ContainerID: "c"}, {MachineID: "z", Project: "bw"}} {
		if _, _, err := store.MarkOnline(ctx, k, 0, "n1", at); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.MarkDisconnected(ctx, domain.MachineKey{MachineID: "b", Project: "deeplink", ContainerID: "c"}, at, time.Time{}); err != nil {
		t.Fatal(err)
	}
	fleet := prom.NewFleetCollector(store, time.Second, nil)
	want := `
# HELP ddn_machine_online 1 while the machine holds an open, heart-beating connection to the cluster, else 0.
# TYPE ddn_machine_online gauge
ddn_machine_online{container_id="",machine_id="a",project="deeplink"} 1
ddn_machine_online{container_id="c",machine_id="b",project="deeplink"} 0
ddn_machine_online{container_id="",machine_id="z",project="bw"} 1
# HELP ddn_machines Machines by project and presence state.
# TYPE ddn_machines gauge
ddn_machines{project="bw",state="online"} 1
ddn_machines{project="deeplink",state="disconnected"} 1
ddn_machines{project="deeplink",state="online"} 1
# HELP ddn_fleet_scrape_errors_total Scrapes of the fleet that could not read the store.
# TYPE ddn_fleet_scrape_errors_total counter
ddn_fleet_scrape_errors_total 0
`
	if err := testutil.CollectAndCompare(fleet, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	store.FailWith(errors.New("down"))
	if err := testutil.CollectAndCompare(fleet, strings.NewReader(`
# HELP ddn_fleet_scrape_errors_total Scrapes of the fleet that could not read the store.
# TYPE ddn_fleet_scrape_errors_total counter
ddn_fleet_scrape_errors_total 1
`)); err != nil {
		t.Fatal(err)
	}
}

func TestNodeMetrics(t *testing.T) {
	m := prom.NewNodeMetrics()
	m.ConnectionOpened()
	m.ConnectionOpened()
	m.ConnectionClosed()
	m.MessageHandled(1, domain.CodeOK, time.Millisecond)
	m.MessageHandled(2, domain.CodeDatabase, time.Millisecond)
	m.MessageHandled(2, domain.CodeDatabase, time.Millisecond)
	m.ObserveReportFlush(10, time.Millisecond, errors.New("x"))
	m.ObserveDelivery("log", nil)
	m.ObserveDelivery("webhook", errors.New("x"))
	m.ObserveSweep(2, 3)
	store := memory.NewStore()
	_ = store.InsertOutbox(context.Background(), ports.OutboxEntry{ID: "e1", Status: ports.OutboxReady})
	_ = store.InsertOutbox(context.Background(), ports.OutboxEntry{ID: "e2", Status: ports.OutboxDead})
	if err := m.Register(prom.NewClusterCollector(store, func(context.Context) (int, int, error) { return 2, 1, nil }, time.Second)); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, line := range []string{
		"ddn_open_connections 1",
		`ddn_messages_total{code="0",type="1"} 1`,
		`ddn_messages_total{code="4",type="2"} 2`,
		"ddn_report_flush_errors_total 1",
		"ddn_report_batch_size_sum 10",
		`ddn_outbox_deliveries_total{result="ok",target="log"} 1`,
		`ddn_outbox_deliveries_total{result="error",target="webhook"} 1`,
		`ddn_sweeper_transitions_total{transition="released"} 2`,
		`ddn_sweeper_transitions_total{transition="offline"} 3`,
		`ddn_outbox_entries{status="ready"} 1`,
		`ddn_outbox_entries{status="dead"} 1`,
		`ddn_outbox_entries{status="pending"} 0`,
		`ddn_cluster_nodes{state="alive"} 2`,
		`ddn_cluster_nodes{state="dead"} 1`,
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(body, line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	rec = httptest.NewRecorder()
	prom.FleetHandler(prom.NewFleetCollector(memory.NewStore(), time.Second, nil), m).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/prometheus", nil))
	if !strings.Contains(rec.Body.String(), "ddn_open_connections 1") {
		t.Errorf("/metrics/prometheus lacks the open connection count:\n%s", rec.Body.String())
	}
}
