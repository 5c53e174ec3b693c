package chain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
)

// fakeClock is a clock the test moves: After fires when Advance passes
// its time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

// Far from the wall clock: a context deadline (always wall-clock) mixed up
// with the fake time fails at once.
func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch
	}
	f.timers = append(f.timers, fakeTimer{at: f.now.Add(d), ch: ch})
	return ch
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	kept := f.timers[:0]
	for _, t := range f.timers {
		if !t.at.After(f.now) {
			t.ch <- f.now
			continue
		}
		kept = append(kept, t)
	}
	f.timers = kept
}

func (f *fakeClock) pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// waitTimers waits (in real time) until n goroutines sleep on the clock.
func (f *fakeClock) waitTimers(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f.pending() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d sleepers on the fake clock, want %d", f.pending(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// sleepyClock advances itself by every sleep: one goroutine's virtual time.
type sleepyClock struct{ *fakeClock }

func (s *sleepyClock) After(d time.Duration) <-chan time.Time {
	s.fakeClock.Advance(max(d, 0))
	ch := make(chan time.Time, 1)
	ch <- s.Now()
	return ch
}

type countingMetrics struct {
	noMetrics
	refused, retried, batches, batched, waiting atomic.Int64
}

func (m *countingMetrics) Refused()              { m.refused.Add(1) }
func (m *countingMetrics) ReadsRetried(n int)    { m.retried.Add(int64(n)) }
func (m *countingMetrics) ReadBatch(n int)       { m.batches.Add(1); m.batched.Add(int64(n)) }
func (m *countingMetrics) RequestsWaiting(d int) { m.waiting.Add(int64(d)) }

// No second of the clock sees more than the rate, however many ask.
func TestGateSpacesRequestsAtTheRate(t *testing.T) {
	clock := &sleepyClock{newFakeClock()}
	g := newGate(10, clock, noMetrics{})
	start := clock.Now()
	var at []time.Duration
	for range 100 {
		if err := g.token(context.Background(), true); err != nil {
			t.Fatal(err)
		}
		at = append(at, clock.Now().Sub(start))
	}
	for i := range at {
		n := 0
		for j := i; j < len(at) && at[j]-at[i] < time.Second; j++ {
			n++
		}
		if n > 10 {
			t.Fatalf("%d requests within a second from %s, want at most 10", n, at[i])
		}
	}
	if last := at[len(at)-1]; last < 9900*time.Millisecond || last > 10*time.Second {
		t.Fatalf("the 100th request at %s, want 9.9s (10/s from the first)", last)
	}
}

// Reads an online waits for go before the outbox's requests.
func TestGateServesUrgentRequestsFirst(t *testing.T) {
	clock := newFakeClock()
	g := newGate(10, clock, noMetrics{})
	ctx := context.Background()
	if err := g.token(ctx, false); err != nil { // the one token there is
		t.Fatal(err)
	}
	var order []string
	var mu sync.Mutex
	got := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	var wg sync.WaitGroup
	wg.Go(func() { _ = g.token(ctx, false); got("background") })
	clock.waitTimers(t, 1)
	for i := range 3 {
		wg.Go(func() { _ = g.token(ctx, true); got(fmt.Sprint("urgent", i)) })
		clock.waitTimers(t, 2+i)
	}
	for range 60 {
		clock.Advance(25 * time.Millisecond)
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	if len(order) != 4 || order[3] != "background" {
		t.Fatalf("tokens went to %v, want the three urgent requests before the background one", order)
	}
	if got := clock.Now().Sub(newFakeClock().Now()); got < 400*time.Millisecond {
		t.Fatalf("4 more tokens by %s, want 100 ms apart", got)
	}
}

// A refusal stops the endpoint for its Retry-After.
func TestGatePausesAfterARefusal(t *testing.T) {
	clock := &sleepyClock{newFakeClock()}
	g := newGate(100, clock, noMetrics{})
	start := clock.Now()
	g.pause(2 * time.Second)
	if err := g.token(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if d := clock.Now().Sub(start); d < 2*time.Second {
		t.Fatalf("token after %s of a 2s pause", d)
	}
	if err := g.token(context.Background(), false); err != nil {
		t.Fatal(err)
	}
}

// A 429 pauses the endpoint for its Retry-After and the request goes again
// within its deadline.
func TestTransportRetriesARefusedRequest(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if n.Add(1) <= 2 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	clock := newFakeClock()
	m := &countingMetrics{}
	tr := &transport{base: http.DefaultTransport, slots: newSlots(1, m), gate: newGate(1000, clock, m), m: m}
	done := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Transport: tr}).Post(srv.URL, "application/json", strings.NewReader(`{"x":1}`))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != `{"x":1}` || resp.StatusCode != 200 {
				err = fmt.Errorf("answer %d %q", resp.StatusCode, b)
			}
		}
		done <- err
	}()
	for i := range 2 {
		clock.waitTimers(t, 1)
		if got := n.Load(); got != int32(i+1) {
			t.Fatalf("%d requests before the pause %d ended", got, i+1)
		}
		clock.Advance(time.Second)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n.Load() != 3 || m.refused.Load() != 2 {
		t.Fatalf("%d requests, %d refusals counted; want 3 and 2", n.Load(), m.refused.Load())
	}
}

// ethService answers eth_call with the call's input, so each read can
// check it got its own answer.
type ethService struct{}

