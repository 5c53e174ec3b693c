package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"ddn/adapters/httpapi"
	"ddn/adapters/memory"
	"ddn/domain"
	"ddn/domain/chainreport"
	"ddn/domain/outbox"
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
	for _, bad := range []string{`{"project_name":"deeplink","machine_id":"m-1"}`, `{"project_name":"","staking_type":0,"machine_id":"m-1"}`,
		`{"project_name":"p","staking_type":7,"machine_id":"m-1"}`} {
		if code, out, _ := call(t, "POST", srv.URL+"/api/v0/contract/register", "s3cret", bad); code != 400 || out["code"] != float64(1) {
			t.Fatalf("bad body %s = %d %v", bad, code, out)
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
