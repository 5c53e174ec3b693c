package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ddn/internal/ddnproc"
)

// requireBinary finds a tool the test needs. CI installs it and sets
// DDN_REQUIRE_PROMETHEUS, which turns its absence into a failure.
func requireBinary(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("DDN_REQUIRE_PROMETHEUS") != "" {
			t.Fatalf("%s is required (DDN_REQUIRE_PROMETHEUS is set) but not on PATH", name)
		}
		t.Skipf("%s not installed (apt-get install prometheus prometheus-pushgateway; .ci/run does)", name)
	}
	return path
}

// startDaemon runs a helper server until the test ends and waits for ready.
func startDaemon(t *testing.T, ready string, name string, args ...string) {
	t.Helper()
	ddnproc.StartProcess(t, exec.Command(name, args...), ddnproc.ReadyAt(http.DefaultClient, ready), 30*time.Second)
}

// promValue queries Prometheus for one instant value of expr ("" if none).
func promValue(t *testing.T, promAddr, expr string) string {
	t.Helper()
	resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if len(body.Data.Result) != 1 {
		return ""
	}
	v, _ := body.Data.Result[0].Value[1].(string)
	return v
}

// waitFor polls ok every 200ms, failing the test after 30s.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	if !ddnproc.Eventually(30*time.Second, 200*time.Millisecond, ok) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestPrometheusScrapesTheFleet runs a real Prometheus scraping a real node,
// and a real Pushgateway the node pushes to.
func TestPrometheusScrapesTheFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs prometheus and the pushgateway")
	}
	prometheus := requireBinary(t, "prometheus")
	promtool := requireBinary(t, "promtool")
	gateway := requireBinary(t, "prometheus-pushgateway")
	dir := t.TempDir()

	gwAddr := ddnproc.FreeAddr(t)
	startDaemon(t, "http://"+gwAddr+"/-/ready", gateway, "--web.listen-address="+gwAddr)

	nodeAddr := ddnproc.FreeAddr(t)
	startNode(t, buildBinary(t), dir, nodeAddr, "DDN_NODEID=prom-node", "DDN_OFFLINEGRACEPERIOD=1s", "DDN_SWEEPINTERVAL=200ms",
		"DDN_PROMETHEUS_FLEETREFRESH=200ms", "DDN_PROMETHEUS_PUSHGATEWAYURL=http://"+gwAddr, "DDN_PROMETHEUS_PUSHINTERVAL=200ms",
		"DDN_PROMETHEUS_JOBNAME=ddn-push")

	promAddr := ddnproc.FreeAddr(t)
	// The job names of deploy/prometheus/prometheus.yml, and its alert rules.
	rules, err := filepath.Abs("../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 500ms
  evaluation_interval: 1s
rule_files: [%[2]q]
scrape_configs:
  - job_name: ddn-fleet
    metrics_path: /metrics/prometheus
    static_configs: [{targets: ["%[1]s"]}]
  - job_name: ddn
    static_configs: [{targets: ["%[1]s"]}]
`, nodeAddr, rules)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, "http://"+promAddr+"/-/ready", prometheus, "--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)

	a := newAgent(t, "prom-1")
	if err := a.online(nodeAddr); err != nil {
		t.Fatal(err)
	}
	if err := a.report(); err != nil {
		t.Fatal(err)
	}
	online := `ddn_machine_online{job="ddn-fleet",machine_id="prom-1"}`
	waitFor(t, "Prometheus to see the machine online", func() bool { return promValue(t, promAddr, online) == "1" })
	waitFor(t, "Prometheus to see the node's connection", func() bool {
		return promValue(t, promAddr, `ddn_open_connections{job="ddn"}`) == "1"
	})
	checkDashboard(t, promAddr)
	checkRulesLoaded(t, promAddr)
	if v := promValue(t, promAddr, `ddn_machine_bandwidth_bytes_per_second{machine_id="prom-1"}`); v != "1250000" {
		t.Errorf("bandwidth in Prometheus = %q, want 1250000 (10 Mbps)", v)
	}

	// Both endpoints pass promtool's checks.
	for _, path := range []string{"/metrics/prometheus", "/metrics"} {
		body := getBody(t, "http://"+nodeAddr+path)
		check := exec.Command(promtool, "check", "metrics")
		check.Stdin = strings.NewReader(body)
		if out, err := check.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) != 0 {
			t.Errorf("promtool check metrics %s: %v\n%s", path, err, out)
		}
	}

	// The Pushgateway holds the fleet, grouped by job and node.
	waitFor(t, "the pushed fleet on the Pushgateway", func() bool {
		resp, err := http.Get("http://" + gwAddr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		s := string(b)
		return strings.Contains(s, `ddn_machine_online{container_id="",instance="",job="ddn-push",machine_id="prom-1",node="prom-node",project="deeplink"} 1`) &&
			strings.Contains(s, `ddn_open_connections{instance="",job="ddn-push",node="prom-node"} 1`)
	})

	// The agent leaves: at once not online, after the grace period offline.
	a.close()
	waitFor(t, "Prometheus to see the machine not online", func() bool { return promValue(t, promAddr, online) == "0" })
	waitFor(t, "Prometheus to see the machine offline", func() bool {
		return promValue(t, promAddr, `ddn_machine_state{job="ddn-fleet",machine_id="prom-1",state="offline"}`) == "1"
	})
}

// checkDashboard runs every query of the shipped Grafana dashboard against
// the real Prometheus: each must parse and run, and the fleet's headline
// panel must show the connected machine.
func checkDashboard(t *testing.T, promAddr string) {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/grafana/dashboards/ddn.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	queries := 0
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			queries++
			resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(target.Expr))
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Status string `json:"status"`
				Error  string `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if body.Status != "success" {
				t.Errorf("dashboard panel %q: query %s failed: %s", p.Title, target.Expr, body.Error)
			}
		}
	}
	if queries < 20 {
		t.Errorf("the dashboard has only %d queries", queries)
	}
	if v := promValue(t, promAddr, `sum(ddn_machine_online{job="ddn-fleet"})`); v != "1" {
		t.Errorf("panel 'Machines online' shows %q, want 1", v)
	}
}

// checkRulesLoaded asserts Prometheus loaded the shipped alert rules.
func checkRulesLoaded(t *testing.T, promAddr string) {
	t.Helper()
	resp, err := http.Get("http://" + promAddr + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name string `json:"name"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range body.Data.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Name)
		}
	}
	want := []string{"DdnNodeDown", "DdnClusterNodeDead", "DdnMachineFlapping", "DdnOutboxGrowing", "DdnOutboxDeadLetters", "DdnStoreErrors", "DdnChainTransactionsFailing", "DdnChainRefusesReads", "DdnChainStalled"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("Prometheus loaded rules %v, want %v", names, want)
	}
}
