// Package notify tells the operator's backend when machines go online or
// offline: an HTTP webhook (NotifyThirdParty.OfflineNotify), delivered
// through the outbox, which retries until the receiver says it succeeded.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"ddn/domain"
	"ddn/ports"
)

// Webhook posts {"machine_id", "is_online"} to a URL. The receiver answers
// {"code": 1, "msg": ..., "success": true, "is_rented": false}; code 1 is
// success, anything else (or no answer in time) is an error to retry.
type Webhook struct {
	url      string
	client   *http.Client
	projects []string
	// txHash sends report_tx_hash with every offline (the current
	// original's rental rules: WithTxHash).
	txHash bool
}

var (
	_ ports.Deliverer    = (*Webhook)(nil)
	_ ports.OfflineGuard = (*Webhook)(nil)
)

// NewWebhook returns a webhook target. timeout bounds one call; projects,
// when not empty, limits notifications to machines of those projects.
func NewWebhook(url string, timeout time.Duration, projects []string) *Webhook {
	return &Webhook{url: url, client: &http.Client{Timeout: timeout}, projects: projects}
}

// WithTxHash makes every offline notification carry "report_tx_hash":
// the penalty transaction sent for it, "" when none was sent or it failed.
func (w *Webhook) WithTxHash() *Webhook {
	w.txHash = true
	return w
}

type request struct {
	MachineID    string  `json:"machine_id"`
	IsOnline     bool    `json:"is_online"`
	ReportTxHash *string `json:"report_tx_hash,omitempty"`
	CheckOnly    bool    `json:"check_only,omitempty"`
}

type answer struct {
	Code              int    `json:"code"`
	Msg               string `json:"msg"`
	Success           bool   `json:"success"`
	IsRented          bool   `json:"is_rented"`
	FalseOfflineGuard bool   `json:"false_offline_guard"`
}

// Deliver implements ports.Deliverer for online and offline events (a
// reconnect's online report to the chain counts as an online; a rent
// re-check that sent a penalty counts as an offline); other events, and
// machines of projects outside the filter, need no call.
func (w *Webhook) Deliver(ctx context.Context, e domain.Event) error {
	online := e.Kind == domain.EventOnline || e.Kind == domain.EventChainOnline
	offline := e.Kind == domain.EventOffline || (e.Kind == domain.EventOfflineRentCheck && e.ReportTxHash != "")
	if !online && !offline {
		return nil
	}
	if len(w.projects) > 0 && !slices.Contains(w.projects, e.Key.Project) {
		return nil
	}
	r := request{MachineID: e.Key.MachineID, IsOnline: online}
	if offline && w.txHash {
		r.ReportTxHash = &e.ReportTxHash
	}
	_, err := w.post(ctx, e.Key, r)
	return err
}

// FalseOffline implements ports.OfflineGuard: it posts {"machine_id",
// "is_online": false, "check_only": true}, and the receiver's
// "false_offline_guard" is the answer. No answer, another status or a
// body that does not parse is an error (the caller goes ahead).
func (w *Webhook) FalseOffline(ctx context.Context, key domain.MachineKey) (bool, error) {
	a, err := w.post(ctx, key, request{MachineID: key.MachineID, CheckOnly: true})
	if err != nil {
		return false, fmt.Errorf("offline guard: %w", err)
	}
	return a.FalseOfflineGuard, nil
}

// post sends one request and reads the receiver's answer; a check_only
// request takes any code, a notification needs code 1.
func (w *Webhook) post(ctx context.Context, key domain.MachineKey, r request) (answer, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return answer{}, fmt.Errorf("webhook %s: %w", key, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return answer{}, fmt.Errorf("webhook %s: %w", key, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("webhook %s: %w", key, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return answer{}, fmt.Errorf("webhook %s: read answer: %w", key, err)
	}
	if resp.StatusCode != http.StatusOK {
		return answer{}, fmt.Errorf("webhook %s: HTTP %d", key, resp.StatusCode)
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		return answer{}, fmt.Errorf("webhook %s: answer is not JSON: %w", key, err)
	}
	if a.Code != 1 && !r.CheckOnly {
		return a, fmt.Errorf("webhook %s: receiver answered code %d: %s", key, a.Code, a.Msg)
	}
	return a, nil
}
