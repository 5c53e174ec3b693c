package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"ddn/adapters/httpapi"
	"ddn/adapters/memory"
	"ddn/domain"
)

func TestRoutes(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("handler")) })
	var storeErr error
	h := httpapi.New(httpapi.Options{WebSocket: ok, FleetMetrics: ok, NodeMetrics: ok, Version: "v9", NodeID: "n1",
		Ready:        func(context.Context) error { return storeErr },
		ClusterNodes: func(context.Context) (any, error) { return []string{"n1"}, storeErr }})
	srv := httptest.NewServer(h)
	defer srv.Close()

	get := func(method, path string) (int, map[string]any, string) {
		return call(t, method, srv.URL+path, "", "")
	}
	if code, body, _ := get("GET", "/healthz"); code != 200 || body["status"] != "ok" || body["version"] != "v9" || body["node_id"] != "n1" {
		t.Fatalf("/healthz = %d %v", code, body)
	}
	if code, body, _ := get("GET", "/readyz"); code != 200 || body["status"] != "ready" {
		t.Fatalf("/readyz = %d %v", code, body)
	}
	if code, body, _ := get("GET", "/api/v0/cluster/nodes"); code != 200 || body["nodes"].([]any)[0] != "n1" {
		t.Fatalf("/api/v0/cluster/nodes = %d %v", code, body)
	}
	storeErr = errors.New("connection refused")
	if code, body, _ := get("GET", "/api/v0/cluster/nodes"); code != 503 || body["code"] != float64(9) {
		t.Fatalf("/api/v0/cluster/nodes with store down = %d %v", code, body)
	}
	if code, body, _ := get("GET", "/readyz"); code != 503 || body["code"] != float64(4) {
		t.Fatalf("/readyz with store down = %d %v", code, body)
	}
	if code, body, ct := get("GET", "/nope"); code != 404 || body["code"] != float64(1) || body["message"] != "not found" || ct != "application/json" {
		t.Fatalf("unknown path = %d %v %s", code, body, ct)
	}
	if code, body, _ := get("POST", "/healthz"); code != 405 || body["message"] != "method not allowed" {
		t.Fatalf("wrong method = %d %v", code, body)
	}
	if code, body, _ := get("GET", "/websocket"); code != 426 || body["code"] != float64(1) {
		t.Fatalf("/websocket without an upgrade = %d %v", code, body)
	}
	upgrade, _ := http.NewRequest("GET", srv.URL+"/websocket", nil)
	upgrade.Header.Set("Upgrade", "websocket")
	if resp, err := http.DefaultClient.Do(upgrade); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/websocket with an upgrade did not reach its handler: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	for _, p := range []string{"/metrics", "/metrics/prometheus"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s = %v %v", p, resp, err)
		}
		resp.Body.Close()
	}
}

func TestAdminOutboxNeedsToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	store := memory.NewStore()
	for i, st := range []domain.OutboxStatus{domain.OutboxDead, domain.OutboxReady, domain.OutboxDead} {
		_ = store.InsertOutbox(context.Background(), domain.OutboxEntry{ID: fmt.Sprint("e", i), Status: st,
			Event: domain.Event{Kind: domain.EventOffline, Key: domain.MachineKey{MachineID: "m", Project: "p"}}})
	}
	opts := httpapi.Options{WebSocket: ok, FleetMetrics: ok, NodeMetrics: ok, Outbox: store}
	off := httptest.NewServer(httpapi.New(opts))
	defer off.Close()
	opts.AdminToken = "s3cret"
	on := httptest.NewServer(httpapi.New(opts))
	defer on.Close()

	do := func(base, path, token string) (int, map[string]any) {
		code, body, _ := call(t, "GET", base+path, token, "")
		return code, body
	}
	if code, body := do(off.URL, "/api/v0/admin/outbox", "anything"); code != 403 || body["code"] != float64(1) {
		t.Fatalf("admin API without a configured token = %d %v; want 403 (off, not open)", code, body)
	}
	for _, tok := range []string{"", "wrong", "s3cret2"} {
		if code, _ := do(on.URL, "/api/v0/admin/outbox", tok); code != 401 {
			t.Fatalf("token %q: %d, want 401", tok, code)
		}
	}
	code, body := do(on.URL, "/api/v0/admin/outbox?status=dead&limit=1", "s3cret")
	entries, _ := body["entries"].([]any)
	counts, _ := body["counts"].(map[string]any)
	if code != 200 || len(entries) != 1 || entries[0].(map[string]any)["id"] != "e0" || entries[0].(map[string]any)["kind"] != "offline" ||
		counts["dead"] != float64(2) || counts["ready"] != float64(1) {
		t.Fatalf("authorised = %d %v", code, body)
	}
	for _, q := range []string{"?status=weird", "?limit=0", "?limit=x"} {
		if code, _ := do(on.URL, "/api/v0/admin/outbox"+q, "s3cret"); code != 400 {
			t.Fatalf("%s: %d, want 400", q, code)
		}
	}
}

func TestAdminNotify(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	srv := httptest.NewServer(httpapi.New(httpapi.Options{WebSocket: ok, FleetMetrics: ok, NodeMetrics: ok, AdminToken: "tok",
		Notify: func(_ context.Context, key domain.MachineKey) (string, error) {
			if key.MachineID == "here" {
				return "node-b", nil
			}
			return "", domain.ErrNotFound
		}}))
	defer srv.Close()
	post := func(body, token string) (int, map[string]any) {
		code, out, _ := call(t, "POST", srv.URL+"/api/v0/admin/notify", token, body)
		return code, out
	}
	if code, body := post(`{"machine_id":"here","project":"p"}`, "tok"); code != 200 || body["node_id"] != "node-b" {
		t.Fatalf("notify = %d %v", code, body)
	}
	if code, _ := post(`{"machine_id":"gone","project":"p"}`, "tok"); code != 404 {
		t.Fatalf("not connected = %d, want 404", code)
	}
	if code, body := post(`{"project":"p"}`, "tok"); code != 400 || body["code"] != float64(1) {
		t.Fatalf("no machine id = %d %v", code, body)
	}
	if code, body := post(`{`, "tok"); code != 400 || body["code"] != float64(2) {
		t.Fatalf("bad JSON = %d %v", code, body)
	}
	if code, _ := post(`{"machine_id":"here","project":"p"}`, "nope"); code != 401 {
		t.Fatalf("wrong token = %d", code)
	}
}

// call makes one request (with a bearer token and a body when given) and
// returns the status, the decoded JSON body and the content type.
func call(t *testing.T, method, url, token, body string) (int, map[string]any, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
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
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header.Get("Content-Type")
}