func (ethService) Call(args map[string]any, _ string) (hexutil.Bytes, error) {
	in, _ := args["input"].(string)
	if strings.HasSuffix(in, "dead") {
		return nil, errors.New("execution reverted")
	}
	return hexutil.Decode(in)
}

// rpcServer is a JSON-RPC endpoint over HTTP that counts the requests and
// the calls in each, and fails the first `failFirst` requests with 503.
type rpcServer struct {
	*httptest.Server
	mu        sync.Mutex
	sizes     []int
	failFirst int
	at        []time.Time
}

func newRPCServer(t *testing.T, clock *fakeClock) *rpcServer {
	s := rpc.NewServer()
	if err := s.RegisterName("eth", ethService{}); err != nil {
		t.Fatal(err)
	}
	rs := &rpcServer{}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := 1
		if bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
			var arr []json.RawMessage
			_ = json.Unmarshal(body, &arr)
			n = len(arr)
		}
		rs.mu.Lock()
		rs.sizes = append(rs.sizes, n)
		rs.at = append(rs.at, clock.Now())
		fail := len(rs.sizes) <= rs.failFirst
		rs.mu.Unlock()
		if fail {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(rs.Close)
	return rs
}

func (rs *rpcServer) requests() ([]int, []time.Time) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]int(nil), rs.sizes...), append([]time.Time(nil), rs.at...)
}

func newTestBatcher(url string, clock *fakeClock, perSecond float64, maxBatch, flushers int, m Metrics) *batcher {
	ep := &Endpoint{URL: url, slots: newSlots(flushers, m), metrics: m, gate: newGate(perSecond, clock, m)}
	return &batcher{eps: &endpoints{list: []*Endpoint{ep}}, from: common.Address{1}, to: common.Address{2},
		max: maxBatch, flushers: flushers, timeout: 5 * time.Second, clock: clock, m: m}
}

// drive advances the fake clock in steps until done is closed.
func drive(t *testing.T, clock *fakeClock, step time.Duration, done <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-done:
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("reads still waiting after 20 s")
		}
		time.Sleep(time.Millisecond)
		clock.Advance(step)
	}
}

// 230 reads at once on an endpoint that takes 2 requests a second: each
// read gets its own answer, in a handful of batch requests of at most 50
// calls, none closer than half a second to the one before.
func TestConcurrentReadsGoInFewBatches(t *testing.T) {
	clock := newFakeClock()
	srv := newRPCServer(t, clock)
	m := &countingMetrics{}
	b := newTestBatcher(srv.URL, clock, 2, 50, 2, m)
	start := clock.Now()
	const n = 230
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			want := []byte(fmt.Sprintf("read-%03d", i))
			out, err := b.call(ctx, want)
			if err == nil && !bytes.Equal(out, want) {
				err = fmt.Errorf("read %d answered %q", i, out)
			}
			errs <- err
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	drive(t, clock, 50*time.Millisecond, done)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	sizes, _ := srv.requests()
	total := 0
	for i, s := range sizes {
		total += s
		if s > 50 {
			t.Fatalf("request %d carried %d calls, want at most 50", i, s)
		}
	}
	if total != n || len(sizes) > 8 {
		t.Fatalf("%d requests carrying %v (%d calls), want about %d/50 requests carrying %d", len(sizes), sizes, total, n, n)
	}
	if elapsed := clock.Now().Sub(start); elapsed < time.Duration(len(sizes)-1)*500*time.Millisecond {
		t.Fatalf("%d requests within %s at 2/s", len(sizes), elapsed)
	}
	if m.batches.Load() != int64(len(sizes)) || m.batched.Load() != n {
		t.Fatalf("metrics: %d batches of %d reads", m.batches.Load(), m.batched.Load())
	}
}

// A request the endpoint fails puts its reads back; they go again after
// a backoff and are answered; a call the node refuses is that read's error.
func TestFailedBatchIsRetried(t *testing.T) {
	clock := newFakeClock()
	srv := newRPCServer(t, clock)
	srv.failFirst = 2
	m := &countingMetrics{}
	b := newTestBatcher(srv.URL, clock, 100, 50, 1, m)
	var wg sync.WaitGroup
	var okErr, badErr error
	wg.Go(func() { _, okErr = b.call(context.Background(), []byte{0xbe, 0xef}) })
	wg.Go(func() { _, badErr = b.call(context.Background(), []byte{0xde, 0xad}) })
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	drive(t, clock, 20*time.Millisecond, done)
	if okErr != nil {
		t.Fatalf("read after two failed requests: %v", okErr)
	}
	if badErr == nil || !strings.Contains(badErr.Error(), "execution reverted") {
		t.Fatalf("reverted call: %v, want the node's answer", badErr)
	}
	if sizes, _ := srv.requests(); len(sizes) < 3 || m.retried.Load() < 2 {
		t.Fatalf("requests %v, %d reads retried; want 2 failed requests and their reads retried", sizes, m.retried.Load())
	}
}

// A read whose deadline passes while the endpoint keeps failing is an
// error that says so and why.
func TestReadGivesUpAtItsDeadline(t *testing.T) {
	clock := newFakeClock()
	srv := newRPCServer(t, clock)
	srv.failFirst = 1 << 30
	b := newTestBatcher(srv.URL, clock, 100, 50, 1, noMetrics{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	var err error
	go func() { _, err = b.call(ctx, []byte{1}); close(done) }()
	drive(t, clock, 50*time.Millisecond, done)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("read against a failing endpoint: %v, want the deadline and the last failure", err)
	}
}
