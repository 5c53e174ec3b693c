package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"ddn/adapters/embedded"
	"ddn/adapters/mongo"
	"ddn/domain"
	"ddn/internal/ddnproc"
)

const (
	apiAdminToken = "admin-secret-token-1"
	apiReadToken  = "read-secret-token-2"
	// apiInternalSecret is the contract routes' X-Internal-Secret.
	apiInternalSecret = "internal-secret-3"
)

// apiNode is a real node (serve) on its own database of a shared embedded
// store, with a store handle to seed and inspect that database.
type apiNode struct {
	base  string
	store *mongo.Store
	logs  *ddnproc.Log
}

func startAPINode(t *testing.T) *apiNode {
	t.Helper()
	ctx := context.Background()
	srv, err := embedded.Start(ctx, embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	uri := srv.URI()
	st, err := mongo.Open(ctx, mongo.Options{URI: uri, Database: "api_e2e"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })

	addr := ddnproc.FreeAddr(t)
	for k, v := range map[string]string{
		"DDN_ADDR": addr, "DDN_NODEID": "api-node", "DDN_MONGODB_URI": uri, "DDN_MONGODB_DATABASE": "api_e2e",
		"DDN_ADMIN_TOKEN": apiAdminToken, "DDN_ADMIN_READTOKEN": apiReadToken, "DDN_ADMIN_IMPORTMAXBYTES": "1048576",
		"DDN_INTERNAL_SECRET": apiInternalSecret,
	} {
		t.Setenv(k, v)
	}
	logs := &ddnproc.Log{}
	nodeCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- serve(nodeCtx, "", logs) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	n := &apiNode{base: "http://" + addr, store: st, logs: logs}
	ready := ddnproc.ReadyAt(http.DefaultClient, n.base+"/readyz")
	if !ddnproc.Eventually(30*time.Second, 20*time.Millisecond, func() bool {
		if ready() == nil {
			return true
		}
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("node stopped: %v\n%s", err, logs)
		default:
		}
		return false
	}) {
		t.Fatalf("node not ready after 30s:\n%s", logs)
	}
	return n
}

