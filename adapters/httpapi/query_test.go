package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"ddn/adapters/httpapi"
	"ddn/adapters/memory"
	"ddn/domain"
)

func TestAdminRoutesOffWithoutToken(t *testing.T) {
	store := memory.NewStore()
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Fleet: store, Outbox: store}))
	defer srv.Close()
	for _, r := range []struct{ method, path string }{
		{"POST", "/api/v0/admin/prune?before=1"}, {"DELETE", "/api/v0/machines/p/m"}, {"GET", "/api/v0/admin/export"},
		{"POST", "/api/v0/admin/import"}, {"GET", "/api/v0/admin/config"},
	} {
		code, body, _ := call(t, r.method, srv.URL+r.path, "anything", "")
		if code != 403 || body["code"] != float64(domain.CodeParameter) || !strings.Contains(body["message"].(string), "Admin.Token") {
			t.Errorf("%s %s without a configured token = %d %v; want 403 (off, not open)", r.method, r.path, code, body)
		}
	}
	// With no read token configured, reads are open.
	if code, body, _ := call(t, "GET", srv.URL+"/api/v0/machines", "", ""); code != 200 || body["next"] != "" {
		t.Fatalf("open read = %d %v", code, body)
	}
}

func TestQueryAnswersStoreDownWith503(t *testing.T) {
	store := memory.NewStore()
	if _, _, err := store.MarkOnline(context.Background(), domain.MachineKey{MachineID: "m", Project: "p"}, 0, "n", time.Now()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Fleet: store, AdminToken: "adm"}))
	defer srv.Close()
	store.FailWith(errors.New("connection refused"))
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v0/machines"}, {"GET", "/api/v0/machines/p/m"}, {"GET", "/api/v0/machines/p/m/reports"},
		{"GET", "/api/v0/stats"}, {"POST", "/api/v0/admin/prune?before=1"}, {"DELETE", "/api/v0/machines/p/m"},
		{"GET", "/api/v0/admin/export"},
	} {
		code, body, _ := call(t, r.method, srv.URL+r.path, "adm", "")
		if code != 503 || body["code"] != float64(domain.CodeDatabase) {
			t.Errorf("%s %s with the store down = %d %v; want 503 code 4", r.method, r.path, code, body)
		}
	}
	code, body, _ := call(t, "POST", srv.URL+"/api/v0/admin/import", "adm", `{"kind":"machine","machine_id":"m","project":"p"}`)
	if code != 503 || body["code"] != float64(domain.CodeDatabase) {
		t.Fatalf("import with the store down = %d %v", code, body)
	}
}

// failingScan is a store whose report scan breaks after the machines were sent.
type failingScan struct{ *memory.Store }

func (failingScan) ScanReports(context.Context, time.Time, time.Time, func(domain.Report) error) error {
	return errors.New("cursor lost")
}

func TestExportEndsWithAnErrorLineWhenTheStoreFailsMidway(t *testing.T) {
	store := memory.NewStore()
	if _, _, err := store.MarkOnline(context.Background(), domain.MachineKey{MachineID: "m", Project: "p"}, 0, "n", time.Now()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Fleet: failingScan{store}, AdminToken: "adm"}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v0/admin/export", nil)
	req.Header.Set("Authorization", "Bearer adm")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if resp.StatusCode != 200 || len(lines) != 2 || !strings.Contains(lines[0], `"kind":"machine"`) ||
		!strings.HasPrefix(lines[1], `{"kind":"error","code":4,`) {
		t.Fatalf("export = %d %q", resp.StatusCode, lines)
	}
}

func TestQueryWithoutAStoreAnswers503(t *testing.T) {
	srv := httptest.NewServer(httpapi.New(httpapi.Options{}))
	defer srv.Close()
	if code, body, _ := call(t, "GET", srv.URL+"/api/v0/stats", "", ""); code != 503 || body["code"] != float64(domain.CodeInternal) {
		t.Fatalf("stats without a store = %d %v", code, body)
	}
}

func TestStatsCountsRecentReportsAtMostEveryFifteenSeconds(t *testing.T) {
	ctx := context.Background()
	store := memory.NewStore()
	clock := memory.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	key := domain.MachineKey{MachineID: "m", Project: "p"}
	if _, _, err := store.MarkOnline(ctx, key, 0, "n", clock.Now()); err != nil {
		t.Fatal(err)
	}
	report := func(at time.Time) {
		b := domain.BandwidthInfo{CPUCores: 1}
		if err := store.AppendReports(ctx, []domain.Report{{Key: key, Timestamp: at, Bandwidth: &b}}); err != nil {
			t.Fatal(err)
		}
	}
	report(clock.Now().Add(-2 * time.Hour)) // too old to count
	report(clock.Now().Add(-time.Minute))
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Fleet: store, Now: clock.Now}))
	defer srv.Close()
	recent := func() any {
		code, body, _ := call(t, "GET", srv.URL+"/api/v0/stats", "", "")
		if code != 200 || body["machines"] != float64(1) {
			t.Fatalf("stats = %d %v", code, body)
		}
		return body["reports_last_hour"]
	}
	if got := recent(); got != float64(1) {
		t.Fatalf("reports_last_hour = %v, want 1", got)
	}
	report(clock.Now())
	clock.Advance(14 * time.Second)
	if got := recent(); got != float64(1) {
		t.Fatalf("reports_last_hour within 15s = %v, want the cached 1", got)
	}
	clock.Advance(time.Second)
	if got := recent(); got != float64(2) {
		t.Fatalf("reports_last_hour after 15s = %v, want 2", got)
	}
}
