package main

// The web console in a real browser (issue 18): Debian's chromium, driven
// by chromedp over the DevTools protocol, against a real ddn process and
// real agents. Each test saves screenshots (console_shots below).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	ddnagent "ddn/agent"
	"ddn/internal/ddnproc"
)

const (
	consoleAdminToken = "console-admin-token"
	consoleReadToken  = "console-read-token"
)

// chromiumPath finds Debian's chromium; without it the browser tests skip,
// unless DDN_REQUIRE_CHROMIUM=1 (CI) makes that a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("DDN_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("chromium not found and DDN_REQUIRE_CHROMIUM=1 (.ci/run installs it)")
	}
	t.Skip("chromium not installed (apt-get install chromium); set DDN_REQUIRE_CHROMIUM=1 to fail instead")
	return ""
}

// browser starts a headless chromium of its own (a fresh profile, no
// network but loopback) and returns a tab's context; it ends with the test.
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(width, height),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// Bound the whole test's browsing; a hung page fails instead of hanging.
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// consoleShots is where screenshots go: DDN_CONSOLE_SHOTS, else a folder
// under the system's temporary directory (named in the test log). With
// DDN_CONSOLE_DOCS=1 they are also copied to docs/console for the docs.
func consoleShots(t *testing.T) string {
	dir := os.Getenv("DDN_CONSOLE_SHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "ddn-console-shots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(consoleShots(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", path, len(png))
	if os.Getenv("DDN_CONSOLE_DOCS") == "1" {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "console", name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// waitJS polls a JavaScript expression until it is true (every 100 ms, up
// to within); on timeout it fails with the last value of show.
func waitJS(t *testing.T, ctx context.Context, within time.Duration, cond, show string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](show))
			t.Fatalf("page never satisfied %s within %s; it shows: %s", cond, within, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// consoleNode is one real node on its embedded store whose webhook can
// never be reached: every side effect for it is dead-lettered at its first
// attempt, which gives the outbox page something to act on.
func consoleNode(t *testing.T, extra ...string) *ddnproc.Node {
	t.Helper()
	dead := ddnproc.FreeAddr(t) // nothing listens there
	env := append([]string{"DDN_ADMIN_TOKEN=" + consoleAdminToken, "DDN_ADMIN_READTOKEN=" + consoleReadToken,
		"DDN_OFFLINEGRACEPERIOD=1m", "DDN_OUTBOX_INTERVAL=200ms", "DDN_OUTBOX_MAXATTEMPTS=1",
		"DDN_NOTIFYTHIRDPARTY_OFFLINENOTIFY=http://" + dead + "/hook", "DDN_NOTIFYTHIRDPARTY_PROJECTS=*",
		"DDN_NOTIFYTHIRDPARTY_AFTERCHAINREPORT=false"}, extra...)
	return startNode(t, buildBinary(t), t.TempDir(), ddnproc.FreeAddr(t), env...)
}

// agents runs real agents (the agent package ddn-agent is built on) by machine id.
type agents struct {
	mu     sync.Mutex
	cancel map[string]context.CancelFunc
	wg     sync.WaitGroup
}

func newAgents(t *testing.T) *agents {
	a := &agents{cancel: map[string]context.CancelFunc{}}
	t.Cleanup(func() {
		a.mu.Lock()
		for _, c := range a.cancel {
			c()
		}
		a.mu.Unlock()
		a.wg.Wait()
	})
	return a
}

// start brings machine id of project online on addr with a GPU, reporting every second.
func (a *agents) start(addr, project, id, gpu string) {
	ctx, cancel := context.WithCancel(context.Background())
	a.mu.Lock()
	a.cancel[id] = cancel
	a.mu.Unlock()
	a.wg.Go(func() {
		_ = ddnagent.Run(ctx, ddnagent.Config{
			URLs:    []string{ddnagent.NodeURL(addr)},
			Machine: ddnagent.Machine{MachineID: id, Project: project},
			Report: func(ctx context.Context, c *ddnagent.Conn) error {
				return c.ReportShortTerm(ctx, ddnagent.ShortTermInfo{CPUType: "AMD EPYC 7543", CPURate: 2800, GPUNames: []string{gpu},
					GPUMemoryTotal: []int32{24564}, MemoryTotal: 128, Wallet: "0xabc"})
			},
			ReportEvery: time.Second, PingEvery: 2 * time.Second, MinBackoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		})
	})
}

// stop closes machine id's socket for good.
func (a *agents) stop(id string) {
	a.mu.Lock()
	c := a.cancel[id]
	delete(a.cancel, id)
	a.mu.Unlock()
	if c != nil {
		c()
	}
}

// openConsole loads the console at base with the tokens kept in the tab's
// sessionStorage (as the Tokens form keeps them), then shows page.
func openConsole(t *testing.T, ctx context.Context, base, read, admin, page string) {
	t.Helper()
	js := fmt.Sprintf(`sessionStorage.setItem('ddn.readToken', %q); sessionStorage.setItem('ddn.adminToken', %q); true`, read, admin)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatalf("open console: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil {
		t.Fatalf("keep tokens: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/?t="+fmt.Sprint(time.Now().UnixNano())+page)); err != nil {
		t.Fatalf("open console: %v", err)
	}
}

func apiGet(t *testing.T, url, token string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(out)
	return resp.StatusCode
}

func TestConsoleFleetCountsAMachineThatComesOnline(t *testing.T) {
	node := consoleNode(t)
	base := "http://" + node.Addr
	ctx := browser(t, 1280, 900)
	openConsole(t, ctx, base, consoleReadToken, consoleAdminToken, "#/")
	waitJS(t, ctx, 15*time.Second, `document.querySelector('#count-online').textContent === '0'`, `document.querySelector('#main').innerText`)
	fleet := newAgents(t)
	fleet.start(node.Addr, "deeplink", "console-m1", "NVIDIA GeForce RTX 4090")
	// The page updates by itself: no reload, no click.
	waitJS(t, ctx, 20*time.Second, `document.querySelector('#count-online').textContent === '1' &&
		document.querySelector('#project-table').innerText.includes('deeplink') &&
		document.querySelector('#fleet-nodes').innerText.includes('e2e-node') &&
		document.querySelector('#outbox-summary') !== null`, `document.querySelector('#main').innerText`)
	screenshot(t, ctx, "fleet.png")

	// The same page on a phone's screen.
	phone := browser(t, 390, 844)
	if err := chromedp.Do(phone, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch)); err != nil {
		t.Fatal(err)
	}
	openConsole(t, phone, base, consoleReadToken, "", "#/")
	waitJS(t, phone, 15*time.Second, `document.querySelector('#count-online').textContent === '1'`, `document.querySelector('#main').innerText`)
	overflow, err := chromedp.Run(phone, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	if err != nil {
		t.Fatal(err)
	}
	if overflow {
		t.Error("the fleet page is wider than a phone's screen")
	}
	screenshot(t, phone, "fleet-phone.png")
}

func TestConsoleMachinePageShowsTheOutageOfADisconnect(t *testing.T) {
	node := consoleNode(t)
	base := "http://" + node.Addr
	fleet := newAgents(t)
	fleet.start(node.Addr, "deeplink", "console-m2", "NVIDIA GeForce RTX 4090")
	var m struct {
		Machine struct {
			State string `json:"state"`
		} `json:"machine"`
	}
	machineURL := base + "/api/v0/machines/deeplink/console-m2"
	if !ddnproc.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
		return apiGet(t, machineURL, consoleReadToken, &m) == 200 && m.Machine.State == "online"
	}) {
		t.Fatalf("machine never online: %+v", m)
	}
	time.Sleep(2 * time.Second) // online for a while, a few reports stored
	fleet.stop("console-m2")
	if !ddnproc.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
		return apiGet(t, machineURL, consoleReadToken, &m) == 200 && m.Machine.State == "disconnected"
	}) {
		t.Fatalf("machine never disconnected: %+v", m)
	}
	time.Sleep(2 * time.Second) // the outage lasts about two seconds
	fleet.start(node.Addr, "deeplink", "console-m2", "NVIDIA GeForce RTX 4090")
	if !ddnproc.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
		return apiGet(t, machineURL, consoleReadToken, &m) == 200 && m.Machine.State == "online"
	}) {
		t.Fatalf("machine never back online: %+v", m)
	}

	ctx := browser(t, 1280, 1100)
	openConsole(t, ctx, base, consoleReadToken, "", "#/machine/deeplink/console-m2")
	waitJS(t, ctx, 20*time.Second, `(() => {
		const rows = document.querySelectorAll('#outages tbody tr');
		return rows.length === 1 && rows[0].innerText.includes('disconnected') && !rows[0].innerText.includes('ongoing') &&
			document.querySelector('#reconnects').textContent === '1' &&
			document.querySelectorAll('#timeline rect.outage').length === 1 &&
			document.querySelector('#calc-point') !== null && document.querySelector('#calc-point').textContent !== '—' &&
			Number(document.querySelector('#report-count').textContent) >= 2 &&
			document.querySelector('#info').innerText.includes('online');
	})()`, `document.querySelector('#main').innerText`)
	uptime, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#uptime-value').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	// Online about 2 s + the time since the reconnect, out about 2 s: neither 0 nor 100 %.
	if !strings.HasSuffix(uptime, "%") || uptime == "100.00 %" || uptime == "0.00 %" {
		t.Errorf("uptime shown = %q, want a fraction below 100 %%", uptime)
	}
	screenshot(t, ctx, "machine.png")
}