// do makes one request and returns the status and the raw body.
func (n *apiNode) do(t *testing.T, method, path, token string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, n.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// json makes one request and decodes the JSON answer.
func (n *apiNode) json(t *testing.T, method, path, token string, body io.Reader) (int, map[string]any) {
	t.Helper()
	code, b := n.do(t, method, path, token, body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v: %s", method, path, err, b)
	}
	return code, out
}

// wantError checks an answer is the {code, message} error with the status and code given.
func wantError(t *testing.T, what string, status int, body map[string]any, wantStatus int, wantCode domain.Code) {
	t.Helper()
	if status != wantStatus || body["code"] != float64(wantCode) || body["message"] == "" || body["message"] == nil {
		t.Fatalf("%s = %d %v; want %d with code %d and a message", what, status, body, wantStatus, wantCode)
	}
}

func TestQueryAndManagementAPI(t *testing.T) {
	n := startAPINode(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)

	// Seven machines in two projects; two disconnected, one offline.
	var keys []domain.MachineKey
	for i := range 5 {
		keys = append(keys, domain.MachineKey{MachineID: fmt.Sprintf("gpu-%d", i), Project: "deeplink"})
	}
	keys = append(keys, domain.MachineKey{MachineID: "gpu-1", Project: "deeplink", ContainerID: "c9"},
		domain.MachineKey{MachineID: "bw-1", Project: "bandwidth"})
	for _, k := range keys {
		if _, _, err := n.store.MarkOnline(ctx, k, domain.StakingLongTerm, "api-node", now.Add(-2*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range keys[3:5] {
		if err := n.store.MarkDisconnected(ctx, k, now.Add(-time.Hour), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := n.store.MarkOffline(ctx, keys[4], now.Add(-time.Hour), now.Add(-30*time.Minute)); err != nil || !ok {
		t.Fatalf("mark offline: %v %v", ok, err)
	}
	gpu := domain.ShortTermInfo{GPUNames: []string{"NVIDIA GeForce RTX 4090"}, GPUMemoryTotal: []int64{24}, MemoryTotal: 64,
		CPUType: "AMD Ryzen 9 7950X", CPURate: 4500, Wallet: "0xabc"}
	if err := n.store.InsertConnection(ctx, domain.Connection{Key: keys[2], NodeID: "api-node", ConnID: "c1", ClientIP: "198.51.100.7", AddTime: now}); err != nil {
		t.Fatal(err)
	}
	if err := n.store.SetShortTermInfo(ctx, keys[0], gpu, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	// gpu-0 reports every 10 minutes for 3 hours: 18 reports, 6 in the last hour.
	var reports []domain.Report
	for i := range 18 {
		g := gpu
		g.CPURate = int64(4000 + i)
		reports = append(reports, domain.Report{Key: keys[0], Timestamp: now.Add(-time.Duration(i)*10*time.Minute - time.Minute), ShortTerm: &g})
	}
	if err := n.store.AppendReports(ctx, reports); err != nil {
		t.Fatal(err)
	}

	t.Run("TokensAndErrors", func(t *testing.T) {
		code, body := n.json(t, "GET", "/api/v0/machines", "", nil)
		wantError(t, "machines without a token", code, body, 401, domain.CodeParameter)
		code, body = n.json(t, "GET", "/api/v0/stats", "wrong", nil)
		wantError(t, "stats with a wrong token", code, body, 401, domain.CodeParameter)
		for _, tok := range []string{apiReadToken, apiAdminToken} {
			if code, _ := n.json(t, "GET", "/api/v0/machines", tok, nil); code != 200 {
				t.Fatalf("machines with a good token = %d", code)
			}
		}
		code, body = n.json(t, "GET", "/api/v0/admin/config", apiReadToken, nil)
		wantError(t, "admin route with the read token", code, body, 401, domain.CodeParameter)
		code, body = n.json(t, "GET", "/api/v0/machines?limit=0", apiReadToken, nil)
		wantError(t, "limit=0", code, body, 400, domain.CodeParameter)
		code, body = n.json(t, "GET", "/api/v0/machines?state=sleeping", apiReadToken, nil)
		wantError(t, "unknown state", code, body, 400, domain.CodeParameter)
		code, body = n.json(t, "GET", "/api/v0/machines?after=!!", apiReadToken, nil)
		wantError(t, "bad cursor", code, body, 400, domain.CodeParameter)
		code, body = n.json(t, "POST", "/api/v0/admin/notify", apiAdminToken, strings.NewReader(`{"machine_id":"`+strings.Repeat("x", 1<<20)+`"}`))
		wantError(t, "notify body over Limits.MaxBodyBytes (1 MiB)", code, body, 413, domain.CodeParameter)
		code, body = n.json(t, "POST", "/api/v0/admin/import", apiAdminToken, strings.NewReader(strings.Repeat(" ", 1<<20+1)))
		if code != 413 || body["code"] != float64(domain.CodeParameter) {
			t.Fatalf("import over Admin.ImportMaxBytes = %d %v", code, body)
		}
	})

	t.Run("PaginationAndFilters", func(t *testing.T) {
		var got []string
		after := ""
		for page := 0; ; page++ {
			code, body := n.json(t, "GET", "/api/v0/machines?limit=3&after="+after, apiReadToken, nil)
			if code != 200 || page > 5 {
				t.Fatalf("page %d = %d %v", page, code, body)
			}
			ms := body["machines"].([]any)
			for _, m := range ms {
				m := m.(map[string]any)
				got = append(got, fmt.Sprintf("%s/%s/%s", m["project"], m["machine_id"], m["container_id"]))
			}
			after = body["next"].(string)
			if after == "" {
				if len(ms) != 1 {
					t.Fatalf("last page has %d machines, want 1", len(ms))
				}
				break
			}
			if len(ms) != 3 {
				t.Fatalf("page %d has %d machines, want 3", page, len(ms))
			}
		}
		want := []string{"bandwidth/bw-1/", "deeplink/gpu-0/", "deeplink/gpu-1/", "deeplink/gpu-1/c9", "deeplink/gpu-2/", "deeplink/gpu-3/", "deeplink/gpu-4/"}
		if !slices.Equal(got, want) {
			t.Fatalf("pages = %v, want %v", got, want)
		}
		for q, want := range map[string]int{"project=bandwidth": 1, "project=deeplink": 6, "state=online": 5, "state=disconnected": 1,
			"state=offline": 1, "project=deeplink&state=online": 4, "project=nobody": 0} {
			code, body := n.json(t, "GET", "/api/v0/machines?"+q, apiReadToken, nil)
			if ms := body["machines"].([]any); code != 200 || len(ms) != want {
				t.Errorf("%s: %d machines (status %d), want %d", q, len(ms), code, want)
			}
		}
	})

	t.Run("OneMachineAndItsReports", func(t *testing.T) {
		code, body := n.json(t, "GET", "/api/v0/machines/deeplink/gpu-0", apiReadToken, nil)
		m, _ := body["machine"].(map[string]any)
		st, _ := m["deeplink_st"].(map[string]any)
		if code != 200 || m["state"] != "online" || m["node_id"] != "api-node" || m["staking_type"] != float64(1) ||
			st["cpu_type"] != "AMD Ryzen 9 7950X" || m["last_report_time"] != now.Add(-time.Minute).Format(time.RFC3339Nano) {
			t.Fatalf("machine = %d %v", code, body)
		}
		if body["connection"] != nil {
			t.Fatalf("gpu-0 is not connected, yet connection = %v", body["connection"])
		}
		code, body = n.json(t, "GET", "/api/v0/machines/deeplink/gpu-2", apiReadToken, nil)
		if c, _ := body["connection"].(map[string]any); code != 200 || c["node_id"] != "api-node" || c["client_ip"] != "198.51.100.7" {
			t.Fatalf("connected machine = %d %v", code, body)
		}
		if code, body := n.json(t, "GET", "/api/v0/machines/deeplink/gpu-1?container_id=c9", apiReadToken, nil); code != 200 ||
			body["machine"].(map[string]any)["container_id"] != "c9" {
			t.Fatalf("machine with container = %d %v", code, body)
		}
		code, body = n.json(t, "GET", "/api/v0/machines/deeplink/nope", apiReadToken, nil)
		wantError(t, "unknown machine", code, body, 404, domain.CodeParameter)
		code, body = n.json(t, "GET", "/api/v0/machines/deeplink/gpu-0?container_id=zz", apiReadToken, nil)
		wantError(t, "unknown container", code, body, 404, domain.CodeParameter)
		code, body = n.json(t, "GET", "/api/v0/machines/deeplink/nope/reports", apiReadToken, nil)
		wantError(t, "reports of an unknown machine", code, body, 404, domain.CodeParameter)

		code, body = n.json(t, "GET", "/api/v0/machines/deeplink/gpu-0/reports?limit=5", apiReadToken, nil)
		rs := body["reports"].([]any)
		if code != 200 || len(rs) != 5 {
			t.Fatalf("reports limit 5 = %d %d", code, len(rs))
		}
		for i, r := range rs {
			r := r.(map[string]any)
			if r["timestamp"] != reports[i].Timestamp.Format(time.RFC3339Nano) || r["deeplink_st"].(map[string]any)["cpu_rate"] != float64(4000+i) {
				t.Fatalf("report %d = %v, want the %d-th newest", i, r, i)
			}
		}
		// A window given both ways: RFC 3339 and unix milliseconds.
		from, to := now.Add(-61*time.Minute), now.Add(-20*time.Minute)
		for _, q := range []string{
			fmt.Sprintf("from=%s&to=%s", from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano)),
			fmt.Sprintf("from=%d&to=%d", from.UnixMilli(), to.UnixMilli()),
		} {
			code, body = n.json(t, "GET", "/api/v0/machines/deeplink/gpu-0/reports?"+q, apiReadToken, nil)
			if rs := body["reports"].([]any); code != 200 || len(rs) != 5 { // -21m, -31m, -41m, -51m, -61m
				t.Fatalf("%s: %d reports (status %d), want 5", q, len(rs), code)
			}
		}
		for _, q := range []string{"from=yesterday", "to=2026-13-01T00:00:00Z", "from=-5", "from=2&to=1", "limit=10001"} {
			code, body = n.json(t, "GET", "/api/v0/machines/deeplink/gpu-0/reports?"+q, apiReadToken, nil)
			wantError(t, q, code, body, 400, domain.CodeParameter)
		}
	})

	t.Run("Stats", func(t *testing.T) {
		code, body := n.json(t, "GET", "/api/v0/stats", apiReadToken, nil)
		byState, _ := body["by_state"].(map[string]any)
		byProject, _ := body["by_project"].(map[string]any)
		deeplink, _ := byProject["deeplink"].(map[string]any)
		if code != 200 || body["machines"] != float64(7) || byState["online"] != float64(5) || byState["offline"] != float64(1) ||
			deeplink["total"] != float64(6) || deeplink["disconnected"] != float64(1) || body["reports_last_hour"] != float64(6) {
			t.Fatalf("stats = %d %v", code, body)
		}
	})

	t.Run("ConfigIsRedacted", func(t *testing.T) {
		code, raw := n.do(t, "GET", "/api/v0/admin/config", apiAdminToken, nil)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		ret, _ := body["retention"].(map[string]any)
		if code != 200 || ret["expire_after_seconds"] != float64(30*24*3600) || ret["interval"] != "1h0m0s" ||
			!strings.Contains(string(raw), `"REDACTED"`) || !strings.Contains(string(raw), `"ExpireTime"`) ||
			!strings.Contains(string(raw), `"InternalSecret":"REDACTED"`) || !strings.Contains(string(raw), `"OfflineReport":"scored"`) ||
			!strings.Contains(string(raw), `"CORS":{`) {
			t.Fatalf("config = %d %s", code, raw)
		}
		for _, secret := range []string{apiAdminToken, apiReadToken, apiInternalSecret} {
			if strings.Contains(string(raw), secret) {
				t.Fatalf("config answer shows a token: %s", raw)
			}
		}
		code, body = n.json(t, "GET", "/api/v0/admin/config", "", nil)
		wantError(t, "config without a token", code, body, 401, domain.CodeParameter)
	})

	// Backup, clean, restore: the export taken first is what the database
	// holds again after prune, delete and import.
	var export []string
	t.Run("ExportPruneDeleteImport", func(t *testing.T) {
		export = exportLines(t, n, "")
		if len(export) != 7+18+1 || !strings.Contains(export[len(export)-1], `"kind":"end","machines":7,"reports":18`) {
			t.Fatalf("export has %d lines, last %s", len(export), export[len(export)-1])
		}
		if w := exportLines(t, n, fmt.Sprintf("?from=%d", now.Add(-time.Hour).UnixMilli())); len(w) != 7+6+1 {
			t.Fatalf("export of the last hour has %d lines, want 14", len(w))
		}

		code, body := n.json(t, "POST", "/api/v0/admin/prune", apiAdminToken, nil)
		wantError(t, "prune without before", code, body, 400, domain.CodeParameter)
		code, body = n.json(t, "POST", "/api/v0/admin/prune?before="+now.Add(-2*time.Hour).Format(time.RFC3339Nano), apiAdminToken, nil)
		if code != 200 || body["removed"] != float64(6) { // -121m ... -171m
			t.Fatalf("prune = %d %v", code, body)
		}
		if rs, _ := n.store.ListReports(ctx, keys[0], time.Time{}, time.Time{}, 0); len(rs) != 12 {
			t.Fatalf("%d reports left after prune, want 12", len(rs))
		}

		code, body = n.json(t, "DELETE", "/api/v0/machines/deeplink/gpu-0", apiReadToken, nil)
		wantError(t, "delete with the read token", code, body, 401, domain.CodeParameter)
		code, body = n.json(t, "DELETE", "/api/v0/machines/deeplink/gpu-0", apiAdminToken, nil)
		if code != 200 || body["reports_removed"] != float64(12) || body["connection_removed"] != false {
			t.Fatalf("delete = %d %v", code, body)
		}
		code, body = n.json(t, "GET", "/api/v0/machines/deeplink/gpu-0", apiReadToken, nil)
		wantError(t, "deleted machine", code, body, 404, domain.CodeParameter)
		code, body = n.json(t, "DELETE", "/api/v0/machines/deeplink/gpu-0", apiAdminToken, nil)
		wantError(t, "second delete", code, body, 404, domain.CodeParameter)

		body1 := strings.Join(export, "\n") + "\n"
		code, body = n.json(t, "POST", "/api/v0/admin/import", apiAdminToken, strings.NewReader(body1))
		if code != 200 || body["machines"] != float64(7) || body["reports_imported"] != float64(18) || body["reports_skipped"] != float64(0) {
			t.Fatalf("import = %d %v", code, body)
		}
		code, body = n.json(t, "POST", "/api/v0/admin/import", apiAdminToken, strings.NewReader(body1))
		if code != 200 || body["machines"] != float64(7) || body["reports_imported"] != float64(0) || body["reports_skipped"] != float64(18) {
			t.Fatalf("second import = %d %v", code, body)
		}
		again := exportLines(t, n, "")
		slices.Sort(again)
		first := slices.Clone(export)
		slices.Sort(first)
		if !slices.Equal(again, first) {
			t.Fatalf("export after restore differs:\nbefore %v\nafter  %v", first, again)
		}

		code, body = n.json(t, "POST", "/api/v0/admin/import", apiAdminToken, strings.NewReader(export[0]+"\n{\"kind\":\"report\"\n"))
		if code != 400 || body["code"] != float64(domain.CodeParse) || body["machines"] != float64(1) {
			t.Fatalf("import with a broken line = %d %v", code, body)
		}
		code, body = n.json(t, "POST", "/api/v0/admin/import", apiAdminToken, strings.NewReader(`{"kind":"alien"}`))
		wantError(t, "import of an unknown kind", code, body, 400, domain.CodeParameter)
	})

	if logs := n.logs.String(); strings.Contains(logs, apiAdminToken) || strings.Contains(logs, apiReadToken) {
		t.Fatalf("a token was logged:\n%s", logs)
	}
}

// exportLines reads GET /api/v0/admin/export as lines.
func exportLines(t *testing.T, n *apiNode, query string) []string {
	t.Helper()
	req, _ := http.NewRequest("GET", n.base+"/api/v0/admin/export"+query, nil)
	req.Header.Set("Authorization", "Bearer "+apiAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("export = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}
