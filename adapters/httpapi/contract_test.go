package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"ddn/adapters/httpapi"
	"ddn/adapters/memory"
	"ddn/app/chainreport"
	"ddn/app/outbox"
	"ddn/domain"
	"ddn/ports"
)

// TestContractEndpoints drives the contract commands through the real
// outbox to the fake chain: register, online, offline, and unregister,
// which also notifies the machine and removes it.
func TestContractEndpoints(t *testing.T) {
	ctx := context.Background()
	store, clock, chain := memory.NewStore(), memory.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)), memory.NewChain()
	ob := outbox.New(outbox.Config{NodeID: "n1", Targets: []string{chainreport.Target}}, store, clock,
		map[string]ports.Deliverer{chainreport.Target: chainreport.New(chain)})
	var notified []domain.MachineKey
	cmds := chainreport.NewCommands(ob, store, clock, "n1", func(_ context.Context, k domain.MachineKey) (string, error) {
		notified = append(notified, k)
		return "n2", nil
	})
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	h := httpapi.New(httpapi.Options{AdminToken: "s3cret", WebSocket: ok, FleetMetrics: ok, NodeMetrics: ok,
		Contract: func(ctx context.Context, action string, key domain.MachineKey, st domain.StakingType) (httpapi.ContractResult, error) {
			return cmds.Run(ctx, action, key, st)
		}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	key := domain.MachineKey{MachineID: "m-1", Project: "deeplink", ContainerID: "c-1"}
	if _, _, err := store.MarkOnline(ctx, key, domain.StakingFree, "n2", clock.Now()); err != nil {
		t.Fatal(err)
	}
	body := `{"project_name":"deeplink","staking_type":2,"machine_id":"m-1","container_id":"c-1"}`

	if code, _, _ := call(t, "POST", srv.URL+"/api/v0/contract/register", "", body); code != 401 {
		t.Fatalf("without token = %d, want 401", code)
	}
	for bad, msg := range map[string]string{`{"project_name":"","staking_type":0,"machine_id":"m-1"}`: "empty project name",
		`{"project_name":"p","staking_type":0}`: "empty machine id", `{"project_name":"p","staking_type":7,"machine_id":"m-1"}`: "staking_type"} {
		if code, out, _ := call(t, "POST", srv.URL+"/api/v0/contract/register", "s3cret", bad); code != 400 || out["code"] != float64(1) ||
			!strings.Contains(fmt.Sprint(out["message"]), msg) {
			t.Fatalf("bad body %s = %d %v, want 400 code 1 %q", bad, code, out, msg)
		}
	}
	if code, out, _ := call(t, "POST", srv.URL+"/api/v0/contract/register", "s3cret", "{"); code != 400 || out["code"] != float64(2) {
		t.Fatalf("unparsable body = %d %v", code, out)
	}
	big := `{"project_name":"` + strings.Repeat("p", 70<<10) + `","staking_type":0,"machine_id":"m-1"}`
	if code, out, _ := call(t, "POST", srv.URL+"/api/v0/contract/register", "s3cret", big); code != 413 || out["code"] != float64(1) {
		t.Fatalf("body over 64 KiB = %d %v, want 413 code 1", code, out)
	}
	// The same body of undeclared length is cut off while it is read.
	req, _ := http.NewRequest("POST", srv.URL+"/api/v0/contract/register", io.MultiReader(strings.NewReader(big)))
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("chunked body over 64 KiB = %d, want 413", resp.StatusCode)
	}
	for _, action := range []string{"register", "online", "offline", "unregister"} {
		code, out, _ := call(t, "POST", srv.URL+"/api/v0/contract/"+action, "s3cret", body)
		if code != 200 || out["code"] != float64(0) {
			t.Fatalf("%s = %d %v", action, code, out)
		}
		clock.Advance(time.Second)
		if _, err := ob.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var got []domain.ReportType
	for _, c := range chain.Calls() {
		if c.Key != key || c.StakingType != domain.StakingFree {
			t.Fatalf("call = %+v", c)
		}
		got = append(got, c.Type)
	}
	want := []domain.ReportType{1, 3, 4, 2}
	if len(got) != len(want) {
		t.Fatalf("reports on chain = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("reports on chain = %v, want %v", got, want)
		}
	}
	if len(notified) != 1 || notified[0] != key {
		t.Fatalf("notified = %v, want the machine once", notified)
	}
	if _, err := store.GetMachine(ctx, key); err == nil {
		t.Fatal("unregistered machine still stored")
	}
}

// contractServer serves the contract routes over a recording command.
func contractServer(t *testing.T, o httpapi.Options) (*httptest.Server, *[]string) {
	t.Helper()
	var got []string
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	o.WebSocket, o.FleetMetrics, o.NodeMetrics = ok, ok, ok
	o.Contract = func(_ context.Context, action string, key domain.MachineKey, st domain.StakingType) (httpapi.ContractResult, error) {
		got = append(got, fmt.Sprintf("%s %s %d", action, key, st))
		return nil, nil
	}
	srv := httptest.NewServer(httpapi.New(o))
	t.Cleanup(srv.Close)
	return srv, &got
}

func post(t *testing.T, url string, header map[string]string, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The contract routes take X-Internal-Secret (the original's later
// credential) as well as the admin token; without any, they refuse.
// staking_type is optional (0) as in the original.
func TestContractCredentials(t *testing.T) {
	srv, got := contractServer(t, httpapi.Options{AdminToken: "admin-token", InternalSecret: "internal-secret"})
	body := `{"project_name":"DeepLinkEVM","machine_id":"m-1"}`
	for _, tt := range []struct {
		header map[string]string
		want   int
	}{
		{nil, 401},
		{map[string]string{"X-Internal-Secret": "wrong"}, 401},
		{map[string]string{"X-Internal-Secret": "admin-token"}, 401},
		{map[string]string{"Authorization": "Bearer internal-secret"}, 401},
		{map[string]string{"X-Internal-Secret": "internal-secret"}, 200},
		{map[string]string{"Authorization": "Bearer admin-token"}, 200},
	} {
		if code := post(t, srv.URL+"/api/v0/contract/offline", tt.header, body); code != tt.want {
			t.Fatalf("headers %v: %d, want %d", tt.header, code, tt.want)
		}
	}
	if len(*got) != 2 || (*got)[0] != "offline DeepLinkEVM/m-1 0" {
		t.Fatalf("commands = %v, want two offlines with staking type 0", *got)
	}

	// Only the secret configured: the admin API stays off, the contract routes work.
	only, _ := contractServer(t, httpapi.Options{InternalSecret: "internal-secret"})
	if code := post(t, only.URL+"/api/v0/contract/register", map[string]string{"X-Internal-Secret": "internal-secret"}, body); code != 200 {
		t.Fatalf("secret alone: %d", code)
	}
	if code, _, _ := call(t, "GET", only.URL+"/api/v0/admin/outbox", "internal-secret", ""); code != 403 {
		t.Fatalf("the internal secret opened the admin API: %d", code)
	}
	// Nothing configured: off, not open.
	off, _ := contractServer(t, httpapi.Options{})
	if code := post(t, off.URL+"/api/v0/contract/register", nil, body); code != 403 {
		t.Fatalf("no credential configured: %d, want 403", code)
	}
	// The original's open routes, one action at a time.
	open, got2 := contractServer(t, httpapi.Options{InternalSecret: "internal-secret", OpenContractRoutes: []string{"register", "online"}})
	for action, want := range map[string]int{"register": 200, "online": 200, "unregister": 401, "offline": 401} {
		if code := post(t, open.URL+"/api/v0/contract/"+action, nil, body); code != want {
			t.Fatalf("open routes: %s without credential = %d, want %d", action, code, want)
		}
	}
	if len(*got2) != 2 {
		t.Fatalf("commands = %v", *got2)
	}
}

// CORS as the original sent it (gin-contrib/cors: any origin, GET and
// POST, credentials), configurable; a preflight is answered 204 on any
// route, a request from the node's own host or without Origin gets none.
func TestCORS(t *testing.T) {
	original := httpapi.CORS{AllowOrigins: []string{"*"}, AllowMethods: []string{"GET", "POST"},
		AllowHeaders: []string{"Origin", "Content-Length", "Content-Type"}, AllowCredentials: true, MaxAge: 12 * time.Hour}
	srv, _ := contractServer(t, httpapi.Options{CORS: original})
	do := func(method, path, origin string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if method == "OPTIONS" {
			req.Header.Set("Access-Control-Request-Method", "POST")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	pre := do("OPTIONS", "/api/v0/contract/register", "https://console.example.com")
	want := map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods": "GET,POST", "Access-Control-Allow-Headers": "Origin,Content-Length,Content-Type",
		"Access-Control-Max-Age": "43200"}
	if pre.StatusCode != 204 {
		t.Fatalf("preflight = %d, want 204", pre.StatusCode)
	}
	for k, v := range want {
		if got := pre.Header.Get(k); got != v {
			t.Fatalf("preflight %s = %q, want %q", k, got, v)
		}
	}
	get := do("GET", "/healthz", "https://console.example.com")
	if get.StatusCode != 200 || get.Header.Get("Access-Control-Allow-Origin") != "*" || get.Header.Get("Access-Control-Allow-Credentials") != "true" ||
		get.Header.Get("Access-Control-Allow-Methods") != "" {
		t.Fatalf("simple request = %d %v", get.StatusCode, get.Header)
	}
	for _, origin := range []string{"", "http://" + strings.TrimPrefix(srv.URL, "http://")} {
		if r := do("GET", "/healthz", origin); r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("origin %q got CORS headers %v", origin, r.Header)
		}
	}

	listed := original
	listed.AllowOrigins = []string{"https://console.example.com"}
	srv2, _ := contractServer(t, httpapi.Options{CORS: listed})
	srv = srv2
	if r := do("GET", "/healthz", "https://console.example.com"); r.Header.Get("Access-Control-Allow-Origin") != "https://console.example.com" ||
		r.Header.Get("Vary") != "Origin" {
		t.Fatalf("listed origin = %v", r.Header)
	}
	if r := do("GET", "/healthz", "https://evil.example.com"); r.StatusCode != 403 {
		t.Fatalf("origin not listed = %d, want 403", r.StatusCode)
	}
	off, _ := contractServer(t, httpapi.Options{})
	srv = off
	if r := do("OPTIONS", "/healthz", "https://console.example.com"); r.StatusCode == 204 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("CORS off: %d %v", r.StatusCode, r.Header)
	}
}
