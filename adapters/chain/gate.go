package chain

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
	"golang.org/x/time/rate"
)

// Defaults of the request discipline (Options).
const (
	// DefaultMaxConcurrentCalls bounds the requests in flight, all
	// endpoints together: a public endpoint answers a few connections
	// promptly and queues or refuses the rest.
	DefaultMaxConcurrentCalls = 4
	// DefaultMaxRequestsPerSecond is per endpoint, below the 20-25/s free
	// public endpoints allow per client so that a second ddn node (or a
	// few retries) behind the same address stays under it too.
	DefaultMaxRequestsPerSecond = 10
	// DefaultMaxBatchSize is the most getMachineState calls in one JSON-RPC
	// batch request: public providers take 100 (some up to 1,000; geth
	// 1,000 by default).
	DefaultMaxBatchSize = 100
	// DefaultReadTimeout is how long one registry read may wait, queued and
	// retried, when its caller set no deadline: an agent waits 30 s for the
	// answer to its online, so it hears code 7 before it gives up.
	DefaultReadTimeout = 20 * time.Second
)

// Metrics observes the adapter's requests (Prometheus); nil observes nothing.
type Metrics interface {
	// RequestsInFlight and RequestsWaiting move by delta as requests are
	// sent and answered, or wait for a slot or the endpoint's rate.
	RequestsInFlight(delta int)
	RequestsWaiting(delta int)
	// Refused counts one answer of HTTP 429 (too many requests).
	Refused()
	// ReadsQueued and ReadsInFlight move by delta as getMachineState reads
	// wait for a request and are in one.
	ReadsQueued(delta int)
	ReadsInFlight(delta int)
	// ReadBatch observes one request carrying n reads.
	ReadBatch(n int)
	// ReadsRetried counts n reads sent again after their request failed.
	ReadsRetried(n int)
}

type noMetrics struct{}

func (noMetrics) RequestsInFlight(int) {}
func (noMetrics) RequestsWaiting(int)  {}
func (noMetrics) Refused()             {}
func (noMetrics) ReadsQueued(int)      {}
func (noMetrics) ReadsInFlight(int)    {}
func (noMetrics) ReadBatch(int)        {}
func (noMetrics) ReadsRetried(int)     {}

// timeSource is the clock the gate waits on; tests inject a fake one.
type timeSource interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// slots bounds the requests in flight across every endpoint.
type slots struct {
	ch      chan struct{}
	metrics Metrics
}

func newSlots(n int, m Metrics) *slots { return &slots{ch: make(chan struct{}, n), metrics: m} }

