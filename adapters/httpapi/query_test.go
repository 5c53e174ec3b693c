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
