package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"ddn/adapters/geo/ip2ltest"
	"ddn/internal/ddnproc"
)

// postJSON posts body and decodes the JSON answer.
func postJSON(t *testing.T, url, body string) map[string]any {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBinaryScoresAndLocates runs the built binary with a generated DB5 that
// places loopback in Shenzhen and a catalog file of its own: agents' reports
// get their score and region, the HTTP endpoints answer, and an edit of the
// catalog is picked up while a bad edit is refused.
func TestBinaryScoresAndLocates(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "IP2LOCATION-LITE-DB5.BIN")
	err := ip2ltest.WriteDB5(bin, []ip2ltest.Range{{From: netip.MustParseAddr("127.0.0.0"), To: netip.MustParseAddr("127.255.255.255"),
		CountryCode: "CN", Country: "China", Region: "Guangdong", City: "Shenzhen", Latitude: 22.5431, Longitude: 114.0579}})
	if err != nil {
		t.Fatal(err)
	}
	catalog := filepath.Join(dir, "gpus.json")
	if err := os.WriteFile(catalog, []byte(`{"gpus":[{"name":"GeForce RTX 4060","memory_gb":8,"cuda_cores":3072}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := ddnproc.FreeAddr(t)
	n := startNode(t, buildBinary(t), dir, addr, "DDN_MONGODB_URI=memory://", "DDN_IP2LOCATIONDB_DATABASEPATH="+bin,
		"DDN_SCORE_GPUCATALOG="+catalog, "DDN_SCORE_CATALOGRELOAD=50ms")
	base := "http://" + addr

	resp, err := http.Get(base + "/api/v0/location?ip=127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	var loc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&loc)
	resp.Body.Close()
	if loc["city"] != "Shenzhen" || loc["bandwidth_region"] != "South China" || loc["latitude"] != 22.5431 {
		t.Fatalf("location = %v", loc)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func() *websocket.Conn {
		c, _, err := websocket.Dial(ctx, "ws://"+addr+"/websocket", nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	gpu := dial()
	if r := request(t, ctx, gpu, 1, 1, `{"machine_id":"gpu-1","project":"deeplink","container_id":"","staking_type":0}`); r.Code != 0 {
		t.Fatalf("online answered %+v", r)
	}
	unknown := `{"cpu_type":"x","cpu_rate":2500,"gpu_names":["NVIDIA GeForce RTX 4090"],"gpu_memory_total":[24],"memory_total":16,"wallet":"0xabc"}`
	// The original's answer for a GPU its catalog does not hold (issue 14).
	if r := request(t, ctx, gpu, 2, 2, unknown); r.Code != 6 || r.Message != "calculate gpu point failed can not find the number of cuda cores" {
		t.Fatalf("unscorable report answered %+v", r)
	}
	info := `{"cpu_type":"x","cpu_rate":2500,"gpu_names":["NVIDIA GeForce RTX 4060"],"gpu_memory_total":[8],"memory_total":16,"wallet":"0xabc"}`
	if r := request(t, ctx, gpu, 3, 2, info); r.Code != 0 {
		t.Fatalf("report answered %+v", r)
	}
	bw := dial()
	if r := request(t, ctx, bw, 1, 1, `{"machine_id":"bw-1","project":"deeplink","container_id":"","staking_type":0}`); r.Code != 0 {
		t.Fatalf("online answered %+v", r)
	}
	if r := request(t, ctx, bw, 2, 4, `{"cpu_cores":4,"memory_total":8,"hdd":500,"bandwidth":100,"wallet":"0xdef"}`); r.Code != 0 {
		t.Fatalf("bandwidth report answered %+v", r)
	}
	waitForSeries(t, addr, `ddn_machine_score{machine_id="gpu-1",project="deeplink",container_id=""} 79.15`)
	waitForSeries(t, addr, `region="Guangdong"`)
	waitForSeries(t, addr, `region="South China"`)

	calc := base + "/api/v0/calculator/point"
	// A whole type-2 body: the calculator answers what such a report gets.
	body4090 := `{"cpu_type":"x","cpu_rate":2500,"gpu_names":["NVIDIA GeForce RTX 4090"],"gpu_memory_total":[24],"memory_total":64,"wallet":"0xabc"}`
	if out := postJSON(t, calc, body4090); out["code"] != 6.0 {
		t.Fatalf("4090 before the edit = %v", out)
	}
	edited := `{"gpus":[{"name":"GeForce RTX 4060","memory_gb":8,"cuda_cores":3072},{"name":"GeForce RTX 4090","memory_gb":24,"cuda_cores":16384}]}`
	if err := os.WriteFile(catalog, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the edited catalog", func() bool { return postJSON(t, calc, body4090)["code"] == 0.0 })
	if err := os.WriteFile(catalog, []byte(`{"gpus":[`), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bad edit to be refused", func() bool { return strings.Contains(n.Logs(), "gpu catalog edit refused") })
	if out := postJSON(t, calc, body4090); out["code"] != 0.0 || out["calc_point"] != 241.58 {
		t.Fatalf("4090 after a bad edit = %v", out)
	}
	n.Stop(t)
}
