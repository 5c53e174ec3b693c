package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"ddn/internal/ddnproc"
)

// rateProxy is a JSON-RPC endpoint as public ones behave: at most `limit`
// HTTP requests in any second, HTTP 429 beyond. It records every request
// it sees (refused ones too) and the eth_call calls they carry.
type rateProxy struct {
	target string
	limit  int

	mu       sync.Mutex
	accepted []time.Time // within the last second
	seen     []time.Time // every request since reset
	refused  int
	calls    int // eth_call calls (getMachineState reads)
	srv      *http.Server
	addr     string
}

func startRateProxy(t *testing.T, target string, limit int) *rateProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &rateProxy{target: target, limit: limit, addr: ln.Addr().String()}
	client := &http.Client{Timeout: 30 * time.Second}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		now := time.Now()
		p.mu.Lock()
		p.seen = append(p.seen, now)
		kept := p.accepted[:0]
		for _, at := range p.accepted {
			if now.Sub(at) < time.Second {
				kept = append(kept, at)
			}
		}
		p.accepted = kept
		if len(p.accepted) >= p.limit {
			p.refused++
			p.mu.Unlock()
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"jsonrpc":"2.0","error":{"code":-32005,"message":"rate limit exceeded"}}`, http.StatusTooManyRequests)
			return
		}
		p.accepted = append(p.accepted, now)
		p.calls += countCalls(body, "eth_call")
		p.mu.Unlock()
		resp, err := client.Post(p.target, "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})}
	go func() { _ = p.srv.Serve(ln) }()
	t.Cleanup(func() { _ = p.srv.Close() })
	return p
}

func (p *rateProxy) URL() string { return "http://" + p.addr }

// countCalls counts the calls of method in a JSON-RPC request or batch.
func countCalls(body []byte, method string) int {
	var one struct{ Method string }
	if err := json.Unmarshal(body, &one); err == nil {
		if one.Method == method {
			return 1
		}
		return 0
	}
	var batch []struct{ Method string }
	if err := json.Unmarshal(body, &batch); err != nil {
		return 0
	}
	n := 0
	for _, c := range batch {
		if c.Method == method {
			n++
		}
	}
	return n
}

type proxyStats struct {
	requests, refused, calls, maxPerSecond int
}

// stats says what the proxy saw since the last reset, and starts anew.
func (p *rateProxy) stats(reset bool) proxyStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := proxyStats{requests: len(p.seen), refused: p.refused, calls: p.calls}
	for i := range p.seen {
		n := 0
		for j := i; j < len(p.seen) && p.seen[j].Sub(p.seen[i]) < time.Second; j++ {
			n++
		}
		s.maxPerSecond = max(s.maxPerSecond, n)
	}
	if reset {
		p.seen, p.refused, p.calls = nil, 0, 0
	}
	return s
}

// registerMany registers machine ids on the test contract in a few
// transactions from geth's dev account.
func (c *testContract) registerMany(t testing.TB, ids []string, project string, st uint8) {
	t.Helper()
	key, _ := crypto.HexToECDSA(gethDevKey)
	bound := bind.NewBoundContract(c.addr, c.abi, c.client, c.client, c.client)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var txs []*types.Transaction
	for start := 0; start < len(ids); start += 100 { // ~4.5M gas of the dev chain's 11M per block
		opts := bind.NewKeyedTransactor(key, big.NewInt(1337))
		opts.Context = ctx
		tx, err := bound.Transact(opts, "registerMany", ids[start:min(start+100, len(ids))], project, st)
		if err != nil {
			t.Fatalf("registerMany: %v", err)
		}
		txs = append(txs, tx)
	}
	for _, tx := range txs {
		r, err := bind.WaitMined(ctx, c.client, tx.Hash())
		if err != nil || r.Status != types.ReceiptStatusSuccessful {
			t.Fatalf("registerMany mined: %v, %+v", err, r)
		}
	}
}

// stormAgent is one machine's agent: it connects, sends its online and
// keeps the connection open until closed.
type stormAgent struct {
	id   string
	conn *websocket.Conn
	code uint32
	msg  string
	at   time.Duration // answer, from the start of the storm
	err  error
}

func (a *stormAgent) online(ctx context.Context, addr string, start time.Time) {
	a.code, a.msg, a.err = 0, "", nil
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/websocket", nil)
	if err != nil {
		a.err = fmt.Errorf("dial: %w", err)
		return
	}
	a.conn = c
	body := fmt.Sprintf(`{"machine_id":%q,"project":"deeplink","container_id":"","staking_type":0}`, a.id)
	msg := fmt.Sprintf(`{"version":0,"timestamp":%d,"id":1,"type":1,"pub_key":"","sign":"","body":%q}`,
		time.Now().UnixMilli(), base64.StdEncoding.EncodeToString([]byte(body)))
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		a.err = fmt.Errorf("write online: %w", err)
		return
	}
	_, data, err := c.Read(ctx)
	if err != nil {
		a.err = fmt.Errorf("read answer: %w", err)
		return
	}
	a.at = time.Since(start)
	var r response
	if err := json.Unmarshal(data, &r); err != nil {
		a.err = fmt.Errorf("answer %s: %w", data, err)
		return
	}
	a.code, a.msg = r.Code, r.Message
}

// storm has every agent go online at once and says when the last was
// answered, and what went wrong: any answer but code 0, or a last answer
// later than `within`.
func storm(t *testing.T, agents []*stormAgent, addr string, within time.Duration) (time.Duration, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within+30*time.Second)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for _, a := range agents {
		wg.Go(func() { a.online(ctx, addr, start) })
	}
	wg.Wait()
	var last time.Duration
	codes := map[string]int{}
	ats := make([]time.Duration, 0, len(agents))
	for _, a := range agents {
		switch {
		case a.err != nil:
			codes["error: "+a.err.Error()]++
		case a.code != 0:
			codes[fmt.Sprintf("code %d %s", a.code, a.msg)]++
		}
		last = max(last, a.at)
		ats = append(ats, a.at)
	}
	slices.Sort(ats)
	t.Logf("answers: p50 %s, p90 %s, last %s", ats[len(ats)/2].Round(time.Millisecond), ats[len(ats)*9/10].Round(time.Millisecond), last.Round(time.Millisecond))
	switch {
	case len(codes) > 0:
		return last, fmt.Sprintf("not every machine went online: %v", codes)
	case last > within:
		return last, fmt.Sprintf("the last of %d machines online after %s, want within %s", len(agents), last, within)
	}
	return last, ""
}

func closeAgents(agents []*stormAgent) {
	for _, a := range agents {
		if a.conn != nil {
			a.conn.CloseNow()
			a.conn = nil
		}
	}
}

// stormSetup is geth --dev with n machines registered on the test
// contract, behind an endpoint that takes at most 20 requests a second,
// and the ddn binary with the environment to run it against them.
type stormSetup struct {
	agents []*stormAgent
	proxy  *rateProxy
	bin    string
	env    []string
}

func setUpStorm(t *testing.T, n int) *stormSetup {
	t.Helper()
	if s := os.Getenv("DDN_STORM_MACHINES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	gethURL := startGeth(t)
	contract := deployTestContract(t, gethURL)
	agents := registeredAgents(t, contract, "storm", n)
	proxy := startRateProxy(t, gethURL, 20)
	env := []string{
		"DDN_LIMITS_MAXCONNECTIONSPERIP=0", "DDN_LIMITS_MAXANONYMOUS=0", "DDN_LIMITS_MAXCONNECTIONS=0", "DDN_HEARTBEATTIMEOUT=5m",
		// The tests are about the onlines' reads: the outbox's reports
		// (one transaction per machine, which the endpoint's rate spreads
		// over many minutes) are held back.
		"DDN_OUTBOX_INTERVAL=1h",
		"DDN_CHAIN_RPC=" + proxy.URL(), "DDN_CHAIN_CHAINID=1337", "DDN_CHAIN_PRIVATEKEY=" + gethDevKey,
		"DDN_CHAIN_REPORTCONTRACT_CONTRACTADDRESS=" + contract.addr.Hex(), "DDN_CHAIN_MACHINEINFOCONTRACT_CONTRACTADDRESS=" + contract.addr.Hex(),
	}
	if extra := os.Getenv("DDN_STORM_ENV"); extra != "" { // variants for measurements: DDN_OUTBOX_INTERVAL=100ms,...
		env = append(env, strings.Split(extra, ",")...)
	}
	bin := os.Getenv("DDN_STORM_BIN") // another build to compare with (say, one from before the discipline)
	if bin == "" {
		bin = buildBinary(t)
	}
	return &stormSetup{agents: agents, proxy: proxy, bin: bin, env: env}
}

// registeredAgents registers n machines (prefix-0000, ...) on the test
// contract and returns their agents, closed when the test ends.
func registeredAgents(t testing.TB, contract *testContract, prefix string, n int) []*stormAgent {
	t.Helper()
	agents := make([]*stormAgent, n)
	ids := make([]string, n)
	for i := range agents {
		ids[i] = fmt.Sprintf("%s-%04d", prefix, i)
		agents[i] = &stormAgent{id: ids[i]}
	}
	t.Cleanup(func() { closeAgents(agents) })
	contract.registerMany(t, ids, "deeplink", 0)
	if v := contract.call(t, "getMachineState", ids[n-1], "deeplink", uint8(0)); !v[1].(bool) {
		t.Fatal("registerMany did not register")
	}
	return agents
}

func nodeMetricsBody(t *testing.T, addr string) string { return getBody(t, "http://"+addr+"/metrics") }

// TestChainOnlineStorm: 2,000 registered machines come online at once
// through a real ddn in front of geth --dev behind an endpoint that takes
// at most 20 HTTP requests a second (429 beyond). Every one is online
// within 15 s, none is answered code 7, the endpoint never sees more than
// 20 requests in a second. Then every connection is cut and all 2,000
// come back at once (a load balancer moving them): no getMachineState
// read at all. The store is memory://, so that what is measured is the
// chain's part; TestChainRestartRemembersRegistrations restarts the node.
func TestChainOnlineStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("runs geth and the binary with 2,000 agents")
	}
	s := setUpStorm(t, 2000)
	n := len(s.agents)
	addr := ddnproc.FreeAddr(t)
	node := startNode(t, s.bin, t.TempDir(), addr, append(s.env, "DDN_MONGODB_URI=memory://")...)
	s.proxy.stats(true)

	last, failed := storm(t, s.agents, addr, 15*time.Second)
	st := s.proxy.stats(true)
	t.Logf("storm: %d machines online in %s (%.0f onlines/s); the endpoint saw %d requests (%d refused, at most %d in a second), %d getMachineState calls: %.4f requests per online",
		n, last.Round(time.Millisecond), float64(n)/last.Seconds(), st.requests, st.refused, st.maxPerSecond, st.calls, float64(st.requests)/float64(n))
	if failed != "" {
		t.Fatal(failed)
	}
	if st.maxPerSecond > 20 {
		t.Fatalf("the endpoint saw %d requests in a second, want at most 20", st.maxPerSecond)
	}
	if st.calls < n {
		t.Fatalf("%d getMachineState calls for %d machines", st.calls, n)
	}
	if m := nodeMetricsBody(t, addr); !strings.Contains(m, `ddn_chain_registry_cache_total{result="miss"} `+strconv.Itoa(n)) ||
		!strings.Contains(m, "ddn_chain_read_batch_size_sum "+strconv.Itoa(st.calls)) {
		t.Fatalf("/metrics does not count %d cache misses and %d batched reads", n, st.calls)
	}

	closeAgents(s.agents)
	waitFor(t, "every connection gone", func() bool {
		return strings.Contains(nodeMetricsBody(t, addr), "ddn_open_connections 0")
	})
	last, failed = storm(t, s.agents, addr, 15*time.Second)
	st = s.proxy.stats(true)
	t.Logf("reconnect: %d machines online in %s; the endpoint saw %d requests, %d getMachineState calls", n, last.Round(time.Millisecond), st.requests, st.calls)
	if failed != "" {
		t.Fatal(failed)
	}
	if st.calls != 0 {
		t.Fatalf("%d getMachineState calls on reconnect, want none within the cache TTL", st.calls)
	}
	if m := nodeMetricsBody(t, addr); !strings.Contains(m, `ddn_chain_registry_cache_total{result="hit"} `+strconv.Itoa(n)) {
		t.Fatalf("/metrics does not count %d cache hits", n)
	}
	closeAgents(s.agents)
	node.Stop(t)
}

// TestChainRestartRemembersRegistrations: registered machines online on a
// node with the embedded store; the node restarts and they all come back
// at once: the restarted node remembers their registrations from
// machine_info and asks the chain nothing.
func TestChainRestartRemembersRegistrations(t *testing.T) {
	if testing.Short() {
		t.Skip("runs geth and the binary")
	}
	s := setUpStorm(t, 500)
	n := len(s.agents)
	dir, addr := t.TempDir(), ddnproc.FreeAddr(t)
	node := startNode(t, s.bin, dir, addr, s.env...)
	s.proxy.stats(true)
	// The embedded store takes its time over 500 new machines; the chain's
	// part is TestChainOnlineStorm's.
	last, failed := storm(t, s.agents, addr, 120*time.Second)
	st := s.proxy.stats(true)
	if failed != "" {
		t.Fatal(failed)
	}
	t.Logf("first online: %d machines in %s; the endpoint saw %d requests, %d getMachineState calls", n, last.Round(time.Millisecond), st.requests, st.calls)

	closeAgents(s.agents)
	node.Stop(t)
	node = startNode(t, s.bin, dir, addr, s.env...)
	if !strings.Contains(node.Logs(), fmt.Sprintf(`"warmed": %d`, n)) && !strings.Contains(node.Logs(), fmt.Sprintf(`"warmed":%d`, n)) {
		t.Fatalf("the restarted node did not remember the %d registrations:\n%s", n, lastLines(node.Logs(), 20))
	}
	last, failed = storm(t, s.agents, addr, 120*time.Second)
	st = s.proxy.stats(true)
	if failed != "" {
		t.Fatal(failed)
	}
	t.Logf("restart: %d machines online in %s; the endpoint saw %d requests, %d getMachineState calls", n, last.Round(time.Millisecond), st.requests, st.calls)
	if st.calls != 0 {
		t.Fatalf("%d getMachineState calls after the restart, want none within the cache TTL", st.calls)
	}
	if m := nodeMetricsBody(t, addr); !strings.Contains(m, `ddn_chain_registry_cache_total{result="hit"} `+strconv.Itoa(n)) {
		t.Fatalf("/metrics does not count %d cache hits", n)
	}
	closeAgents(s.agents)
	node.Stop(t)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
