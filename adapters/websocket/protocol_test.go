package websocket_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"ddn/adapters/memory"
	ws "ddn/adapters/websocket"
	"ddn/app/ingest"
	"ddn/app/session"
	"ddn/domain"
	"ddn/ports"
)

const (
	onlineExample = `{"version":0,"timestamp":1732450000000,"id":0,"type":1,"pub_key":"","sign":"",` +
		`"body":"eyJtYWNoaW5lX2lkIjoiMTIzNDU2Nzg5IiwicHJvamVjdCI6ImRlZXBsaW5rIiwiY29udGFpbmVyX2lkIjoiIiwic3Rha2luZ190eXBlIjowfQ=="}`
	gpuBody = `{"cpu_type":"13th Gen Intel(R) Core(TM) i5-13400F","cpu_rate":2500,"gpu_names":["NVIDIA GeForce RTX 4060"],"gpu_memory_total":[8],"memory_total":16,"wallet":"0xabc"}`
	bwBody  = `{"cpu_cores":1,"memory_total":2,"hdd":50,"bandwidth":10,"wallet":"0xabc"}`
)

var exampleKey = domain.MachineKey{MachineID: "123456789", Project: "deeplink"}

type server struct {
	url     string
	store   *memory.Store
	handler *ws.Handler
}

// fixedClock pins response timestamps so whole responses can be compared.
type fixedClock struct{}

func (fixedClock) Now() time.Time { return time.UnixMilli(1732450000012) }

// newSessions runs the connection use cases on an in-memory store with a
// running batcher, stopped after the test's later cleanups (the server's).
func newSessions(t *testing.T) (*session.Service, *memory.Store) {
	t.Helper()
	store := memory.NewStore()
	return newSessionsOn(t, store), store
}

// sessionStore is what newSessionsOn runs on: a store and its reports.
type sessionStore interface {
	ports.Store
	ingest.Store
}

// newSessionsOn is newSessions on a store of the test's.
func newSessionsOn(t *testing.T, store sessionStore) *session.Service {
	t.Helper()
	batcher := ingest.NewBatcher(store, 64, 2*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { batcher.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	svc, err := session.NewService(session.Config{NodeID: "test-node"}, store, batcher, memory.NewClock(time.Now()), new(memory.Events).Observe)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func newServer(t *testing.T, o ws.Options) *server {
	t.Helper()
	svc, store := newSessions(t)
	if o.Clock == nil {
		o.Clock = fixedClock{}
	}
	h := ws.NewHandler(svc, o)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		_ = h.Drain(context.Background())
		srv.Close()
	})
	return &server{url: "ws" + strings.TrimPrefix(srv.URL, "http"), store: store, handler: h}
}

type client struct {
	t *testing.T
	c *websocket.Conn
}

func (s *server) dial(t *testing.T) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, s.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return &client{t: t, c: c}
}

func timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// raw sends a frame and returns the raw answer.
func (c *client) raw(frame string) string {
	c.t.Helper()
	ctx, cancel := timeout()
	defer cancel()
	if err := c.c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		c.t.Fatal(err)
	}
	_, data, err := c.c.Read(ctx)
	if err != nil {
		c.t.Fatalf("no answer to %s: %v", frame, err)
	}
	return string(data)
}

type answer struct {
	Version   uint32  `json:"version"`
	Timestamp int64   `json:"timestamp"`
	ID        uint64  `json:"id"`
	Type      uint32  `json:"type"`
	PubKey    *string `json:"pub_key"`
	Sign      *string `json:"sign"`
	Code      uint32  `json:"code"`
	Message   string  `json:"message"`
	Body      *string `json:"body"`
}

func (c *client) send(frame string) answer {
	c.t.Helper()
	data := c.raw(frame)
	var a answer
	if err := json.Unmarshal([]byte(data), &a); err != nil {
		c.t.Fatalf("answer %s is not JSON: %v", data, err)
	}
	if a.PubKey == nil || *a.PubKey != "" || a.Sign == nil || *a.Sign != "" || a.Body == nil {
		c.t.Fatalf("answer %s must carry pub_key and sign as \"\" and a body string", data)
	}
	return a
}