func TestConsoleFiltersNarrowTheMachineTable(t *testing.T) {
	node := consoleNode(t)
	base := "http://" + node.Addr
	fleet := newAgents(t)
	fleet.start(node.Addr, "deeplink", "console-a1", "NVIDIA GeForce RTX 4090")
	fleet.start(node.Addr, "deeplink", "console-a2", "NVIDIA GeForce RTX 3080")
	fleet.start(node.Addr, "other", "console-b1", "NVIDIA GeForce RTX 4090")
	ctx := browser(t, 1280, 900)
	rows := `document.querySelectorAll('#machines tbody tr').length`
	show := `document.querySelector('#main').innerText`
	// The table loads once; wait until every machine has reported its GPU.
	if !ddnproc.Eventually(20*time.Second, 200*time.Millisecond, func() bool {
		var page struct {
			Machines []struct {
				ST *struct{} `json:"deeplink_st"`
			} `json:"machines"`
		}
		if apiGet(t, base+"/api/v0/machines", consoleReadToken, &page) != 200 || len(page.Machines) != 3 {
			return false
		}
		for _, m := range page.Machines {
			if m.ST == nil {
				return false
			}
		}
		return true
	}) {
		t.Fatal("the three machines never reported")
	}
	openConsole(t, ctx, base, consoleReadToken, "", "#/machines")
	waitJS(t, ctx, 15*time.Second, rows+` === 3`, show)
	set := func(sel, value string) {
		t.Helper()
		js := fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = %q;
			el.dispatchEvent(new Event(el.tagName === 'SELECT' ? 'change' : 'input')); return el.value === %q; })()`, sel, value, value)
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil || !ok {
			t.Fatalf("set %s to %q: %v (option missing?)", sel, value, err)
		}
	}
	set("#f-project", "deeplink")
	waitJS(t, ctx, 5*time.Second, rows+` === 2`, show)
	set("#f-gpu", "NVIDIA GeForce RTX 3080")
	waitJS(t, ctx, 5*time.Second, rows+` === 1 && document.querySelector('#machines tbody tr').dataset.machine === 'console-a2'`, show)
	set("#f-gpu", "")
	set("#f-project", "")
	set("#f-q", "b1")
	waitJS(t, ctx, 5*time.Second, rows+` === 1 && document.querySelector('#machines tbody tr').dataset.machine === 'console-b1'`, show)
	set("#f-q", "")
	set("#f-state", "offline")
	waitJS(t, ctx, 5*time.Second, rows+` === 0`, show)
	set("#f-state", "online")
	set("#f-sort", "uptime")
	waitJS(t, ctx, 10*time.Second, rows+` === 3 && !document.querySelector('#machines-status').innerText.includes('loading') &&
		document.querySelector('#machines tbody tr td:last-child').innerText.includes('%')`, show)
	screenshot(t, ctx, "machines.png")

	// The cluster page: this node, its lease, the connections it holds.
	openConsole(t, ctx, base, consoleReadToken, consoleAdminToken, "#/cluster")
	waitJS(t, ctx, 15*time.Second, `document.querySelector('#cluster-total').innerText.includes('3 connections held') &&
		document.querySelectorAll('#sessions tbody tr').length === 3`, show)
	screenshot(t, ctx, "cluster.png")
}

func TestConsoleAdminActionWithoutTokenIsRefused(t *testing.T) {
	node := consoleNode(t)
	base := "http://" + node.Addr
	fleet := newAgents(t)
	fleet.start(node.Addr, "deeplink", "console-d1", "NVIDIA GeForce RTX 4090")
	ctx := browser(t, 1280, 900)
	show := `document.querySelector('#main').innerText`
	// Without the admin token the outbox shows nothing but how to get in.
	openConsole(t, ctx, base, consoleReadToken, "", "#/outbox")
	waitJS(t, ctx, 10*time.Second, `document.querySelector('#outbox-counts').innerText.includes('admin token')`, show)
	// With it: the webhook cannot be reached, so the online's side effect is dead-lettered.
	openConsole(t, ctx, base, consoleReadToken, consoleAdminToken, "#/outbox")
	waitJS(t, ctx, 30*time.Second, `document.querySelectorAll('#dead-table button[data-action="drop"]').length >= 1`, show)
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#dead-table button[data-action="drop"]').dataset.id`))
	if err != nil {
		t.Fatal(err)
	}
	// Forget the tokens, then press Drop: the API refuses, the entry stays.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#tokens summary")), chromedp.Click(chromedp.CSS("#forget-tokens")),
		chromedp.Click(chromedp.CSS(`#dead-table button[data-action="drop"]`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, 10*time.Second, `document.querySelector('#outbox-msg').innerText.includes('refused (401)')`, show)
	screenshot(t, ctx, "outbox-refused.png")
	var out struct {
		Entries []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"entries"`
	}
	if code := apiGet(t, base+"/api/v0/admin/outbox?status=dead", consoleAdminToken, &out); code != 200 {
		t.Fatalf("outbox = %d", code)
	}
	found := false
	for _, e := range out.Entries {
		found = found || e.ID == id
	}
	if !found {
		t.Fatalf("entry %s is no longer dead after a refused drop: %+v", id, out.Entries)
	}
	// With the token again, Retry is accepted.
	openConsole(t, ctx, base, consoleReadToken, consoleAdminToken, "#/outbox")
	waitJS(t, ctx, 10*time.Second, `document.querySelectorAll('#dead-table button[data-action="retry"]').length >= 1`, show)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#dead-table button[data-action="retry"]`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, 10*time.Second, `document.querySelector('#outbox-msg').innerText.includes(': done')`, show)
	screenshot(t, ctx, "outbox.png")
}