// take waits for a free slot and returns the function that gives it back.
func (s *slots) take(ctx context.Context) (func(), error) {
	select {
	case s.ch <- struct{}{}:
	default:
		s.metrics.RequestsWaiting(1)
		defer s.metrics.RequestsWaiting(-1)
		select {
		case s.ch <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return func() { <-s.ch }, nil
}

// gate is one endpoint's request rate: a token bucket of
// MaxRequestsPerSecond with a burst of one (requests leave evenly spaced,
// so no second of sending holds more than the rate), on which the reads an
// online waits for go before the outbox's transactions, and which pauses
// after the endpoint refused a request (HTTP 429, Retry-After honoured).
type gate struct {
	clock   timeSource
	lim     *rate.Limiter
	metrics Metrics

	// urgent counts the urgent waiters; a background request takes a
	// token only when none waits.
	urgent atomic.Int64
	mu     sync.Mutex
	until  time.Time // paused until, after a refusal
}

func newGate(perSecond float64, clock timeSource, m Metrics) *gate {
	return &gate{clock: clock, lim: rate.NewLimiter(rate.Limit(perSecond), 1), metrics: m}
}

// backgroundPoll is how often a background request looks again while
// urgent ones hold the rate.
const backgroundPoll = 25 * time.Millisecond

func (g *gate) pausedFor(now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.until.Sub(now)
}

// pause stops every request on the endpoint for d (a refusal).
func (g *gate) pause(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t := g.clock.Now().Add(d); t.After(g.until) {
		g.until = t
	}
}

func (g *gate) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-g.clock.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// token waits until the endpoint's rate allows one more request; urgent
// requests (reads an online waits for) queue in order of arrival, the
// others take only what urgent ones leave.
func (g *gate) token(ctx context.Context, urgent bool) error {
	now := g.clock.Now()
	if urgent {
		g.urgent.Add(1)
		defer g.urgent.Add(-1)
		for {
			if p := g.pausedFor(now); p > 0 {
				if err := g.wait(ctx, p); err != nil {
					return err
				}
				now = g.clock.Now()
				continue
			}
			r := g.lim.ReserveN(now, 1)
			d := r.DelayFrom(now)
			if d == 0 {
				return nil
			}
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d { // deadlines are wall-clock times
				r.CancelAt(now) // the token goes to a request that can use it
				return fmt.Errorf("the endpoint's rate has no room before the deadline (%s): %w", d.Round(time.Millisecond), context.DeadlineExceeded)
			}
			if err := g.wait(ctx, d); err != nil {
				r.CancelAt(g.clock.Now())
				return err
			}
			return nil
		}
	}
	for {
		wait := backgroundPoll
		if p := g.pausedFor(now); p > 0 {
			wait = p
		} else if g.urgent.Load() == 0 {
			r := g.lim.ReserveN(now, 1)
			d := r.DelayFrom(now)
			if d == 0 {
				return nil
			}
			r.CancelAt(now)
			wait = d
		}
		if err := g.wait(ctx, wait); err != nil {
			return err
		}
		now = g.clock.Now()
	}
}

func (g *gate) wait(ctx context.Context, d time.Duration) error {
	g.metrics.RequestsWaiting(1)
	defer g.metrics.RequestsWaiting(-1)
	return g.sleep(ctx, d)
}

// refusedBackoff is the pause after a 429 without Retry-After, doubled per
// refusal in a row up to maxRefusedBackoff.
const (
	refusedBackoff    = 250 * time.Millisecond
	maxRefusedBackoff = 5 * time.Second
	maxRefusedRetries = 6
)

// backoff is the jittered delay before try n+1 (n >= 0).
func backoff(n int, base, limit time.Duration) time.Duration {
	d := base << min(n, 16)
	if d <= 0 || d > limit {
		d = limit
	}
	return d/2 + rand.N(d/2+1)
}

// retryAfter reads a Retry-After header in seconds (the form RPC
// providers send); 0 when absent or unreadable.
func retryAfter(h http.Header) time.Duration {
	s, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || s <= 0 {
		return 0
	}
	return min(time.Duration(s)*time.Second, maxRefusedBackoff*2)
}

// ticket travels in a request's context: whether the request is urgent and
// what its caller already holds (the batcher takes slot and token before it
// picks the reads a request carries).
type ticket struct {
	urgent bool
	slot   bool
	token  atomic.Bool
}

type ticketKey struct{}

func withTicket(ctx context.Context, t *ticket) context.Context {
	return context.WithValue(ctx, ticketKey{}, t)
}

func ticketOf(ctx context.Context) *ticket {
	t, _ := ctx.Value(ticketKey{}).(*ticket)
	return t
}

// transport applies the discipline to every HTTP request of one endpoint:
// a slot, a token, and on HTTP 429 a pause of the endpoint and a retry
// within the request's own deadline.
type transport struct {
	base  http.RoundTripper
	slots *slots
	gate  *gate
	m     Metrics
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	tk := ticketOf(ctx)
	if tk == nil {
		tk = &ticket{}
	}
	if !tk.slot {
		done, err := t.slots.take(ctx)
		if err != nil {
			return nil, err
		}
		defer done()
	}
	for n := 0; ; n++ {
		if !tk.token.Swap(false) {
			if err := t.gate.token(ctx, tk.urgent); err != nil {
				if n > 0 {
					return nil, fmt.Errorf("the endpoint refused %d request(s) with HTTP 429 and no retry fits the deadline: %w", n, err)
				}
				return nil, err
			}
		}
		r := req
		if n > 0 {
			r = req.Clone(ctx)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = body
			}
		}
		t.m.RequestsInFlight(1)
		resp, err := t.base.RoundTrip(r)
		t.m.RequestsInFlight(-1)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests {
			return resp, err
		}
		t.m.Refused()
		d := retryAfter(resp.Header)
		if n >= maxRefusedRetries {
			t.gate.pause(max(d, refusedBackoff))
			return resp, nil
		}
		if d == 0 {
			d = backoff(n, refusedBackoff, maxRefusedBackoff)
		}
		_ = resp.Body.Close()
		t.gate.pause(d)
	}
}

// gatedRPC applies the discipline per call on an endpoint whose requests
// do not pass through the adapter's HTTP transport (ws(s):// URLs, a
// client given): each call takes a slot and a token, unless its context's
// ticket says the caller holds them (the batcher).
type gatedRPC struct {
	RPC
	ep *Endpoint
}

func (g gatedRPC) take(ctx context.Context) (func(), error) {
	tk := ticketOf(ctx)
	if tk == nil {
		tk = &ticket{}
	}
	release := func() {}
	if !tk.slot {
		r, err := g.ep.slots.take(ctx)
		if err != nil {
			return nil, err
		}
		release = r
	}
	if !tk.token.Swap(false) {
		if err := g.ep.gate.token(ctx, tk.urgent); err != nil {
			release()
			return nil, err
		}
	}
	g.ep.metrics.RequestsInFlight(1)
	return func() { g.ep.metrics.RequestsInFlight(-1); release() }, nil
}

// Client exposes the JSON-RPC client for batches, which the batcher sends
// with slot and token already taken.
func (g gatedRPC) Client() *rpc.Client {
	if c, ok := g.RPC.(interface{ Client() *rpc.Client }); ok {
		return c.Client()
	}
	return nil
}

func (g gatedRPC) CallContract(ctx context.Context, call ethereum.CallMsg, block *big.Int) ([]byte, error) {
	done, err := g.take(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return g.RPC.CallContract(ctx, call, block)
}

func (g gatedRPC) EstimateGas(ctx context.Context, call ethereum.CallMsg) (uint64, error) {
	done, err := g.take(ctx)
	if err != nil {
		return 0, err
	}
	defer done()
	return g.RPC.EstimateGas(ctx, call)
}

func (g gatedRPC) SendTransaction(ctx context.Context, tx *types.Transaction) error {
	done, err := g.take(ctx)
	if err != nil {
		return err
	}
	defer done()
	return g.RPC.SendTransaction(ctx, tx)
}

func (g gatedRPC) PendingNonceAt(ctx context.Context, account common.Address) (uint64, error) {
	done, err := g.take(ctx)
	if err != nil {
		return 0, err
	}
	defer done()
	return g.RPC.PendingNonceAt(ctx, account)
}

func (g gatedRPC) SuggestGasPrice(ctx context.Context) (*big.Int, error) {
	done, err := g.take(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return g.RPC.SuggestGasPrice(ctx)
}

func (g gatedRPC) SuggestGasTipCap(ctx context.Context) (*big.Int, error) {
	done, err := g.take(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return g.RPC.SuggestGasTipCap(ctx)
}

func (g gatedRPC) HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error) {
	done, err := g.take(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return g.RPC.HeaderByNumber(ctx, number)
}

func (g gatedRPC) TransactionReceipt(ctx context.Context, hash common.Hash) (*types.Receipt, error) {
	done, err := g.take(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return g.RPC.TransactionReceipt(ctx, hash)
}

func (g gatedRPC) BlockNumber(ctx context.Context) (uint64, error) {
	done, err := g.take(ctx)
	if err != nil {
		return 0, err
	}
	defer done()
	return g.RPC.BlockNumber(ctx)
}
