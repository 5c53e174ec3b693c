package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"ddn/domain"
)

// ErrLeaseHeld means another node of the cluster is the sender from this
// key right now; it matches domain.ErrNotNow, so the outbox retries soon
// without counting an attempt.
var ErrLeaseHeld = fmt.Errorf("another node holds the chain sender lease: %w", domain.ErrNotNow)

// sender signs and submits transactions from one key of the pool, one
// transaction at a time (the pool hands a key to one delivery until its
// receipt came or it failed). Nonces are assigned locally under a mutex;
// the local nonce is resynchronised from the chain at start, after a lease
// gap, and on "nonce too low", "replacement underpriced" or a receipt
// timeout.
type sender struct {
	c    *Chain
	key  *ecdsa.PrivateKey
	from common.Address

	// inUse is the pool's (under pool.mu): a delivery has this key.
	inUse bool

	mu sync.Mutex
	// elsewhere-1 is the last slice another node was found holding.
	elsewhere int64
	synced    bool
	why       string // why the nonce must be read again
	nonce     uint64
	heldEpoch int64
	held      bool
}

// resyncErrors are the node's answers that mean the local nonce is wrong.
var resyncErrors = []string{"nonce too low", "replacement transaction underpriced", "nonce too high"}

func needsResync(err error) bool {
	msg := strings.ToLower(err.Error())
	for _, s := range resyncErrors {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func (s *sender) observe(method, result string) {
	if s.c.opts.OnTx != nil {
		s.c.opts.OnTx(method, result)
	}
}

// pool hands each delivery a key of its own, so that transactions from
// several keys are in flight at once, each key with its own nonces, lease
// and resyncs, and one transaction at a time per key: a transaction that
// is dropped or stuck then holds up only itself, and a nonce read again
// after it cannot collide with later ones of the same key.
type pool struct {
	senders []*sender
	mu      sync.Mutex
	next    int
	// freed is closed (and replaced) whenever a key is given back.
	freed chan struct{}
}

func newPool(senders []*sender) *pool {
	return &pool{senders: senders, freed: make(chan struct{})}
}

// acquire returns a key this node holds the sender lease of and no other
// delivery of this node uses, waiting while every key this node could use
// is busy here. Every key's lease held by other nodes is ErrLeaseHeld;
// ctx ending while waiting is domain.ErrNotNow too (not a failed attempt:
// this node is busy, not the chain).
func (p *pool) acquire(ctx context.Context) (*sender, error) {
	for {
		p.mu.Lock()
		freed := p.freed
		var free []*sender
		busy := 0
		for i := range p.senders {
			s := p.senders[(p.next+i)%len(p.senders)]
			if s.inUse {
				busy++
				continue
			}
			free = append(free, s)
		}
		p.next = (p.next + 1) % len(p.senders)
		p.mu.Unlock()
		var held error
		for _, s := range free {
			// The lease first (a key held elsewhere is never marked used,
			// so nobody waits for it), then the key.
			s.mu.Lock()
			err := s.lease(ctx)
			s.mu.Unlock()
			if errors.Is(err, ErrLeaseHeld) {
				held = err
				continue
			}
			if err != nil {
				return nil, err
			}
			if p.take(s) {
				return s, nil
			}
			busy++ // another delivery of this node was quicker
		}
		if busy == 0 {
			if len(p.senders) == 1 {
				return nil, held
			}
			return nil, fmt.Errorf("every one of the %d chain keys: %w", len(p.senders), ErrLeaseHeld)
		}
		select {
		case <-freed:
		case <-ctx.Done():
			return nil, fmt.Errorf("every chain key of this node is busy: %w (%w)", domain.ErrNotNow, ctx.Err())
		}
	}
}

// take marks s used by a delivery, unless another one was quicker.
func (p *pool) take(s *sender) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.inUse {
		return false
	}
	s.inUse = true
	return true
}

// give hands s back after a transaction and wakes the deliveries waiting
// for a key.
func (p *pool) give(s *sender) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.inUse = false
	close(p.freed)
	p.freed = make(chan struct{})
}

