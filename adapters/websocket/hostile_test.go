package websocket_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"ddn/adapters/clientip"
	"ddn/adapters/memory"
	ws "ddn/adapters/websocket"
	"ddn/domain"
)

// limitCounts is a LimitObserver the tests read.
type limitCounts struct {
	mu      sync.Mutex
	refused map[string]int
	closed  map[string]int
}

func newLimitCounts() *limitCounts {
	return &limitCounts{refused: map[string]int{}, closed: map[string]int{}}
}

func (l *limitCounts) ConnectionRefused(r string) { l.mu.Lock(); l.refused[r]++; l.mu.Unlock() }
func (l *limitCounts) ConnectionPolicyClosed(r string) {
	l.mu.Lock()
	l.closed[r]++
	l.mu.Unlock()
}
func (l *limitCounts) get(m map[string]int, r string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return m[r]
}

// hostileServer is a node behind a real http.Server with a short handshake
// timeout, whose client IPs come from X-Forwarded-For (loopback is the
// trusted proxy), so one test process can be many clients.
type hostileServer struct {
	*server
	addr   string
	limits *limitCounts
}

func newHostileServer(t *testing.T, o ws.Options) *hostileServer {
	t.Helper()
	svc, store := newSessions(t)
	ips, err := clientip.New([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	o.ClientIP = ips.ClientIP
	counts := newLimitCounts()
	o.LimitObserver = counts
	h := ws.NewHandler(svc, o)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadHeaderTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(func() {
		_ = h.Drain(context.Background())
		srv.Close()
	})
	return &hostileServer{server: &server{url: "ws" + strings.TrimPrefix(srv.URL, "http"), store: store, handler: h},
		addr: srv.Listener.Addr().String(), limits: counts}
}

// dialAs connects as client IP ip; it returns the HTTP status of a refusal.
func (s *hostileServer) dialAs(t *testing.T, ip string, hdr http.Header) (*client, int, error) {
	t.Helper()
	ctx, cancel := timeout()
	defer cancel()
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Set("X-Forwarded-For", ip)
	c, resp, err := websocket.Dial(ctx, s.url, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return &client{t: t, c: c}, 0, nil
}

func (s *hostileServer) mustDial(t *testing.T, ip string) *client {
	t.Helper()
	c, status, err := s.dialAs(t, ip, nil)
	if err != nil {
		t.Fatalf("dial as %s: %d %v", ip, status, err)
	}
	return c
}

// closedWith reads until the server closes c and returns the close error.
func closedWith(t *testing.T, c *client) error {
	t.Helper()
	ctx, cancel := timeout()
	defer cancel()
	for {
		if _, _, err := c.c.Read(ctx); err != nil {
			return err
		}
	}
}

func expectClose(t *testing.T, c *client, status websocket.StatusCode, reason string) {
	t.Helper()
	err := closedWith(t, c)
	if websocket.CloseStatus(err) != status || !strings.Contains(err.Error(), reason) {
		t.Fatalf("closed with %v, want %d containing %q", err, status, reason)
	}
}

// healthy is a well-behaved agent reporting throughout a test; every answer
// must be code 0.
type healthy struct {
	answered atomic.Int64
	stop     chan struct{}
	done     chan struct{}
}

func startHealthy(t *testing.T, s *hostileServer) *healthy {
	c := s.mustDial(t, "198.51.100.1")
	c.expect(envelope(1, 1, onlineBody("healthy")), 0, "machine online success")
	h := &healthy{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for id := uint64(2); ; id++ {
			select {
			case <-h.stop:
				return
			default:
			}
			ctx, cancel := timeout()
			err := c.c.Write(ctx, websocket.MessageText, []byte(envelope(id, 2, gpuBody)))
			var data []byte
			if err == nil {
				_, data, err = c.c.Read(ctx)
			}
			cancel()
			if err != nil || !strings.Contains(string(data), `"code":0,`) {
				t.Errorf("healthy agent, report %d: %s %v", id, data, err)
				return
			}
			h.answered.Add(1)
			time.Sleep(20 * time.Millisecond) // pacing only: under 50 reports a second, within its budget of 60
		}
	}()
	return h
}

// served waits until the healthy agent got n more answers: it is still served.
func (h *healthy) served(t *testing.T, n int64) {
	t.Helper()
	want := h.answered.Load() + n
	deadline := time.Now().Add(10 * time.Second)
	for h.answered.Load() < want {
		select {
		case <-h.done:
			t.Fatal("healthy agent stopped")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthy agent starved: %d answers", h.answered.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *healthy) finish(t *testing.T) {
	close(h.stop)
	<-h.done
	if h.answered.Load() == 0 {
		t.Fatal("healthy agent never served")
	}
}

func TestHostileClients(t *testing.T) {
	s := newHostileServer(t, ws.Options{
		MaxMessageBytes:  4096,
		HeartbeatTimeout: 30 * time.Second,
		WriteTimeout:     300 * time.Millisecond,
		Limits: ws.Limits{MaxConnections: 400, MaxConnectionsPerIP: 8, MaxAnonymous: 64, OnlineDeadline: time.Second,
			MessageRate: 60, MessageBurst: 30, RateStrikes: 30},
	})
	agent := startHealthy(t, s)
	// run runs one hostile case, then checks the healthy agent is still served.
	run := func(name string, f func(t *testing.T)) {
		t.Helper()
		t.Run(name, f)
		agent.served(t, 1)
	}
	var ipSeq atomic.Int64
	freshIP := func() string { n := ipSeq.Add(1); return fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255) }

	// Frames answered with a code on a connection that stays usable.
	answered := []struct {
		name, frame string
		code        uint32
		msg         string
	}{
		{"truncated JSON", `{"version":0,"id":1,"type":1,"body":"ey`, 1, "parse request failed"},
		{"truncated inline body", `{"id":1,"type":1,"body":{"machine_id":"x"`, 1, "parse request failed"},
		{"deep nesting in the envelope", strings.Repeat(`{"a":`, 600) + "1" + strings.Repeat("}", 600), 1, "unknowned request message type"},
		{"deep array nesting as the envelope", strings.Repeat("[", 2000) + strings.Repeat("]", 2000), 1, "parse request failed"},
		{"deep nesting in the body", `{"id":2,"type":1,"body":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`, 1, "parse online request failed"},
		{"huge number id", `{"id":1e999,"type":1}`, 1, ""},
		{"id beyond uint64", `{"id":99999999999999999999999,"type":1}`, 1, ""},
		{"negative id", `{"id":-5,"type":1,"body":""}`, 1, ""},
		{"negative type", `{"id":5,"type":-1}`, 1, ""},
		{"huge number in a report field", `{"id":3,"type":1,"body":{"machine_id":"m","project":"p","staking_type":1e300}}`, 1, "staking_type"},
		{"type as a string", `{"id":4,"type":"1"}`, 1, ""},
		{"machine_id as a number", envelope(5, 1, `{"machine_id":5,"project":"p"}`), 1, "machine_id"},
		{"machine_id as an object", envelope(6, 1, `{"machine_id":{"$ne":""},"project":"p"}`), 1, "machine_id"},
		{"body is an array", envelope(7, 1, `[1,2]`), 1, "parse online request failed"},
		{"body is a number", `{"id":8,"type":1,"body":7}`, 1, ""},
		{"body not base64", `{"id":9,"type":1,"body":"***"}`, 1, "parse request failed"},
		{"empty frame", ``, 1, "parse request failed"},
		{"JSON null", `null`, 1, "unknowned request message type"},
		{"JSON string", `"hello"`, 1, "parse request failed"},
		{"NaN literal", `{"id":NaN}`, 1, "parse request failed"},
		{"unknown type", envelope(10, 99, onlineBody("x")), 1, "unknowned request message type"},
		{"server-only type 3", envelope(11, 3, ""), 1, ""},
		{"report before online", envelope(12, 2, gpuBody), 6, "online request first"},
		{"invalid UTF-8 in the envelope", "{\"id\":13,\"type\":1,\"body\":{\"machine_id\":\"\xff\xfe\",\"project\":\"\"}}", 0, "machine online success"},
		{"invalid UTF-8 in a base64 body", envelope(14, 1, "{\"machine_id\":\xc3\x28}"), 1, "parse online request failed"},
		{"control characters", "{\"id\":15,\x00\"type\":1}", 1, "parse request failed"},
		{"staking type out of range", envelope(16, 1, `{"machine_id":"m","project":"p","staking_type":7}`), 1, "staking_type"},
		{"empty online body", envelope(17, 1, `{}`), 1, "machine id is empty"},
	}
	for _, tc := range answered {
		run(tc.name, func(t *testing.T) {
			c := s.mustDial(t, freshIP())
			a := c.send(tc.frame)
			if a.Code != tc.code || !strings.Contains(a.Message, tc.msg) {
				t.Fatalf("answered code %d %q, want %d containing %q", a.Code, a.Message, tc.code, tc.msg)
			}
			if got := c.raw("ping"); got != "pong" { // still served
				t.Fatalf("after the bad frame, ping answered %q", got)
			}
		})
	}

	run("binary frame", func(t *testing.T) {
		c := s.mustDial(t, freshIP())
		ctx, cancel := timeout()
		defer cancel()
		_ = c.c.Write(ctx, websocket.MessageBinary, []byte(onlineExample))
		_, data, err := c.c.Read(ctx)
		if err != nil || !strings.Contains(string(data), `"code":2`) {
			t.Fatalf("binary frame answered %s %v", data, err)
		}
	})

	run("online then garbage then reports", func(t *testing.T) {
		c := s.mustDial(t, freshIP())
		c.expect(envelope(1, 1, onlineBody("garbage-1")), 0, "")
		c.expect(`{"id":2,"type":2,"body":{"cpu_type":`, 1, "parse request failed")
		c.expect(envelope(3, 2, `{"cpu_type":"x","gpu_names":"not a list"}`), 1, "gpu_names")
		c.expect(envelope(4, 2, gpuBody), 0, "add machine tm success")
		c.expect(envelope(5, 1, onlineBody("garbage-2")), 5, "repeated")
	})

	run("a second connection for a held machine", func(t *testing.T) {
		s.mustDial(t, freshIP()).expect(envelope(1, 1, onlineBody("healthy")), 5, "")
	})

	run("fragmented frame is reassembled", func(t *testing.T) {
		c := s.mustDial(t, freshIP())
		ctx, cancel := timeout()
		defer cancel()
		w, err := c.c.Writer(ctx, websocket.MessageText)
		if err != nil {
			t.Fatal(err)
		}
		frame := envelope(1, 1, onlineBody("fragmented"))
		for i := 0; i < len(frame); i += 7 {
			_, _ = w.Write([]byte(frame[i:min(i+7, len(frame))]))
		}
		_ = w.Close()
		_, data, err := c.c.Read(ctx)
		if err != nil || !strings.Contains(string(data), `"code":0,`) {
			t.Fatalf("fragmented online answered %s %v", data, err)
		}
	})

	run("fragmented frame over the limit closes 1009", func(t *testing.T) {
		c := s.mustDial(t, freshIP())
		ctx, cancel := timeout()
		defer cancel()
		w, _ := c.c.Writer(ctx, websocket.MessageText)
		for range 10 {
			if _, err := w.Write([]byte(strings.Repeat("a", 1000))); err != nil {
				break
			}
		}
		expectClose(t, c, websocket.StatusMessageTooBig, "")
	})

	run("oversize frame closes 1009", func(t *testing.T) {
		c := s.mustDial(t, freshIP())
		ctx, cancel := timeout()
		defer cancel()
		_ = c.c.Write(ctx, websocket.MessageText, []byte(`{"id":1,"body":"`+strings.Repeat("A", 8000)+`"}`))
		expectClose(t, c, websocket.StatusMessageTooBig, "")
	})

	run("message flood is rate limited then closed 1008", func(t *testing.T) {
		c := s.mustDial(t, freshIP())
		ctx, cancel := timeout()
		defer cancel()
		go func() {
			for i := range 2000 {
				if c.c.Write(ctx, websocket.MessageText, []byte(envelope(uint64(i), 1, `{}`))) != nil {
					return
				}
			}
		}()
		limited := 0
		for {
			_, data, err := c.c.Read(ctx)
			if err != nil {
				if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), "rate limited") {
					t.Fatalf("flood closed with %v, want 1008 rate limited", err)
				}
				break
			}
			if strings.Contains(string(data), `"message":"rate limited"`) {
				limited++
			}
		}
		if limited == 0 || s.limits.get(s.limits.closed, ws.ClosedRateLimit) == 0 {
			t.Fatalf("%d rate-limited answers, %v policy closes", limited, s.limits.closed)
		}
	})

	run("text ping flood is rate limited", func(t *testing.T) {
		c := s.mustDial(t, freshIP())
		ctx, cancel := timeout()
		defer cancel()
		go func() {
			for range 2000 {
				if c.c.Write(ctx, websocket.MessageText, []byte("ping")) != nil {
					return
				}
			}
		}()
		expectClose(t, c, websocket.StatusPolicyViolation, "rate limited")
	})

	run("ping frame flood is cut off", func(t *testing.T) {
		c := s.mustDial(t, freshIP())
		before := s.limits.get(s.limits.closed, ws.ClosedRateLimit)
		ctx := c.c.CloseRead(context.Background()) // a reader for pongs and the close
		var flood sync.WaitGroup
		for range 100 {
			flood.Go(func() {
				for i := 0; i < 200 && ctx.Err() == nil; i++ {
					pctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
					_ = c.c.Ping(pctx)
					cancel()
				}
			})
		}
		flood.Wait()
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("ping flood not cut off")
		}
		if s.limits.get(s.limits.closed, ws.ClosedRateLimit) <= before {
			t.Fatal("ping flood closed but not counted as rate limiting")
		}
	})

	run("no online message before the deadline closes 1008", func(t *testing.T) {
		c := s.mustDial(t, freshIP())
		if got := c.raw("ping"); got != "pong" { // pings alone do not count
			t.Fatalf("ping answered %q", got)
		}
		expectClose(t, c, websocket.StatusPolicyViolation, "no online message within 1s")
	})

	run("online before the deadline keeps the connection", func(t *testing.T) {
		c := s.mustDial(t, freshIP())
		c.expect(envelope(1, 1, onlineBody("in-time")), 0, "")
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond) // past the 1s deadline
		defer cancel()
		if _, _, err := c.c.Read(ctx); ctx.Err() == nil {
			t.Fatalf("online connection closed: %v", err)
		}
	})

	run("per-IP limit refuses with 429", func(t *testing.T) {
		ip := freshIP()
		for range 8 {
			s.mustDial(t, ip)
		}
		_, status, err := s.dialAs(t, ip, nil)
		if status != http.StatusTooManyRequests {
			t.Fatalf("9th connection from %s: %d %v, want 429", ip, status, err)
		}
		s.mustDial(t, freshIP()) // others are not affected
	})

	run("thousands of anonymous connections are bounded", func(t *testing.T) {
		before := s.limits.get(s.limits.refused, ws.RefusedAnonymous)
		var opened []*client
		refused := 0
		for range 1500 {
			c, status, _ := s.dialAs(t, freshIP(), nil)
			switch {
			case c != nil:
				opened = append(opened, c)
			case status == http.StatusServiceUnavailable:
				refused++
			default:
				t.Fatalf("anonymous connection: status %d", status)
			}
		}
		if len(opened) > 64 || refused < 1500-64 || s.limits.get(s.limits.refused, ws.RefusedAnonymous)-before != refused {
			t.Fatalf("opened %d, refused %d (counted %d); the bound is 64", len(opened), refused, s.limits.get(s.limits.refused, ws.RefusedAnonymous)-before)
		}
		agent.served(t, 3)
		for _, c := range opened {
			_ = c.c.CloseNow()
		}
	})

	run("slowloris handshake is cut by the header timeout", func(t *testing.T) {
		conn, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, _ = conn.Write([]byte("GET /websocket HTTP/1.1\r\nHost: x\r\n"))
		closed := make(chan error, 1)
		go func() {
			_, err := bufio.NewReader(conn).ReadString('\n')
			closed <- err
		}()
		for i := 0; ; i++ {
			select {
			case <-closed:
				return // the server hung up on the dribbling client
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := conn.Write([]byte(fmt.Sprintf("X-Slow-%d: 1\r\n", i))); err != nil {
				return
			}
			if i > 100 {
				t.Fatal("slow handshake never cut off")
			}
		}
	})

	run("a client that never reads is dropped", func(t *testing.T) {
		c := s.mustDial(t, freshIP())
		c.expect(envelope(1, 1, onlineBody("never-reads")), 0, "")
		key := domain.MachineKey{MachineID: "never-reads", Project: "deeplink"}
		big := []byte(strings.Repeat("x", 3000))
		for i := 0; ; i++ {
			ctx, cancel := timeout()
			ok := s.handler.Notify(ctx, key, big)
			cancel()
			if !ok {
				break
			}
			if i > 100000 {
				t.Fatal("writes to a client that never reads never time out")
			}
		}
		waitDisconnected(t, s.server, key)
		agent.served(t, 3)
	})

	run("origins are not checked without AllowedOrigins", func(t *testing.T) {
		c, status, err := s.dialAs(t, freshIP(), http.Header{"Origin": {"https://anything.example"}})
		if c == nil {
			t.Fatalf("browser origin refused: %d %v", status, err)
		}
	})

	agent.served(t, 3)
	agent.finish(t)
	if n, err := s.store.ListReports(context.Background(), domain.MachineKey{MachineID: "healthy", Project: "deeplink"}, zeroTime, zeroTime, 0); err != nil || int64(len(n)) != agent.answered.Load() {
		t.Fatalf("healthy agent: %d answers, %d reports stored (%v)", agent.answered.Load(), len(n), err)
	}
}

func TestConnectionLimits(t *testing.T) {
	t.Run("node limit refuses with 503", func(t *testing.T) {
		s := newHostileServer(t, ws.Options{Limits: ws.Limits{MaxConnections: 3}})
		for i := range 3 {
			s.mustDial(t, fmt.Sprintf("10.0.0.%d", i))
		}
		ctx, cancel := timeout()
		defer cancel()
		_, resp, err := websocket.Dial(ctx, s.url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {"10.0.1.1"}}})
		if resp == nil || resp.StatusCode != http.StatusServiceUnavailable || s.limits.get(s.limits.refused, ws.RefusedNodeFull) != 1 {
			t.Fatalf("4th connection: %v %v", resp, err)
		}
		var body struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Code != 9 || !strings.Contains(body.Message, "connection limit") ||
			resp.Header.Get("Retry-After") == "" || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("refusal body %+v (%v), headers %v: want a JSON code 9 naming the connection limit, and Retry-After", body, err, resp.Header)
		}
	})

	t.Run("a slot frees when a connection ends", func(t *testing.T) {
		s := newHostileServer(t, ws.Options{Limits: ws.Limits{MaxConnectionsPerIP: 1}})
		c := s.mustDial(t, "10.0.0.1")
		if _, status, _ := s.dialAs(t, "10.0.0.1", nil); status != http.StatusTooManyRequests {
			t.Fatalf("second connection: %d, want 429", status)
		}
		_ = c.c.Close(websocket.StatusNormalClosure, "")
		deadline := time.Now().Add(10 * time.Second)
		for {
			if c, _, _ := s.dialAs(t, "10.0.0.1", nil); c != nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("slot never freed")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})

	t.Run("going online frees the anonymous slot", func(t *testing.T) {
		s := newHostileServer(t, ws.Options{Limits: ws.Limits{MaxAnonymous: 1}})
		c := s.mustDial(t, "10.0.0.1")
		if _, status, _ := s.dialAs(t, "10.0.0.2", nil); status != http.StatusServiceUnavailable {
			t.Fatalf("second anonymous: %d, want 503", status)
		}
		c.expect(envelope(1, 1, onlineBody("anon")), 0, "")
		s.mustDial(t, "10.0.0.2")
	})

	t.Run("rate limit follows the injected clock", func(t *testing.T) {
		clock := memory.NewClock(time.Unix(1_700_000_000, 0))
		s := newHostileServer(t, ws.Options{Clock: clock, Limits: ws.Limits{MessageRate: 1, MessageBurst: 3, RateStrikes: 3}})
		c := s.mustDial(t, "10.0.0.1")
		c.expect(envelope(1, 1, onlineBody("rate")), 0, "")
		c.expect(envelope(2, 2, gpuBody), 0, "")
		c.expect(envelope(3, 2, gpuBody), 0, "")
		a := c.expect(envelope(4, 2, gpuBody), 1, "rate limited")
		if a.ID != 4 || a.Type != 2 {
			t.Fatalf("rate-limited answer must echo id and type: %+v", a)
		}
		clock.Advance(time.Second) // one token back
		c.expect(envelope(5, 2, gpuBody), 0, "")
		c.expect(envelope(6, 2, gpuBody), 1, "rate limited")
		c.expect(envelope(7, 2, gpuBody), 1, "rate limited")
		ctx, cancel := timeout()
		defer cancel()
		_ = c.c.Write(ctx, websocket.MessageText, []byte(envelope(8, 2, gpuBody)))
		err := closedWith(t, c) // the third strike in a row: answered, then closed
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Fatalf("third strike: %v, want close 1008", err)
		}
		rs, _ := s.store.ListReports(context.Background(), keyOf("rate"), zeroTime, zeroTime, 0)
		if len(rs) != 3 {
			t.Fatalf("%d reports stored, want the 3 acknowledged", len(rs))
		}
	})
}

