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
}

var _ ports.Deliverer = (*Webhook)(nil)

// NewWebhook returns a webhook target. timeout bounds one call; projects,
// when not empty, limits notifications to machines of those projects.
func NewWebhook(url string, timeout time.Duration, projects []string) *Webhook {
	return &Webhook{url: url, client: &http.Client{Timeout: timeout}, projects: projects}
}

type request struct {
	MachineID string `json:"machine_id"`
	IsOnline  bool   `json:"is_online"`
}

type answer struct {
	Code     int    `json:"code"`
	Msg      string `json:"msg"`
	Success  bool   `json:"success"`
	IsRented bool   `json:"is_rented"`
}

// Deliver implements ports.Deliverer for online and offline events (a
// reconnect's online report to the chain counts as an online); other
// events, and machines of projects outside the filter, need no call.
func (w *Webhook) Deliver(ctx context.Context, e domain.Event) error {
	online := e.Kind == domain.EventOnline || e.Kind == domain.EventChainOnline
	if !online && e.Kind != domain.EventOffline {
		return nil
	}
	if len(w.projects) > 0 && !slices.Contains(w.projects, e.Key.Project) {
		return nil
	}
	body, err := json.Marshal(request{MachineID: e.Key.MachineID, IsOnline: online})
	if err != nil {
		return fmt.Errorf("webhook %s: %w", e.Key, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", e.Key, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", e.Key, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("webhook %s: read answer: %w", e.Key, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webhook %s: HTTP %d", e.Key, resp.StatusCode)
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("webhook %s: answer is not JSON: %w", e.Key, err)
	}
	if a.Code != 1 {
		return fmt.Errorf("webhook %s: receiver answered code %d: %s", e.Key, a.Code, a.Msg)
	}
	return nil
}
