package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"ddn/adapters/httpapi"
)

func TestHardenRecoversWithoutSecrets(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	boom := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	srv := httptest.NewServer(httpapi.Harden(boom, zap.New(core)))
	defer srv.Close()

	code, body, _ := call(t, "GET", srv.URL+"/api/v0/admin/outbox", "TOPSECRET-TOKEN", "")
	if code != 500 || body["code"] != float64(9) {
		t.Fatalf("panicking handler = %d %v, want 500 code 9", code, body)
	}
	// The node keeps serving.
	if code, _, _ := call(t, "GET", srv.URL+"/again", "", ""); code != 500 {
		t.Fatalf("second request = %d", code)
	}
	entries := logs.FilterMessage("handler panicked; request dropped").All()
	if len(entries) != 2 {
		t.Fatalf("%d panic log lines, want 2", len(entries))
	}
	for _, e := range entries {
		for k, v := range e.ContextMap() {
			if s, ok := v.(string); ok && strings.Contains(s, "TOPSECRET") {
				t.Fatalf("log field %s leaks the token: %s", k, s)
			}
		}
		if e.ContextMap()["panic"] != "boom" || e.ContextMap()["path"] == nil {
			t.Fatalf("panic line lacks what happened: %v", e.ContextMap())
		}
	}
}

func TestAdminOnSeparateListener(t *testing.T) {
	mark := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(name)) })
	}
	o := httpapi.Options{WebSocket: mark("ws"), FleetMetrics: mark("fleet"), NodeMetrics: mark("node"), AdminToken: "tok", AdminSeparate: true}
	public := httptest.NewServer(httpapi.New(o))
	defer public.Close()
	admin := httptest.NewServer(httpapi.NewAdmin(o))
	defer admin.Close()

	for _, p := range []string{"/metrics", "/metrics/prometheus", "/api/v0/admin/outbox"} {
		if code, _, _ := call(t, "GET", public.URL+p, "tok", ""); code != 404 {
			t.Errorf("public %s = %d, want 404 (served on AdminAddr only)", p, code)
		}
	}
	for p, want := range map[string]string{"/metrics": "node", "/metrics/prometheus": "fleet"} {
		resp, err := http.Get(admin.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != want {
			t.Errorf("admin %s = %d %q", p, resp.StatusCode, b)
		}
	}
	if code, _, _ := call(t, "GET", admin.URL+"/api/v0/admin/outbox", "wrong", ""); code != 401 {
		t.Errorf("admin listener with a wrong token = %d, want 401", code)
	}
	if code, _, _ := call(t, "GET", admin.URL+"/websocket", "", ""); code != 404 {
		t.Errorf("admin listener serves /websocket: %d", code)
	}
}

// TestWebSocketOutlivesRequestTimeouts: the server-wide ReadTimeout and
// WriteTimeout bound HTTP requests, not upgraded connections (net/http
// clears the deadlines on hijack), and the body cap lets the upgrade through.
func TestWebSocketOutlivesRequestTimeouts(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, p, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, p); err != nil {
				return
			}
		}
	})
	srv := httptest.NewUnstartedServer(httpapi.Harden(echo, nil))
	httpapi.ServerLimits{ReadHeaderTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond}.Apply(srv.Config)
	srv.Start()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	msg := strings.Repeat("m", 100) // larger than the body cap: frames are not bodies
	for range 3 {
		time.Sleep(150 * time.Millisecond) // past every request timeout
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatalf("write after the request timeouts: %v", err)
		}
		if _, p, err := c.Read(ctx); err != nil || string(p) != msg {
			t.Fatalf("echo after the request timeouts: %q %v", p, err)
		}
	}
}
