package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"ddn/internal/ddnproc"
)

// consoleScaleMachines is the fleet of the first-screen measurement.
const consoleScaleMachines = 10000

// TestConsoleFirstScreenWith10000Machines measures, in the browser, how
// long the machine table takes to show its first screen (50 rows) with
// 10,000 machines in the store: from the navigation's start (the page's
// performance.now() origin) to the rows drawn, page, script, API call and
// rendering included; the median of 5 loads is logged and recorded in
// docs/performance.md. The assertion has a tenfold margin on the 300 ms
// target: it catches a console that reads the whole fleet before drawing,
// not a slow machine.
func TestConsoleFirstScreenWith10000Machines(t *testing.T) {
	chromiumPath(t)
	// memory:// measures the node and the console, not the store: the
	// embedded store is sized for ~2,000 machines (docs/performance.md)
	// and its scans of 10,000 time out; MongoDB serves the same API with
	// indexes.
	node := startNode(t, buildBinary(t), t.TempDir(), ddnproc.FreeAddr(t), "DDN_MONGODB_URI=memory://",
		"DDN_ADMIN_TOKEN="+consoleAdminToken, "DDN_ADMIN_READTOKEN="+consoleReadToken,
		// the production refresh, not startNode's 100 ms: a snapshot of 10,000
		// machines ten times a second would be measured instead.
		"DDN_PROMETHEUS_FLEETREFRESH=15s")
	base := "http://" + node.Addr
	seedMachines(t, base, consoleScaleMachines)
	ctx := browser(t, 1280, 900)
	openConsole(t, ctx, base, consoleReadToken, "", "#/fleet")
	waitJS(t, ctx, 30*time.Second, fmt.Sprintf(`document.querySelector('#count-total').textContent === '%d'`, consoleScaleMachines),
		`document.querySelector('#main').innerText`)
	firstScreen := `new Promise((resolve) => { const f = () => document.querySelectorAll('#machines tbody tr').length >= 50 ?
		resolve(performance.now()) : requestAnimationFrame(f); f(); })`
	var took []float64
	for i := range 6 {
		if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("%s/?load=%d#/machines", base, i))); err != nil {
			t.Fatal(err)
		}
		ms, err := chromedp.Run(ctx, chromedp.Evaluate[float64](firstScreen, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		parts, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({dcl: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
			api: performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/v0/machines?limit=50')).map((e) => [e.startTime, e.responseEnd])})`))
		t.Logf("load %d: first screen at %.0f ms; %s", i, ms, parts)
		if i > 0 { // the first load warms the node's and the browser's caches
			took = append(took, ms)
		}
	}
	slices.Sort(took)
	median := took[len(took)/2]
	t.Logf("first screen of the machine table with %d machines: median %.0f ms of %d loads (all: %.0f ms)", consoleScaleMachines, median, len(took), took)
	waitJS(t, ctx, 60*time.Second, fmt.Sprintf(`document.querySelector('#machines-status').innerText.startsWith('%d of %d machines')`,
		consoleScaleMachines, consoleScaleMachines), `document.querySelector('#machines-status').innerText`)
	screenshot(t, ctx, "machines-10000.png")
	if median > 3000 {
		t.Errorf("first screen took %.0f ms (median), more than ten times the 300 ms target", median)
	}
}

// seedMachines imports n machines through POST /api/v0/admin/import (a
// fleet restored from a backup: records only, no presence history).
func seedMachines(t *testing.T, base string, n int) {
	t.Helper()
	gpus := []string{"NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 3080", "NVIDIA GeForce RTX 4060 Ti"}
	states := []string{"online", "disconnected", "offline"}
	now := time.Now().UTC()
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for i := range n {
		at := now.Add(-time.Duration(i) * time.Second)
		_ = enc.Encode(map[string]any{"kind": "machine", "machine_id": fmt.Sprintf("scale-%05d", i), "project": "deeplink", "container_id": "",
			"state": states[i%3], "register_time": at.Add(-time.Hour), "last_online_time": at.Add(-time.Hour), "last_report_time": at,
			"deeplink_st": map[string]any{"gpu_names": []string{gpus[i%3]}, "gpu_memory_total": []int{24564}, "memory_total": 64,
				"cpu_type": "x", "cpu_rate": 1, "wallet": "0xabc", "calc_point": 100 + i%500, "region": "North China"}})
	}
	req, _ := http.NewRequest("POST", base+"/api/v0/admin/import", &body)
	req.Header.Set("Authorization", "Bearer "+consoleAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 || out["machines"] != float64(n) {
		t.Fatalf("import = %d %v", resp.StatusCode, out)
	}
}
