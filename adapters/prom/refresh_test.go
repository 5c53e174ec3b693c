package prom_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"ddn/adapters/memory"
	"ddn/adapters/prom"
	"ddn/domain"
)

// TestFleetRefreshRendersOnlyChanges refreshes an unchanged fleet (no new
// render, same answer) and then a changed one (a render, the change
// served), counting renders with Fleet.Renders.
func TestFleetRefreshRendersOnlyChanges(t *testing.T) {
	ctx := context.Background()
	store := memory.NewStore()
	at := time.Unix(1_700_000_000, 0)
	key := domain.MachineKey{MachineID: "a", Project: "deeplink"}
	if _, _, err := store.MarkOnline(ctx, key, 0, "n1", at); err != nil {
		t.Fatal(err)
	}
	fleet := prom.NewFleet(store, time.Second, nil, nil)
	scrape := func() string {
		rec := httptest.NewRecorder()
		fleet.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/prometheus", nil))
		body := rec.Body.String()
		// The snapshot's own series (its timestamp) follow the fleet's.
		return body[:strings.Index(body, "# HELP ddn_fleet_snapshot_timestamp_seconds")]
	}
	refresh := func(wantRenders uint64) {
		t.Helper()
		if err := fleet.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got := fleet.Renders(); got != wantRenders {
			t.Fatalf("renders = %d, want %d", got, wantRenders)
		}
	}
	refresh(1)
	first := scrape()
	if !strings.Contains(first, `ddn_machine_online{machine_id="a",project="deeplink",container_id=""} 1`) {
		t.Fatalf("first snapshot lacks the machine:\n%s", first)
	}
	refresh(1)
	refresh(1)
	if again := scrape(); again != first {
		t.Fatalf("unchanged fleet, different answer:\n%s\nwas:\n%s", again, first)
	}

	// A change of any kind is rendered at the next refresh: a report time...
	if err := store.TouchLastReports(ctx, []domain.MachineKey{key}, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	refresh(2)
	if got := scrape(); !strings.Contains(got, `ddn_machine_last_report_timestamp_seconds{machine_id="a",project="deeplink",container_id=""} 1.70000006e+09`) {
		t.Fatalf("the report time is not served:\n%s", got)
	}
	refresh(2)
	// ... a presence change ...
	if err := store.MarkDisconnected(ctx, key, at.Add(2*time.Minute), time.Time{}); err != nil {
		t.Fatal(err)
	}
	refresh(3)
	if got := scrape(); !strings.Contains(got, `ddn_machine_online{machine_id="a",project="deeplink",container_id=""} 0`) {
		t.Fatalf("the disconnect is not served:\n%s", got)
	}
	// ... and a new machine.
	if _, _, err := store.MarkOnline(ctx, domain.MachineKey{MachineID: "b", Project: "deeplink"}, 0, "n1", at); err != nil {
		t.Fatal(err)
	}
	refresh(4)
	if got := scrape(); !strings.Contains(got, `ddn_machines{project="deeplink",state="online"} 1`) ||
		!strings.Contains(got, `ddn_machines{project="deeplink",state="disconnected"} 1`) {
		t.Fatalf("the new machine is not served:\n%s", got)
	}
	refresh(4)
}
