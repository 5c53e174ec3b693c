package chain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
)

// read is one eth_call waiting for its answer.
type read struct {
	ctx  context.Context
	data []byte
	done chan readResult // buffered: the answer never blocks the batcher
	// lastErr is why the previous request carrying it failed (batcher.mu).
	lastErr error
}

type readResult struct {
	out []byte
	err error
}

// batcher coalesces concurrent eth_calls to one contract into JSON-RPC
// batch requests. A request takes its slot and its endpoint's token
// before it picks the reads it carries, so the reads that arrive while it
// waits go with it: a storm of onlines costs one request per MaxBatchSize
// reads, not one per read. A request that fails (unreachable, timeout,
// refused) puts its reads back at the head of the queue and they go again
// after a backoff, until each read's own deadline.
type batcher struct {
	eps      *endpoints
	from, to common.Address
	max      int // reads per request
	flushers int // requests at once (MaxConcurrentCalls)
	timeout  time.Duration
	clock    timeSource
	m        Metrics

	mu      sync.Mutex
	pending []*read
	running int
	fails   int       // requests failed in a row
	notVia  time.Time // no request before (backoff after a failure)
}

// readBackoff is the pause after a failed read request, doubled per
// failure in a row up to maxReadBackoff.
const (
	readBackoff    = 100 * time.Millisecond
	maxReadBackoff = 2 * time.Second
)

// call runs eth_call(data) on the contract within ctx.
func (b *batcher) call(ctx context.Context, data []byte) ([]byte, error) {
	r := &read{ctx: ctx, data: data, done: make(chan readResult, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, r)
	b.m.ReadsQueued(1) // under the lock, so a take never counts it out first
	start := b.running < b.flushers
	if start {
		b.running++
	}
	b.mu.Unlock()
	if start {
		go b.flush()
	}
	select {
	case res := <-r.done:
		return res.out, res.err
	case <-ctx.Done():
		b.mu.Lock()
		last := r.lastErr
		b.mu.Unlock()
		if last != nil {
			return nil, fmt.Errorf("no answer in time: %w (last try: %w)", ctx.Err(), last)
		}
		return nil, fmt.Errorf("no answer in time: %w", ctx.Err())
	}
}

// take removes up to max live reads from the head of the queue; reads
// whose caller stopped waiting are dropped.
func (b *batcher) take() []*read {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*read
	n := 0
	for _, r := range b.pending {
		n++
		if r.ctx.Err() != nil {
			b.m.ReadsQueued(-1)
			continue
		}
		out = append(out, r)
		b.m.ReadsQueued(-1)
		if len(out) == b.max {
			break
		}
	}
	b.pending = b.pending[n:]
	return out
}

// requeue puts reads back at the head of the queue after a failed request.
func (b *batcher) requeue(rs []*read, err error) {
	if len(rs) == 0 {
		return
	}
	b.mu.Lock()
	for _, r := range rs {
		r.lastErr = err
	}
	b.pending = append(append(make([]*read, 0, len(rs)+len(b.pending)), rs...), b.pending...)
	b.m.ReadsQueued(len(rs))
	b.mu.Unlock()
	b.m.ReadsRetried(len(rs))
}

// flush sends requests while reads wait; at most `flushers` run at once.
func (b *batcher) flush() {
	for {
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		wait := b.notVia.Sub(b.clock.Now())
		b.mu.Unlock()
		if wait > 0 {
			<-b.clock.After(wait)
		}
		b.round()
	}
}

// round sends one request: slot, token, then the reads waiting by then.
func (b *batcher) round() {
	var batch []*read
	var retry []*read
	ctx := context.Background()
	err := b.eps.doOn(ctx, func(ep *Endpoint, r RPC) error {
		release, err := ep.slots.take(ctx)
		if err != nil {
			return err
		}
		defer release()
		if err := ep.gate.token(ctx, true); err != nil {
			return err
		}
		if batch == nil {
			if batch = b.take(); len(batch) == 0 {
				return nil
			}
		}
		tk := &ticket{urgent: true, slot: true}
		// The first request (the batch, or the first of single calls) is paid for.
		tk.token.Store(true)
		// Contexts' deadlines are wall-clock times, whatever b.clock is.
		deadline := time.Now().Add(b.timeout)
		var latest time.Time
		for _, rd := range batch {
			if d, ok := rd.ctx.Deadline(); ok && d.After(latest) {
				latest = d
			}
		}
		if !latest.IsZero() && latest.Before(deadline) {
			deadline = latest
		}
		cctx, cancel := context.WithDeadline(withTicket(ctx, tk), deadline)
		defer cancel()
		b.m.ReadBatch(len(batch))
		b.m.ReadsInFlight(len(batch))
		defer b.m.ReadsInFlight(-len(batch))
		retry, err = b.send(cctx, r, batch, !ep.gated())
		return err
	})
	b.mu.Lock()
	if err != nil {
		b.fails++
		b.notVia = b.clock.Now().Add(backoff(b.fails-1, readBackoff, maxReadBackoff))
	} else {
		b.fails = 0
	}
	b.mu.Unlock()
	if err != nil {
		b.requeue(batch, err)
		return
	}
	b.requeue(retry, errors.New("the endpoint did not answer this call of the batch"))
}

// send carries batch in one request: a JSON-RPC batch when the client has
// one (ethclient over rpc), else one call after another (each taking its
// own token, see gatedRPC). It answers the
// reads it can and returns those to try again; an error means the request
// itself failed and no read was answered.
func (b *batcher) send(ctx context.Context, r RPC, batch []*read, countInFlight bool) ([]*read, error) {
	var client *rpc.Client
	if rc, ok := r.(interface{ Client() *rpc.Client }); ok {
		client = rc.Client()
	}
	if client == nil {
		for i, rd := range batch {
			out, err := r.CallContract(ctx, ethereum.CallMsg{From: b.from, To: &b.to, Data: rd.data}, nil)
			if err != nil && unreachable(err) {
				if i == 0 {
					return nil, err
				}
				return batch[i:], nil
			}
			rd.done <- readResult{out, err}
		}
		return nil, nil
	}
	elems := make([]rpc.BatchElem, len(batch))
	outs := make([]hexutil.Bytes, len(batch))
	for i, rd := range batch {
		arg := map[string]any{"from": b.from, "to": b.to, "input": hexutil.Bytes(rd.data)}
		elems[i] = rpc.BatchElem{Method: "eth_call", Args: []any{arg, "latest"}, Result: &outs[i]}
	}
	if countInFlight { // no transport of ours counts it
		b.m.RequestsInFlight(1)
		defer b.m.RequestsInFlight(-1)
	}
	if err := client.BatchCallContext(ctx, elems); err != nil {
		return nil, err
	}
	var retry []*read
	for i, rd := range batch {
		if err := elems[i].Error; err != nil && retryable(err) {
			retry = append(retry, rd)
			continue
		}
		rd.done <- readResult{outs[i], elems[i].Error}
	}
	return retry, nil
}

// retryable tells an element's error that another try may cure (a missing
// answer, a provider's rate limit inside a batch) from the node's answer.
func retryable(err error) bool {
	var rpcErr rpc.Error
	if !errors.As(err, &rpcErr) {
		return true
	}
	if rpcErr.ErrorCode() == -32005 { // "limit exceeded" (EIP-1474)
		return true
	}
	msg := strings.ToLower(rpcErr.Error())
	return strings.Contains(msg, "rate limit") || strings.Contains(msg, "too many")
}
