package httpapi_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"ddn/adapters/httpapi"
	"ddn/adapters/memory"
	"ddn/domain"
)

var uptimeT0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func minute(n int) time.Time { return uptimeT0.Add(time.Duration(n) * time.Minute) }

// TestMachineUptimeFromPresenceHistory: online, disconnect, offline,
// reconnect through the store's transitions give the exact fraction,
// outage and reconnect count; the read token guards it.
func TestMachineUptimeFromPresenceHistory(t *testing.T) {
	ctx := context.Background()
	store := memory.NewStore()
	key := domain.MachineKey{MachineID: "m1", Project: "p"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := store.MarkOnline(ctx, key, 0, "n1", minute(0))
	must(err)
	must(store.MarkDisconnected(ctx, key, minute(20), time.Time{}))
	_, err = store.MarkOffline(ctx, key, minute(20), minute(25))
	must(err)
	_, _, err = store.MarkOnline(ctx, key, 0, "n2", minute(60))
	must(err)
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Fleet: store, ReadToken: "rd", Now: func() time.Time { return minute(100) }}))
	defer srv.Close()

	if code, _, _ := call(t, "GET", srv.URL+"/api/v0/machines/p/m1/uptime", "", ""); code != 401 {
		t.Fatalf("uptime without the read token = %d, want 401", code)
	}
	code, body, _ := call(t, "GET", fmt.Sprintf("%s/api/v0/machines/p/m1/uptime?from=%d", srv.URL, minute(0).UnixMilli()), "rd", "")
	if code != 200 {
		t.Fatalf("uptime = %d %v", code, body)
	}
	u := body["uptime"].(map[string]any)
	if u["uptime"] != 0.6 || u["reconnects"] != float64(1) || u["online_seconds"] != float64(3600) || u["known_seconds"] != float64(6000) {
		t.Fatalf("uptime = %v; want 0.6, one reconnect, 3600 s of 6000 s", u)
	}
	outs := u["outages"].([]any)
	if len(outs) != 1 {
		t.Fatalf("outages = %v", outs)
	}
	o := outs[0].(map[string]any)
	if o["reason"] != "offline" || o["from"] != minute(20).Format(time.RFC3339) || o["to"] != minute(60).Format(time.RFC3339) ||
		o["offline_at"] != minute(25).Format(time.RFC3339) || o["seconds"] != float64(2400) {
		t.Fatalf("outage = %v", o)
	}
	if code, _, _ := call(t, "GET", srv.URL+"/api/v0/machines/p/nope/uptime", "rd", ""); code != 404 {
		t.Fatalf("uptime of an unknown machine = %d, want 404", code)
	}
	if code, _, _ := call(t, "GET", srv.URL+"/api/v0/machines/p/m1/uptime?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "rd", ""); code != 400 {
		t.Fatalf("uptime of a reversed window = %d, want 400", code)
	}
}

