package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"ddn/adapters/notify"
	"ddn/domain"
	"ddn/ports"
	"ddn/ports/guardtest"
)

// backend is a loopback receiver that answers check_only requests with
// false_offline_guard for the machines set online, records every body
// and can break (HTTP 502 with a body that is not JSON).
type backend struct {
	mu     sync.Mutex
	online map[string]bool
	broken bool
	bodies []string
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var req struct {
		MachineID string `json:"machine_id"`
		CheckOnly bool   `json:"check_only"`
	}
	_ = json.Unmarshal(raw, &req)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bodies = append(b.bodies, string(raw))
	if b.broken {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		return
	}
	guard := req.CheckOnly && b.online[req.MachineID]
	_ = json.NewEncoder(w).Encode(map[string]any{"code": 1, "msg": "ok", "success": true, "is_rented": true, "false_offline_guard": guard})
}

func (b *backend) SetOnline(_ *testing.T, id string, online bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.online[id] = online
}

func (b *backend) Break(*testing.T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.broken = true
}

func (b *backend) got() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.bodies...)
}

func TestWebhookGuardContract(t *testing.T) {
	guardtest.Run(t, func(t *testing.T) (ports.OfflineGuard, guardtest.Control) {
		b := &backend{online: map[string]bool{}}
		srv := httptest.NewServer(b)
		t.Cleanup(srv.Close)
		return notify.NewWebhook(srv.URL, 2*time.Second, []string{"DeepLinkEVM"}), b
	})
}

// The guard's question and an unreachable backend, on the wire.
func TestWebhookGuardRequestAndUnreachableBackend(t *testing.T) {
	b := &backend{online: map[string]bool{}}
	srv := httptest.NewServer(b)
	hook := notify.NewWebhook(srv.URL, 2*time.Second, nil)
	key := domain.MachineKey{MachineID: "m1", Project: "DeepLinkEVM"}
	if _, err := hook.FalseOffline(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	if got := b.got(); len(got) != 1 || got[0] != `{"machine_id":"m1","is_online":false,"check_only":true}` {
		t.Fatalf("guard request = %q", got)
	}
	srv.Close()
	if yes, err := hook.FalseOffline(context.Background(), key); err == nil || yes {
		t.Fatalf("unreachable backend: %v, %v; want false and an error", yes, err)
	}
}

// With WithTxHash every offline carries report_tx_hash, "" when no
// transaction was sent; a rent re-check is notified only with a hash;
// onlines never carry it. Without it the bodies are the 2025 original's.
func TestWebhookCarriesTheReportTransaction(t *testing.T) {
	b := &backend{online: map[string]bool{}}
	srv := httptest.NewServer(b)
	defer srv.Close()
	ctx := context.Background()
	key := domain.MachineKey{MachineID: "m1", Project: "DeepLinkEVM"}
	events := []domain.Event{
		{Kind: domain.EventOffline, Key: key},
		{Kind: domain.EventOffline, Key: key, ReportTxHash: "0xabc"},
		{Kind: domain.EventOfflineRentCheck, Key: key},
		{Kind: domain.EventOfflineRentCheck, Key: key, ReportTxHash: "0xdef"},
		{Kind: domain.EventOnline, Key: key},
	}
	for _, h := range []*notify.Webhook{notify.NewWebhook(srv.URL, 2*time.Second, nil).WithTxHash(), notify.NewWebhook(srv.URL, 2*time.Second, nil)} {
		for _, e := range events {
			if err := h.Deliver(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []string{
		`{"machine_id":"m1","is_online":false,"report_tx_hash":""}`,
		`{"machine_id":"m1","is_online":false,"report_tx_hash":"0xabc"}`,
		`{"machine_id":"m1","is_online":false,"report_tx_hash":"0xdef"}`,
		`{"machine_id":"m1","is_online":true}`,
		`{"machine_id":"m1","is_online":false}`,
		`{"machine_id":"m1","is_online":false}`,
		`{"machine_id":"m1","is_online":false}`,
		`{"machine_id":"m1","is_online":true}`,
	}
	got := b.got()
	if len(got) != len(want) {
		t.Fatalf("bodies = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("body %d = %s, want %s", i, got[i], want[i])
		}
	}
}