func envelope(id uint64, typ uint32, body string) string {
	return fmt.Sprintf(`{"version":0,"timestamp":1732450000000,"id":%d,"type":%d,"pub_key":"","sign":"","body":%q}`,
		id, typ, base64.StdEncoding.EncodeToString([]byte(body)))
}

func onlineBody(machine string) string {
	return fmt.Sprintf(`{"machine_id":%q,"project":"deeplink","container_id":"","staking_type":0}`, machine)
}

func (c *client) expect(frame string, code uint32, msg string) answer {
	c.t.Helper()
	a := c.send(frame)
	if a.Code != code || (msg != "" && !strings.Contains(a.Message, msg)) {
		c.t.Fatalf("sent %s\n got code %d %q, want code %d containing %q", frame, a.Code, a.Message, code, msg)
	}
	return a
}

func TestProtocolExampleAnsweredByteForByte(t *testing.T) {
	s := newServer(t, ws.Options{})
	c := s.dial(t)
	got := c.raw(onlineExample)
	want := `{"version":0,"timestamp":1732450000012,"id":0,"type":1,"pub_key":"","sign":"","code":0,"message":"machine online success","body":""}`
	if got != want {
		t.Fatalf("answer\n got %s\nwant %s", got, want)
	}
	if conn, err := s.store.GetConnection(context.Background(), exampleKey); err != nil || conn.NodeID != "test-node" {
		t.Fatalf("machine not claimed: %+v, %v", conn, err)
	}
}

func TestOnlineRules(t *testing.T) {
	s := newServer(t, ws.Options{})
	first := s.dial(t)
	first.expect(envelope(7, 1, onlineBody("m1")), 0, "machine online success")
	a := first.expect(envelope(8, 1, onlineBody("m2")), 5, "machine has been online, repeated requests")
	if a.ID != 8 || a.Type != 1 {
		t.Fatalf("answer must echo id and type: %+v", a)
	}
	second := s.dial(t)
	second.expect(envelope(1, 1, onlineBody("m1")), 5, "machine has been online, repeated connection")
	second.expect(envelope(2, 2, gpuBody), 6, "machine id is empty, need send online request first") // still anonymous
	second.expect(envelope(3, 1, onlineBody("m3")), 0, "")
	// project and container_id are optional, as in the original.
	s.dial(t).expect(envelope(1, 1, `{"machine_id":"x"}`), 0, "machine online success")
	for _, tt := range []struct{ body, field string }{
		{`{"project":"deeplink"}`, "machine id is empty"},
		{`{"machine_id":"","project":"p"}`, "machine id is empty"},
		{`{"machine_id":"x","project":"p","staking_type":3}`, "staking_type"},
		{`{"machine_id":"x","project":"p","staking_type":-1}`, "staking_type"},
		{`{"machine_id":5,"project":"p"}`, "parse online request failed: json: cannot unmarshal number into Go struct field Online.machine_id of type string"},
	} {
		s.dial(t).expect(envelope(1, 1, tt.body), 1, tt.field)
	}
}

func TestReportsAreStoredBeforeTheyAreAcknowledged(t *testing.T) {
	s := newServer(t, ws.Options{})
	c := s.dial(t)
	c.expect(envelope(1, 2, gpuBody), 6, "need send online request first")
	c.expect(envelope(2, 1, onlineBody(exampleKey.MachineID)), 0, "")
	c.expect(envelope(3, 2, gpuBody), 0, "add machine tm success")
	c.expect(envelope(4, 4, bwBody), 0, "add machine bandwidth tm success")
	rs, err := s.store.ListReports(context.Background(), exampleKey, time.Time{}, time.Time{}, 0)
	if err != nil || len(rs) != 2 {
		t.Fatalf("reports = %+v, %v", rs, err)
	}
	var gpu, bw int
	for _, r := range rs {
		if r.ShortTerm != nil && r.ShortTerm.CPURate == 2500 {
			gpu++
		}
		if r.Bandwidth != nil && r.Bandwidth.HDD == 50 {
			bw++
		}
	}
	if gpu != 1 || bw != 1 {
		t.Fatalf("want one GPU and one bandwidth report, got %d and %d", gpu, bw)
	}
	m, err := s.store.GetMachine(context.Background(), exampleKey)
	if err != nil || m.ShortTerm == nil || m.Bandwidth == nil || m.ShortTerm.ClientIP != "127.0.0.1" {
		t.Fatalf("machine info = %+v, %v", m, err)
	}
}

