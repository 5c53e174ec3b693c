package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"sync"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
)

// RPC is the part of a JSON-RPC client the adapter uses; *ethclient.Client
// and the simulated backend's client satisfy it.
type RPC interface {
	ethereum.ContractCaller
	ethereum.GasEstimator
	ethereum.TransactionSender
	PendingNonceAt(ctx context.Context, account common.Address) (uint64, error)
	SuggestGasPrice(ctx context.Context) (*big.Int, error)
	SuggestGasTipCap(ctx context.Context) (*big.Int, error)
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
	TransactionReceipt(ctx context.Context, txHash common.Hash) (*types.Receipt, error)
	BlockNumber(ctx context.Context) (uint64, error)
}

// Endpoint is one RPC endpoint: a URL dialled on first use, or a client given.
type Endpoint struct {
	URL    string
	Client RPC

	mu sync.Mutex
	// gate is the endpoint's request rate and slots the adapter's bound on
	// requests in flight (New sets both); an http(s) URL is dialled with a
	// transport that applies them to every request.
	gate    *gate
	slots   *slots
	metrics Metrics
}

func (e *Endpoint) client(ctx context.Context) (RPC, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.Client != nil {
		return e.Client, nil
	}
	var opts []rpc.ClientOption
	if e.gated() {
		base := http.DefaultTransport.(*http.Transport).Clone()
		base.MaxIdleConnsPerHost = cap(e.slots.ch)
		opts = append(opts, rpc.WithHTTPClient(&http.Client{Transport: &transport{base: base, slots: e.slots, gate: e.gate, m: e.metrics}}))
	}
	rc, err := rpc.DialOptions(ctx, e.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", e.URL, err)
	}
	c := ethclient.NewClient(rc)
	e.Client = c
	return c, nil
}

// gated tells whether the endpoint's own transport applies the discipline
// to every request (an http(s) URL); otherwise callers take slot and token.
func (e *Endpoint) gated() bool {
	u, err := url.Parse(e.URL)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && e.gate != nil
}

// endpoints runs calls on the current endpoint and fails over to the next
// when it cannot be reached; an answer from a node (even an error) is final.
type endpoints struct {
	list []*Endpoint
	mu   sync.Mutex
	cur  int
	// onFailover observes a switch (logs).
	onFailover func(from, to string, err error)
}

func (es *endpoints) current() int {
	es.mu.Lock()
	defer es.mu.Unlock()
	return es.cur
}

// do runs fn on the current endpoint, then on each other one in turn while
// the error says the endpoint is unreachable.
func (es *endpoints) do(ctx context.Context, fn func(RPC) error) error {
	return es.doOn(ctx, func(_ *Endpoint, r RPC) error { return fn(r) })
}

// doOn is do for callers that need the endpoint (its gate) too.
func (es *endpoints) doOn(ctx context.Context, fn func(*Endpoint, RPC) error) error {
	start := es.current()
	var errs []error
	for i := range es.list {
		n := (start + i) % len(es.list)
		ep := es.list[n]
		c, err := ep.client(ctx)
		if err == nil {
			if !ep.gated() && ep.gate != nil {
				c = gatedRPC{RPC: c, ep: ep}
			}
			err = fn(ep, c)
			if err == nil || !unreachable(err) {
				es.mu.Lock()
				if es.cur != n && es.onFailover != nil {
					es.onFailover(es.list[es.cur].name(), ep.name(), errors.Join(errs...))
				}
				es.cur = n
				es.mu.Unlock()
				return err
			}
		}
		errs = append(errs, fmt.Errorf("%s: %w", ep.name(), err))
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("no RPC endpoint answered: %w", errors.Join(errs...))
}

func (e *Endpoint) name() string {
	if e.URL != "" {
		return e.URL
	}
	return "client"
}

// unreachable tells a transport failure (fail over) from an answer of the
// node (a JSON-RPC error, a revert, not found), which another endpoint would
// repeat.
func unreachable(err error) bool {
	var rpcErr rpc.Error
	var httpErr rpc.HTTPError
	switch {
	case errors.As(err, &rpcErr), errors.Is(err, ethereum.NotFound), errors.Is(err, context.Canceled):
		return false
	case errors.As(err, &httpErr):
		return true
	}
	return true
}