func TestTrustedProxyDecidesTheStoredClientIP(t *testing.T) {
	s := newHostileServer(t, ws.Options{})
	c := s.mustDial(t, "203.0.113.50")
	c.expect(envelope(1, 1, onlineBody("proxied")), 0, "")
	conn, err := s.store.GetConnection(context.Background(), keyOf("proxied"))
	if err != nil || conn.ClientIP != "203.0.113.50" {
		t.Fatalf("stored client IP %q (%v), want the forwarded 203.0.113.50", conn.ClientIP, err)
	}

	// A peer that is not a trusted proxy cannot choose its address.
	direct := newServer(t, ws.Options{ClientIP: mustResolver(t, "10.0.0.0/8").ClientIP})
	ctx, cancel := timeout()
	defer cancel()
	d, _, err := websocket.Dial(ctx, direct.url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {"203.0.113.51"}, "X-Real-IP": {"203.0.113.52"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.CloseNow()
	dc := &client{t: t, c: d}
	dc.expect(envelope(1, 1, onlineBody("spoofer")), 0, "")
	conn, err = direct.store.GetConnection(context.Background(), keyOf("spoofer"))
	if err != nil || conn.ClientIP != "127.0.0.1" {
		t.Fatalf("stored client IP %q (%v), want the socket peer 127.0.0.1", conn.ClientIP, err)
	}
}

func mustResolver(t *testing.T, cidrs ...string) *clientip.Resolver {
	t.Helper()
	r, err := clientip.New(cidrs)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAllowedOrigins(t *testing.T) {
	s := newHostileServer(t, ws.Options{OriginPatterns: []string{"console.example.com", "*.ddn.example"}})
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true}, // agents send no Origin
		{"https://console.example.com", true},
		{"https://a.ddn.example", true},
		{"https://evil.example", false},
		{"https://console.example.com.evil.example", false},
	} {
		hdr := http.Header{}
		if tc.origin != "" {
			hdr.Set("Origin", tc.origin)
		}
		c, status, err := s.dialAs(t, "10.0.0.1", hdr)
		if tc.ok != (c != nil) || (!tc.ok && status != http.StatusForbidden) {
			t.Errorf("origin %q: connected=%v status %d %v", tc.origin, c != nil, status, err)
		}
		if c != nil {
			c.expect(envelope(1, 1, onlineBody("origin-"+base64.RawURLEncoding.EncodeToString([]byte(tc.origin)))), 0, "")
			_ = c.c.CloseNow()
		}
	}
}
