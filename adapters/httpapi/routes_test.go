package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"ddn/adapters/httpapi"
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
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body, resp.Header.Get("Content-Type")
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
	for _, p := range []string{"/websocket", "/metrics", "/metrics/prometheus"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s = %v %v", p, resp, err)
		}
		resp.Body.Close()
	}
}