// send runs one transaction on a key of the pool and answers its hash.
func (p *pool) send(ctx context.Context, method string, to common.Address, data []byte) (string, error) {
	s, err := p.acquire(ctx)
	if err != nil {
		if !errors.Is(err, ErrLeaseHeld) && !errors.Is(err, domain.ErrNotNow) && len(p.senders) > 0 {
			p.senders[0].observe(method, "failed")
		}
		return "", err
	}
	defer p.give(s)
	return s.send(ctx, method, to, data)
}

// send submits a call of method to `to` and waits for its receipt; nil
// means mined and successful, and the hash is the transaction's.
func (s *sender) send(ctx context.Context, method string, to common.Address, data []byte) (string, error) {
	tx, err := s.submit(ctx, method, to, data)
	if err != nil {
		if !errors.Is(err, ErrLeaseHeld) {
			s.observe(method, "failed")
		}
		return "", err
	}
	rcpt, err := s.wait(ctx, tx.Hash())
	if err != nil {
		s.observe(method, "timeout")
		s.mu.Lock()
		s.unsync("receipt timeout") // the transaction may have been dropped
		s.mu.Unlock()
		return "", fmt.Errorf("%s tx %s (nonce %d): %w", method, tx.Hash().Hex(), tx.Nonce(), err)
	}
	if s.c.opts.OnBlock != nil && rcpt.BlockNumber != nil {
		s.c.opts.OnBlock(rcpt.BlockNumber.Uint64())
	}
	if rcpt.Status != types.ReceiptStatusSuccessful {
		s.observe(method, "reverted")
		// Gas used equal to the limit points at Chain.GasLimit being too low.
		return "", fmt.Errorf("%s tx %s reverted in block %v (gas used %d of %d)", method, tx.Hash().Hex(), rcpt.BlockNumber, rcpt.GasUsed, tx.Gas())
	}
	s.observe(method, "ok")
	return tx.Hash().Hex(), nil
}

// lease makes this node the cluster's sender for the current time slice,
// keeping the next slice too when this one ends soon, so that a busy sender
// keeps the key; a slice not held before forces a nonce resync.
func (s *sender) lease(ctx context.Context) error {
	o := s.c.opts
	if o.Leases == nil {
		return nil
	}
	now := o.Clock.Now()
	ttl := int64(o.LeaseTTL)
	epoch := now.UnixNano() / ttl
	name := "chain-sender|" + s.from.Hex()
	if epoch < s.elsewhere {
		return fmt.Errorf("%w (%s)", ErrLeaseHeld, name) // known from this slice's claim
	}
	ok, err := o.Leases.ClaimLease(ctx, name, epoch, o.Owner)
	if err != nil {
		return fmt.Errorf("claim chain sender lease: %w", err)
	}
	if !ok {
		s.held, s.elsewhere = false, epoch+1
		return fmt.Errorf("%w (%s)", ErrLeaseHeld, name)
	}
	// Holding the previous (or an already claimed later) slice means no
	// other node sent in between; otherwise the chain knows better.
	if !s.held || s.heldEpoch < epoch-1 {
		s.unsync("sender lease taken (another node may have sent)")
	}
	s.held, s.heldEpoch = true, max(s.heldEpoch, epoch)
	if now.UnixNano()%ttl > ttl*2/3 {
		if ok, err := o.Leases.ClaimLease(ctx, name, epoch+1, o.Owner); err == nil && ok {
			s.heldEpoch = epoch + 1
		}
	}
	return nil
}