// TestInvalidInfoIsAnsweredInTheOriginalsWords: each field check answers
// code 1 with the original node's text, checked in its order.
func TestInvalidInfoIsAnsweredInTheOriginalsWords(t *testing.T) {
	s := newServer(t, ws.Options{})
	c := s.dial(t)
	c.expect(envelope(1, 1, onlineBody("m")), 0, "")
	gpu := map[string]string{
		`"cpu_type":""`: "empty cpu type", `"cpu_rate":0`: "invalid cpu rate", `"gpu_names":[]`: "empty gpu names",
		`"gpu_memory_total":[]`: "empty gpu memory total", `"memory_total":0`: "invalid memory total", `"wallet":""`: "empty wallet",
	}
	for repl, text := range gpu {
		field := strings.Trim(strings.SplitN(repl, ":", 2)[0], `"`)
		a := c.expect(envelope(2, 2, replaceField(gpuBody, field, repl)), 1, text)
		if a.Message != text {
			t.Errorf("%s: answered %q, want exactly %q", repl, a.Message, text)
		}
	}
	bw := map[string]string{`"cpu_cores":0`: "invalid cpu cores", `"memory_total":0`: "invalid memory total", `"hdd":0`: "invalid hdd",
		`"bandwidth":0`: "invalid bandwidth", `"wallet":""`: "empty wallet"}
	for repl, text := range bw {
		field := strings.Trim(strings.SplitN(repl, ":", 2)[0], `"`)
		if a := c.expect(envelope(3, 4, replaceField(bwBody, field, repl)), 1, text); a.Message != text {
			t.Errorf("%s: answered %q, want exactly %q", repl, a.Message, text)
		}
	}
	// The original's order: gpu names are checked first.
	c.expect(envelope(4, 2, `{"cpu_type":"x"}`), 1, "empty gpu names")
	// Wrong types and numbers that do not fit the original's int32 fields.
	if a := c.expect(envelope(5, 2, strings.Replace(gpuBody, `"cpu_rate":2500`, `"cpu_rate":"fast"`, 1)), 1, ""); a.Message !=
		"parse machine info request failed: json: cannot unmarshal string into Go struct field DeepLinkMachineInfoST.cpu_rate of type int32" {
		t.Errorf("a string cpu_rate answered %q, want the original's words", a.Message)
	}
	c.expect(envelope(6, 2, strings.Replace(gpuBody, `"cpu_rate":2500`, `"cpu_rate":2.5`, 1)), 1, "parse machine info request failed: ")
	c.expect(envelope(6, 2, strings.Replace(gpuBody, `"cpu_rate":2500`, `"cpu_rate":3000000000`, 1)), 1, "parse machine info request failed: ")
	c.expect(envelope(7, 4, strings.Replace(bwBody, `"hdd":50`, `"hdd":[50]`, 1)), 1, "parse machine info bandwidth request failed: ")
	c.expect(envelope(7, 4, strings.Replace(bwBody, `"bandwidth":10`, `"bandwidth":10.5`, 1)), 1, "parse machine info bandwidth request failed: ")
	if rs, _ := s.store.ListReports(context.Background(), domain.MachineKey{MachineID: "m", Project: "deeplink"}, time.Time{}, time.Time{}, 0); len(rs) != 0 {
		t.Fatalf("invalid reports were stored: %d", len(rs))
	}
}