// TestUptimeRankingWorstFirstPaginated: a page is ranked worst first,
// machines with nothing known last, and next continues in key order.
func TestUptimeRankingWorstFirstPaginated(t *testing.T) {
	ctx := context.Background()
	store := memory.NewStore()
	// m0 online all along; m1 out 50 of 100 minutes; m2 out 10; m3 imported
	// (record only, no history): offline since minute 30.
	for i, outFrom := range []int{-1, 50, 90} {
		key := domain.MachineKey{MachineID: fmt.Sprintf("m%d", i), Project: "p"}
		if _, _, err := store.MarkOnline(ctx, key, 0, "n1", minute(0)); err != nil {
			t.Fatal(err)
		}
		if outFrom >= 0 {
			if err := store.MarkDisconnected(ctx, key, minute(outFrom), time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := store.PutMachine(ctx, domain.Machine{Key: domain.MachineKey{MachineID: "m3", Project: "p"}, State: domain.StateOffline,
		LastOnlineTime: minute(0), LastDisconnectTime: minute(25), LastOfflineTime: minute(30)}); err != nil {
		t.Fatal(err)
	}
	if err := store.PutMachine(ctx, domain.Machine{Key: domain.MachineKey{MachineID: "m4", Project: "p"}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Fleet: store, Now: func() time.Time { return minute(100) }}))
	defer srv.Close()
	code, body, _ := call(t, "GET", fmt.Sprintf("%s/api/v0/uptime?project=p&from=%d&limit=5", srv.URL, minute(0).UnixMilli()), "", "")
	if code != 200 {
		t.Fatalf("ranking = %d %v", code, body)
	}
	var order []string
	for _, m := range body["machines"].([]any) {
		order = append(order, fmt.Sprintf("%s=%v", m.(map[string]any)["machine_id"], m.(map[string]any)["uptime"]))
	}
	want := []string{"m3=0.25", "m1=0.5", "m2=0.9", "m0=1", "m4=<nil>"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("ranking = %v, want %v", order, want)
	}
	// Two a page: the first page holds m0 and m1 (key order), ranked.
	code, body, _ = call(t, "GET", fmt.Sprintf("%s/api/v0/uptime?project=p&from=%d&limit=2", srv.URL, minute(0).UnixMilli()), "", "")
	ms := body["machines"].([]any)
	if code != 200 || len(ms) != 2 || ms[0].(map[string]any)["machine_id"] != "m1" || body["next"] == "" {
		t.Fatalf("first page = %d %v", code, body)
	}
	code, body, _ = call(t, "GET", fmt.Sprintf("%s/api/v0/uptime?project=p&from=%d&limit=2&after=%s", srv.URL, minute(0).UnixMilli(), body["next"]), "", "")
	ms = body["machines"].([]any)
	if code != 200 || len(ms) != 2 || ms[0].(map[string]any)["machine_id"] != "m3" {
		t.Fatalf("second page = %d %v", code, body)
	}
}

// TestOutboxRetryAndDropNeedTheAdminTokenAndADeadEntry.
func TestOutboxRetryAndDropNeedTheAdminTokenAndADeadEntry(t *testing.T) {
	ctx := context.Background()
	store := memory.NewStore()
	for _, e := range []domain.OutboxEntry{
		{ID: "dead1", Status: domain.OutboxDead, Attempts: 9, LastError: "boom", CreatedAt: minute(0)},
		{ID: "dead2", Status: domain.OutboxDead, Attempts: 9, LastError: "boom", CreatedAt: minute(0)},
		{ID: "ready", Status: domain.OutboxReady, CreatedAt: minute(0)},
	} {
		if err := store.InsertOutbox(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Outbox: store, AdminToken: "adm", Now: func() time.Time { return minute(5) }}))
	defer srv.Close()
	if code, _, _ := call(t, "POST", srv.URL+"/api/v0/admin/outbox/dead1/retry", "", ""); code != 401 {
		t.Fatalf("retry without a token = %d, want 401", code)
	}
	if code, _, _ := call(t, "POST", srv.URL+"/api/v0/admin/outbox/dead1/drop", "wrong", ""); code != 401 {
		t.Fatalf("drop with a wrong token = %d, want 401", code)
	}
	if code, _, _ := call(t, "POST", srv.URL+"/api/v0/admin/outbox/ready/drop", "adm", ""); code != 409 {
		t.Fatalf("drop of a ready entry = %d, want 409", code)
	}
	if code, _, _ := call(t, "POST", srv.URL+"/api/v0/admin/outbox/nope/retry", "adm", ""); code != 404 {
		t.Fatalf("retry of an unknown entry = %d, want 404", code)
	}
	if code, body, _ := call(t, "POST", srv.URL+"/api/v0/admin/outbox/dead1/retry", "adm", ""); code != 200 {
		t.Fatalf("retry = %d %v", code, body)
	}
	if code, body, _ := call(t, "POST", srv.URL+"/api/v0/admin/outbox/dead2/drop", "adm", ""); code != 200 {
		t.Fatalf("drop = %d %v", code, body)
	}
	e1, _ := store.GetOutbox(ctx, "dead1")
	e2, _ := store.GetOutbox(ctx, "dead2")
	if e1.Status != domain.OutboxReady || e1.Attempts != 0 || !e1.NextAttemptAt.Equal(minute(5)) {
		t.Errorf("retried entry = %+v", e1)
	}
	if e2.Status != domain.OutboxCancelled || !e2.DoneAt.Equal(minute(5)) {
		t.Errorf("dropped entry = %+v", e2)
	}
}