// submit assigns the next nonce, prices and signs the transaction and hands
// it to an endpoint, resyncing the nonce and trying again on a nonce error.
func (s *sender) submit(ctx context.Context, method string, to common.Address, data []byte) (*types.Transaction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lastErr error
	for range 3 {
		if !s.synced {
			if err := s.resync(ctx); err != nil {
				return nil, err
			}
		}
		tx, err := s.build(ctx, to, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		err = s.c.eps.do(ctx, func(r RPC) error {
			cctx, cancel := context.WithTimeout(ctx, s.c.opts.CallTimeout)
			defer cancel()
			return r.SendTransaction(cctx, tx)
		})
		// "already known": an earlier try on a slow endpoint did reach the pool.
		if err == nil || strings.Contains(strings.ToLower(err.Error()), "already known") {
			s.nonce++
			return tx, nil
		}
		if !needsResync(err) {
			return nil, fmt.Errorf("%s: send tx (nonce %d): %w", method, tx.Nonce(), err)
		}
		s.unsync(err.Error())
		lastErr = err
	}
	return nil, fmt.Errorf("%s: nonce still rejected after resync: %w", method, lastErr)
}

// unsync marks the local nonce stale; the first reason is kept.
func (s *sender) unsync(why string) {
	if s.synced {
		s.synced, s.why = false, why
	}
}

// resync reads the account's pending nonce from the chain.
func (s *sender) resync(ctx context.Context) error {
	var n uint64
	err := s.c.eps.do(ctx, func(r RPC) error {
		cctx, cancel := context.WithTimeout(ctx, s.c.opts.CallTimeout)
		defer cancel()
		var err error
		n, err = r.PendingNonceAt(cctx, s.from)
		return err
	})
	if err != nil {
		return fmt.Errorf("read nonce of %s: %w", s.from.Hex(), err)
	}
	why := s.why
	if why == "" {
		why = "start"
	}
	s.nonce, s.synced, s.why = n, true, ""
	if s.c.opts.OnResync != nil {
		s.c.opts.OnResync(s.from.Hex(), why, n)
	}
	return nil
}

// build estimates gas and fees and signs a transaction with the local nonce:
// EIP-1559 when the chain has a base fee, legacy otherwise.
func (s *sender) build(ctx context.Context, to common.Address, data []byte) (*types.Transaction, error) {
	var tx *types.Transaction
	err := s.c.eps.do(ctx, func(r RPC) error {
		cctx, cancel := context.WithTimeout(ctx, s.c.opts.CallTimeout)
		defer cancel()
		gas := s.c.opts.GasLimit
		if gas == 0 {
			est, err := r.EstimateGas(cctx, ethereum.CallMsg{From: s.from, To: &to, Data: data})
			if err != nil {
				return fmt.Errorf("estimate gas: %w", err)
			}
			gas = est + est/5 // headroom: state may change between estimate and mining
		}
		head, err := r.HeaderByNumber(cctx, nil)
		if err != nil {
			return fmt.Errorf("read head: %w", err)
		}
		if head.BaseFee == nil {
			price, err := r.SuggestGasPrice(cctx)
			if err != nil {
				return fmt.Errorf("gas price: %w", err)
			}
			tx = types.NewTx(&types.LegacyTx{Nonce: s.nonce, GasPrice: price, Gas: gas, To: &to, Data: data})
			return nil
		}
		tip, err := r.SuggestGasTipCap(cctx)
		if err != nil {
			return fmt.Errorf("gas tip: %w", err)
		}
		feeCap := new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
		tx = types.NewTx(&types.DynamicFeeTx{ChainID: s.c.chainID, Nonce: s.nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: gas, To: &to, Data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	signed, err := types.SignTx(tx, types.LatestSignerForChainID(s.c.chainID), s.key)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return signed, nil
}

// wait polls for the receipt until it arrives or ReceiptTimeout passes.
func (s *sender) wait(ctx context.Context, hash common.Hash) (*types.Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, s.c.opts.ReceiptTimeout)
	defer cancel()
	tick := time.NewTicker(s.c.opts.ReceiptPoll)
	defer tick.Stop()
	for {
		var rcpt *types.Receipt
		err := s.c.eps.do(ctx, func(r RPC) error {
			cctx, cancel := context.WithTimeout(ctx, s.c.opts.CallTimeout)
			defer cancel()
			var err error
			rcpt, err = r.TransactionReceipt(cctx, hash)
			return err
		})
		if err == nil {
			return rcpt, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no receipt within %s: %w (last: %v)", s.c.opts.ReceiptTimeout, ctx.Err(), err)
		case <-tick.C:
		}
	}
}