// replaceField swaps the JSON member named field of body for repl.
func replaceField(body, field, repl string) string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal([]byte(body), &m)
	var r map[string]json.RawMessage
	_ = json.Unmarshal([]byte("{"+repl+"}"), &r)
	m[field] = r[field]
	out, _ := json.Marshal(m)
	return string(out)
}

func TestMalformedFramesAreAnsweredAndTheConnectionSurvives(t *testing.T) {
	s := newServer(t, ws.Options{})
	c := s.dial(t)
	cases := []struct {
		name, frame string
		code        uint32
		id, typ     uint64
	}{
		// As the original: an envelope that cannot be read is code 1
		// "parse request failed" with id 0 and type 0.
		{"not JSON", `{"version":0,`, 1, 0, 0},
		{"JSON but not an object", `[1,2,3]`, 1, 0, 0},
		{"plain text", `hello`, 1, 0, 0},
		// A header that cannot be read is answered with id 0 and type 0.
		{"negative id", `{"id":-1,"type":1,"body":""}`, 1, 0, 0},
		{"string type", `{"id":3,"type":"1","body":""}`, 1, 0, 0},
		{"body not base64", `{"id":4,"type":1,"body":"%%%not-base64"}`, 1, 0, 0},
		{"body not JSON", envelope(5, 1, `{"machine_id":`), 1, 5, 1},
		{"body a number", `{"id":6,"type":1,"body":42}`, 1, 0, 0},
		{"empty body", `{"id":7,"type":1,"body":""}`, 1, 7, 1},
		{"reserved type 0", envelope(8, 0, onlineBody("m")), 1, 8, 0},
		{"server type 3", envelope(9, 3, onlineBody("m")), 1, 9, 3},
		{"unknown type 7", envelope(10, 7, onlineBody("m")), 1, 10, 7},
		{"huge id", `{"id":1e400,"type":1}`, 1, 0, 0},
		{"id beyond uint64", `{"id":18446744073709551616,"type":1}`, 1, 0, 0},
		{"deep nesting", `{"id":11,"type":1,"body":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`, 1, 11, 1},
	}
	for _, tt := range cases {
		a := c.send(tt.frame)
		if a.Code != tt.code || a.ID != tt.id || uint64(a.Type) != tt.typ || a.Message == "" {
			t.Errorf("%s: got code %d id %d type %d %q; want code %d id %d type %d", tt.name, a.Code, a.ID, a.Type, a.Message, tt.code, tt.id, tt.typ)
		}
		switch {
		case tt.id == 0 && a.Message != "parse request failed":
			t.Errorf("%s: answered %q, want the original's \"parse request failed\"", tt.name, a.Message)
		case strings.HasPrefix(tt.name, "reserved") || strings.HasPrefix(tt.name, "server") || strings.HasPrefix(tt.name, "unknown"):
			if a.Message != "unknowned request message type" {
				t.Errorf("%s: answered %q, want the original's \"unknowned request message type\"", tt.name, a.Message)
			}
		}
	}
	// Binary frames are answered with code 2.
	ctx, cancel := timeout()
	defer cancel()
	if err := c.c.Write(ctx, websocket.MessageBinary, []byte(onlineExample)); err != nil {
		t.Fatal(err)
	}
	_, data, err := c.c.Read(ctx)
	if err != nil || !strings.Contains(string(data), `"code":2`) {
		t.Fatalf("binary frame answered %s, %v", data, err)
	}
	// Still usable.
	c.expect(onlineExample, 0, "machine online success")
}

