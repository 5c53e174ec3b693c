package prom_test

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"ddn/adapters/memory"
	"ddn/adapters/prom"
	"ddn/domain"
)

func TestFleetSeries(t *testing.T) {
	ctx := context.Background()
	store := memory.NewStore()
	at := time.Unix(1_700_000_000, 0)
	gpuKey := domain.MachineKey{MachineID: "a", Project: "deeplink"}
	bwKey := domain.MachineKey{MachineID: "b", Project: "deeplink", ContainerID: "c"}
	newKey := domain.MachineKey{MachineID: "z", Project: "bw"}
	for _, k := range []domain.MachineKey{gpuKey, bwKey, newKey} {
		if _, _, err := store.MarkOnline(ctx, k, 1, "n1", at); err != nil {
			t.Fatal(err)
		}
	}
	gpu := domain.ShortTermInfo{GPUNames: []string{"NVIDIA GeForce RTX 4090", `odd "name"`}, GPUMemoryTotal: []int64{24, 8}, MemoryTotal: 64,
		CPUType: "AMD Ryzen 9", CPURate: 4500, Wallet: "0xaaa", CalcPoint: 1234.5, Region: "East China"}
	if err := store.SetShortTermInfo(ctx, gpuKey, gpu, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := store.SetBandwidthInfo(ctx, bwKey, domain.BandwidthInfo{CPUCores: 4, MemoryTotal: 8, HDD: 500, Bandwidth: 100, Wallet: "0xbbb", Region: "Texas"}, at.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkDisconnected(ctx, bwKey, at, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.MarkOffline(ctx, bwKey, at, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	fleet := prom.NewFleet(store, time.Second, nil, nil)
	if err := fleet.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	const m = `machine_id="a",project="deeplink",container_id=""`
	const b = `machine_id="b",project="deeplink",container_id="c"`
	const z = `machine_id="z",project="bw",container_id=""`
	want := `
# HELP ddn_machine_online 1 while the machine holds an open, heart-beating connection to the cluster, else 0.
# TYPE ddn_machine_online gauge
ddn_machine_online{` + z + `} 1
ddn_machine_online{` + m + `} 1
ddn_machine_online{` + b + `} 0
# HELP ddn_machine_state The machine's presence state (online, disconnected, offline); 1 for the current state.
# TYPE ddn_machine_state gauge
ddn_machine_state{` + z + `,state="online"} 1
ddn_machine_state{` + m + `,state="online"} 1
ddn_machine_state{` + b + `,state="offline"} 1
# HELP ddn_machine_info Facts of the machine as labels (kind, staking type, wallet, CPU, region, node); always 1.
# TYPE ddn_machine_info gauge
ddn_machine_info{` + z + `,kind="unknown",staking_type="1",wallet="",cpu_type="",region="",node_id="n1"} 1
ddn_machine_info{` + m + `,kind="short_term",staking_type="1",wallet="0xaaa",cpu_type="AMD Ryzen 9",region="East China",node_id="n1"} 1
ddn_machine_info{` + b + `,kind="bandwidth",staking_type="1",wallet="0xbbb",cpu_type="",region="Texas",node_id="n1"} 1
# HELP ddn_machine_last_report_timestamp_seconds When the machine last reported, as far as machine_info knows (refreshed at most once a minute).
# TYPE ddn_machine_last_report_timestamp_seconds gauge
ddn_machine_last_report_timestamp_seconds{` + m + `} 1.70000006e+09
ddn_machine_last_report_timestamp_seconds{` + b + `} 1.70000012e+09
# HELP ddn_machine_last_offline_timestamp_seconds When the machine last went offline.
# TYPE ddn_machine_last_offline_timestamp_seconds gauge
ddn_machine_last_offline_timestamp_seconds{` + b + `} 1.7000036e+09
# HELP ddn_machine_gpus GPUs a short-term (GPU) machine reports.
# TYPE ddn_machine_gpus gauge
ddn_machine_gpus{` + m + `} 2
# HELP ddn_machine_gpu_memory_bytes Memory of each GPU of a short-term machine.
# TYPE ddn_machine_gpu_memory_bytes gauge
ddn_machine_gpu_memory_bytes{` + m + `,gpu_index="0",gpu_name="NVIDIA GeForce RTX 4090"} 2.5769803776e+10
ddn_machine_gpu_memory_bytes{` + m + `,gpu_index="1",gpu_name="odd \"name\""} 8.589934592e+09
# HELP ddn_machine_memory_bytes Memory of the machine.
# TYPE ddn_machine_memory_bytes gauge
ddn_machine_memory_bytes{` + m + `} 6.8719476736e+10
ddn_machine_memory_bytes{` + b + `} 8.589934592e+09
# HELP ddn_machine_cpu_frequency_hertz CPU rate a short-term machine reports.
# TYPE ddn_machine_cpu_frequency_hertz gauge
ddn_machine_cpu_frequency_hertz{` + m + `} 4.5e+09
# HELP ddn_machine_score Calc point (score) of a short-term machine.
# TYPE ddn_machine_score gauge
ddn_machine_score{` + m + `} 1234.5
# HELP ddn_machine_cpu_cores CPU cores a bandwidth machine reports.
# TYPE ddn_machine_cpu_cores gauge
ddn_machine_cpu_cores{` + b + `} 4
# HELP ddn_machine_disk_bytes Disk a bandwidth machine reports.
# TYPE ddn_machine_disk_bytes gauge
ddn_machine_disk_bytes{` + b + `} 5.36870912e+11
# HELP ddn_machine_bandwidth_bytes_per_second Bandwidth a bandwidth machine reports (agents report Mbps).
# TYPE ddn_machine_bandwidth_bytes_per_second gauge
ddn_machine_bandwidth_bytes_per_second{` + b + `} 1.25e+07
# HELP ddn_machines Machines by project and presence state.
# TYPE ddn_machines gauge
ddn_machines{project="bw",state="online"} 1
ddn_machines{project="deeplink",state="offline"} 1
ddn_machines{project="deeplink",state="online"} 1
`
	rec := httptest.NewRecorder()
	fleet.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/prometheus", nil))
	got := rec.Body.String()
	if !strings.HasPrefix(got, strings.TrimPrefix(want, "\n")) {
		t.Fatalf("fleet series\n got:\n%s\nwant:\n%s", got, want)
	}
	// Gzip-accepting scrapers get the same series, compressed.
	req := httptest.NewRequest("GET", "/metrics/prometheus", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec = httptest.NewRecorder()
	fleet.ServeHTTP(rec, req)
	zr, err := gzip.NewReader(rec.Body)
	if err != nil || rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip answer: %v, encoding %q", err, rec.Header().Get("Content-Encoding"))
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || string(unzipped) != got {
		t.Fatalf("gzip body differs from the plain one (%v):\n%s", err, unzipped)
	}

	// A store that fails keeps the last snapshot and counts the failure.
	store.FailWith(errors.New("down"))
	if err := fleet.Refresh(ctx); err == nil {
		t.Fatal("refresh on a failing store succeeded")
	}
	if err := testutil.GatherAndCompare(fleet.Gatherer(), strings.NewReader(`
# HELP ddn_fleet_snapshot_errors_total Refreshes of the fleet snapshot that could not read the store.
# TYPE ddn_fleet_snapshot_errors_total counter
ddn_fleet_snapshot_errors_total 1
`), "ddn_fleet_snapshot_errors_total"); err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	fleet.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/prometheus", nil))
	if !strings.HasPrefix(rec.Body.String(), strings.TrimPrefix(want, "\n")) {
		t.Fatal("the last snapshot must stay when a refresh fails")
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
	m.ObserveStoreOp("insert", 2*time.Millisecond, nil)
	m.ObserveStoreOp("update", time.Millisecond, errors.New("x"))
	store := memory.NewStore()
	_ = store.InsertOutbox(context.Background(), domain.OutboxEntry{ID: "e1", Status: domain.OutboxReady})
	_ = store.InsertOutbox(context.Background(), domain.OutboxEntry{ID: "e2", Status: domain.OutboxDead})
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
		`ddn_store_operation_duration_seconds_count{operation="insert"} 1`,
		`ddn_store_operation_errors_total{operation="update"} 1`,
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(body, line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	rec = httptest.NewRecorder()
	prom.NewFleet(memory.NewStore(), time.Second, m.Connections(), nil).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/prometheus", nil))
	if !strings.Contains(rec.Body.String(), "ddn_open_connections 1") {
		t.Errorf("/metrics/prometheus lacks the open connection count:\n%s", rec.Body.String())
	}
}
