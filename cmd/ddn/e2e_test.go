package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"ddn/adapters/embedded"
	"ddn/adapters/mongo"
	"ddn/domain"
	"ddn/internal/ddnproc"
)

// buildBinary builds cmd/ddn the way it ships (deploy/build.sh), stamped
// with a version the tests can recognise.
func buildBinary(t testing.TB) string {
	t.Helper()
	return ddnproc.BuildVersion(t, "ddn", "e2e-test")
}

// machineEvents returns the machine events of one kind the node logged.
func machineEvents(l *ddnproc.Log, kind string) []loggedEvent {
	return ddnproc.Entries(l, func(e loggedEvent) bool { return e.Msg == "machine event" && e.Event == kind })
}

type loggedEvent struct {
	Msg     string    `json:"msg"`
	Event   string    `json:"event"`
	Machine string    `json:"machine"`
	At      time.Time `json:"at"`
}

// startNode runs the binary with no config file in dir and waits until it
// is ready, with the defaults of these tests: a node id, and a fleet
// snapshot refreshed every 100ms (waitForSeries).
func startNode(t testing.TB, bin, dir, addr string, env ...string) *ddnproc.Node {
	t.Helper()
	return ddnproc.Start(t, bin, dir, addr, append([]string{"DDN_NODEID=e2e-node", "DDN_PROMETHEUS_FLEETREFRESH=100ms"}, env...)...)
}

type response struct {
	ID      uint64 `json:"id"`
	Type    uint32 `json:"type"`
	Code    uint32 `json:"code"`
	Message string `json:"message"`
}

func request(t *testing.T, ctx context.Context, c *websocket.Conn, id uint64, typ uint32, body string) response {
	t.Helper()
	msg := fmt.Sprintf(`{"version":0,"timestamp":%d,"id":%d,"type":%d,"pub_key":"","sign":"","body":%q}`,
		time.Now().UnixMilli(), id, typ, base64.StdEncoding.EncodeToString([]byte(body)))
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var r response
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("response %s: %v", data, err)
	}
	return r
}

// getBody is the body of GET url, whatever the status; the test fails if
// the request does.
func getBody(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metrics is the node's fleet exposition.
func metrics(t *testing.T, addr string) string {
	t.Helper()
	return getBody(t, "http://"+addr+"/metrics/prometheus")
}

// waitForSeries polls the fleet endpoint until it holds line (the snapshot
// refreshes every 100ms in these tests).
func waitForSeries(t *testing.T, addr, line string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := metrics(t, addr)
		if strings.Contains(m, line) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fleet metrics never held %q:\n%s", line, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBinaryPersistsAcrossRestart is the new user's path: the built binary,
// no config, in an empty directory; an agent goes online and reports; after a
// restart the machine and its report are still there.
func TestBinaryPersistsAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	if out, err := exec.Command(bin, "-version").Output(); err != nil || strings.TrimSpace(string(out)) != "e2e-test" {
		t.Fatalf("ddn -version = %q, %v", out, err)
	}
	dir := t.TempDir()
	addr := ddnproc.FreeAddr(t)
	n := startNode(t, bin, dir, addr)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	online := `{"machine_id":"123456789","project":"deeplink","container_id":"","staking_type":0}`
	if r := request(t, ctx, c, 1, 1, online); r.Code != 0 || r.Message != "machine online success" || r.ID != 1 || r.Type != 1 {
		t.Fatalf("online answered %+v", r)
	}
	info := `{"cpu_type":"13th Gen Intel(R) Core(TM) i5-13400F","cpu_rate":2500,"gpu_names":["NVIDIA GeForce RTX 4060"],"gpu_memory_total":[8],"memory_total":16,"wallet":"0xabc"}`
	if r := request(t, ctx, c, 2, 2, info); r.Code != 0 {
		t.Fatalf("report answered %+v", r)
	}
	waitForSeries(t, addr, `ddn_machine_online{machine_id="123456789",project="deeplink",container_id=""} 1`)
	n.Stop(t) // drains: the agent's connection is closed by the node
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("agent saw %v, want close 1001 going away", err)
	}

	n = startNode(t, bin, dir, addr)
	waitForSeries(t, addr, `ddn_machine_online{machine_id="123456789",project="deeplink",container_id=""} 0`)
	n.Stop(t)

	// Read the data directory with the node's own adapters.
	srv, err := embedded.Start(ctx, embedded.Options{Dir: filepath.Join(dir, "ddn-data")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	st, err := mongo.Open(ctx, mongo.Options{URI: srv.URI()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	key := domain.MachineKey{MachineID: "123456789", Project: "deeplink"}
	m, err := st.GetMachine(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if m.State != domain.StateDisconnected || m.ShortTerm == nil || m.ShortTerm.GPUNames[0] != "NVIDIA GeForce RTX 4060" || m.LastReportTime.IsZero() {
		t.Fatalf("machine after restart = %+v", m)
	}
	rs, err := st.ListReports(ctx, key, time.Time{}, time.Time{}, 0)
	if err != nil || len(rs) != 1 || rs[0].ShortTerm == nil || rs[0].ShortTerm.CPURate != 2500 {
		t.Fatalf("reports after restart = %+v, %v", rs, err)
	}
}