func TestLenientEnvelopes(t *testing.T) {
	s := newServer(t, ws.Options{})
	c := s.dial(t)
	// Inline JSON body, no pub_key/sign, extra fields.
	c.expect(`{"version":0,"timestamp":1,"id":1,"type":1,"body":`+onlineBody("m")+`,"extra":{"x":[1]}}`, 0, "machine online success")
	c.expect(`{"id":2,"type":2,"pub_key":null,"sign":null,"body":`+gpuBody+`}`, 0, "add machine tm success")
	c.expect(`{"id":3,"type":4,"pub_key":"AQID","sign":"BAUG","body":"`+base64.StdEncoding.EncodeToString([]byte(bwBody))+`"}`, 0, "")
}

func TestOversizeFrameClosesWith1009(t *testing.T) {
	s := newServer(t, ws.Options{MaxMessageBytes: 1024})
	c := s.dial(t)
	c.expect(envelope(1, 1, onlineBody("m")), 0, "")
	ctx, cancel := timeout()
	defer cancel()
	big := `{"id":2,"type":2,"body":"` + strings.Repeat("A", 2048) + `"}`
	_ = c.c.Write(ctx, websocket.MessageText, []byte(big))
	_, _, err := c.c.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
		t.Fatalf("close status = %d (%v), want 1009", got, err)
	}
	waitDisconnected(t, s, domain.MachineKey{MachineID: "m", Project: "deeplink"})
}