// TestUptimeAPIOnARealNode: a machine that goes offline (past a 1 s grace
// period) and comes back has one outage of reason offline and one
// reconnect, from the presence history the real node recorded.
func TestUptimeAPIOnARealNode(t *testing.T) {
	node := consoleNode(t, "DDN_OFFLINEGRACEPERIOD=1s", "DDN_SWEEPINTERVAL=200ms")
	base := "http://" + node.Addr
	fleet := newAgents(t)
	machineURL := base + "/api/v0/machines/deeplink/uptime-m1"
	var m struct {
		Machine struct {
			State string `json:"state"`
		} `json:"machine"`
	}
	state := func(want string) {
		t.Helper()
		if !ddnproc.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
			return apiGet(t, machineURL, consoleReadToken, &m) == 200 && m.Machine.State == want
		}) {
			t.Fatalf("machine never %s: %+v", want, m)
		}
	}
	from := time.Now().Add(-time.Minute)
	fleet.start(node.Addr, "deeplink", "uptime-m1", "NVIDIA GeForce RTX 4090")
	state("online")
	onlineAt := time.Now()
	time.Sleep(2 * time.Second) // online for a while: only the history knows since when
	fleet.stop("uptime-m1")
	state("offline")
	fleet.start(node.Addr, "deeplink", "uptime-m1", "NVIDIA GeForce RTX 4090")
	state("online")
	var u struct {
		Uptime struct {
			Uptime       float64 `json:"uptime"`
			KnownSeconds float64 `json:"known_seconds"`
			Reconnects   int     `json:"reconnects"`
			Outages      []struct {
				Reason    string    `json:"reason"`
				From      time.Time `json:"from"`
				To        time.Time `json:"to"`
				OfflineAt time.Time `json:"offline_at"`
				Ongoing   bool      `json:"ongoing"`
			} `json:"outages"`
		} `json:"uptime"`
	}
	if code := apiGet(t, fmt.Sprintf("%s/uptime?from=%d", machineURL, from.UnixMilli()), consoleReadToken, &u); code != 200 {
		t.Fatalf("uptime = %d", code)
	}
	if u.Uptime.Reconnects != 1 || len(u.Uptime.Outages) != 1 || u.Uptime.Outages[0].Reason != "offline" ||
		u.Uptime.Outages[0].OfflineAt.IsZero() || u.Uptime.Outages[0].Ongoing || u.Uptime.Uptime <= 0 || u.Uptime.Uptime >= 1 {
		t.Fatalf("uptime = %+v; want one finished offline outage, one reconnect, a fraction in (0, 1)", u.Uptime)
	}
	// Known since the first online, which only the recorded history has
	// (the machine's record keeps its last online, after the outage).
	if since := time.Since(onlineAt).Seconds(); u.Uptime.KnownSeconds < since-0.5 {
		t.Fatalf("known for %.1f s, want at least the %.1f s since the first online", u.Uptime.KnownSeconds, since)
	}
	var rank struct {
		Machines []struct {
			MachineID string  `json:"machine_id"`
			Uptime    float64 `json:"uptime"`
		} `json:"machines"`
	}
	if code := apiGet(t, fmt.Sprintf("%s/api/v0/uptime?project=deeplink&from=%d", base, from.UnixMilli()), consoleReadToken, &rank); code != 200 ||
		len(rank.Machines) != 1 || rank.Machines[0].MachineID != "uptime-m1" {
		t.Fatalf("ranking = %d %+v", code, rank)
	}
}