func waitDisconnected(t *testing.T, s *server, key domain.MachineKey) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := s.store.GetMachine(context.Background(), key)
		_, connErr := s.store.GetConnection(context.Background(), key)
		if err == nil && m.State == domain.StateDisconnected && errors.Is(connErr, domain.ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("machine %s not disconnected: %+v, connection %v", key, m, connErr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHeartbeat(t *testing.T) {
	s := newServer(t, ws.Options{HeartbeatTimeout: 300 * time.Millisecond})

	t.Run("silence closes the connection", func(t *testing.T) {
		c := s.dial(t)
		c.expect(envelope(1, 1, onlineBody("silent")), 0, "")
		ctx, cancel := timeout()
		defer cancel()
		start := time.Now()
		_, _, err := c.c.Read(ctx) // data messages do not count: nothing but the close arrives
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), "heartbeat timeout") {
			t.Fatalf("want close 1008 heartbeat timeout, got %v", err)
		}
		if waited := time.Since(start); waited < 250*time.Millisecond {
			t.Fatalf("closed after %v, before the 300ms timeout", waited)
		}
		waitDisconnected(t, s, domain.MachineKey{MachineID: "silent", Project: "deeplink"})
	})

	t.Run("ping frames keep it open", func(t *testing.T) {
		// A roomier timeout than the silence case: pings every 100ms must
		// keep it open even when a loaded machine delays one of them.
		s := newServer(t, ws.Options{HeartbeatTimeout: time.Second})
		c := s.dial(t)
		c.expect(envelope(1, 1, onlineBody("pinger")), 0, "")
		ctx, cancel := timeout()
		defer cancel()
		readErr := make(chan error, 1)
		go func() { _, _, err := c.c.Read(ctx); readErr <- err }() // the reader answers pongs
		for range 30 {                                             // ~3s, over three timeouts
			if err := c.c.Ping(ctx); err != nil {
				t.Fatalf("ping: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		select {
		case err := <-readErr:
			t.Fatalf("connection closed while pinging: %v", err)
		default:
		}
		if _, err := s.store.GetConnection(context.Background(), domain.MachineKey{MachineID: "pinger", Project: "deeplink"}); err != nil {
			t.Fatalf("pinging machine lost its claim: %v", err)
		}
	})

	t.Run("text ping is answered pong and keeps it open", func(t *testing.T) {
		c := s.dial(t)
		for range 8 {
			if got := c.raw("ping"); got != "pong" {
				t.Fatalf("text ping answered %q", got)
			}
			time.Sleep(100 * time.Millisecond)
		}
		c.expect(envelope(1, 1, onlineBody("texter")), 0, "")
	})
}

func TestDisconnectReleasesTheMachine(t *testing.T) {
	s := newServer(t, ws.Options{})
	c := s.dial(t)
	c.expect(onlineExample, 0, "")
	_ = c.c.Close(websocket.StatusNormalClosure, "bye")
	waitDisconnected(t, s, exampleKey)
	s.dial(t).expect(onlineExample, 0, "machine online success") // free again
}

func TestDrainClosesEveryConnectionGoingAway(t *testing.T) {
	s := newServer(t, ws.Options{})
	var clients []*client
	for i := range 3 {
		c := s.dial(t)
		c.expect(envelope(1, 1, onlineBody(fmt.Sprint("d", i))), 0, "")
		clients = append(clients, c)
	}
	anon := s.dial(t)
	ctx, cancel := timeout()
	defer cancel()
	drained := make(chan error, 1)
	go func() { drained <- s.handler.Drain(ctx) }()
	for _, c := range append(clients, anon) {
		if _, _, err := c.c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Fatalf("want close 1001, got %v", err)
		}
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		m, err := s.store.GetMachine(context.Background(), domain.MachineKey{MachineID: fmt.Sprint("d", i), Project: "deeplink"})
		if err != nil || m.State != domain.StateDisconnected {
			t.Fatalf("machine d%d after drain: %+v, %v", i, m, err)
		}
	}
	if s.handler.Open() != 0 {
		t.Fatalf("open after drain = %d", s.handler.Open())
	}
	if _, _, err := websocket.Dial(ctx, s.url, nil); err == nil {
		t.Fatal("a draining node accepted a new connection")
	}
}

func TestNotifyReachesTheBoundConnection(t *testing.T) {
	s := newServer(t, ws.Options{})
	c := s.dial(t)
	c.expect(onlineExample, 0, "")
	if !s.handler.Notify(context.Background(), exampleKey, session.UnregisterNotice) {
		t.Fatal("notify found no connection")
	}
	ctx, cancel := timeout()
	defer cancel()
	_, data, err := c.c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	body := base64.StdEncoding.EncodeToString([]byte(`{"unregister":{"message":"machine unregistered, notify from http api"}}`))
	want := `{"version":0,"timestamp":1732450000012,"id":0,"type":3,"pub_key":"","sign":"","code":0,"message":"notify","body":"` + body + `"}`
	if string(data) != want {
		t.Fatalf("notify\n got %s\nwant %s", data, want)
	}
	if s.handler.Notify(context.Background(), domain.MachineKey{MachineID: "nobody", Project: "deeplink"}, nil) {
		t.Fatal("notify claimed to reach a machine that is not connected")
	}
}

func TestStoreDownAnswersCode4AndRecovers(t *testing.T) {
	s := newServer(t, ws.Options{})
	c := s.dial(t)
	c.expect(onlineExample, 0, "")
	s.store.FailWith(errors.New("connection refused"))
	c.expect(envelope(2, 2, gpuBody), 4, "database error")
	s.store.FailWith(nil)
	c.expect(envelope(3, 2, gpuBody), 0, "add machine tm success")
	rs, _ := s.store.ListReports(context.Background(), exampleKey, time.Time{}, time.Time{}, 0)
	if len(rs) != 1 {
		t.Fatalf("want exactly the one acknowledged report stored, got %d", len(rs))
	}
}

func TestKickClosesTheReplacedConnection(t *testing.T) {
	s := newServer(t, ws.Options{})
	c := s.dial(t)
	c.expect(onlineExample, 0, "")
	conn, err := s.store.GetConnection(context.Background(), exampleKey)
	if err != nil {
		t.Fatal(err)
	}
	if s.handler.Kick(context.Background(), exampleKey, "someone-else", "replaced") {
		t.Fatal("kicked a connection by the wrong id")
	}
	if !s.handler.Kick(context.Background(), exampleKey, conn.ConnID, "replaced by a newer connection") {
		t.Fatal("kick found no connection")
	}
	ctx, cancel := timeout()
	defer cancel()
	_, _, err = c.c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), "replaced by a newer connection") {
		t.Fatalf("want close 1008 with the reason, got %v", err)
	}
}
