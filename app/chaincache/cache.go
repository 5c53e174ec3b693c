// Package chaincache remembers what the report contract said of machines,
// so that a machine that reconnects (a node restart, a load balancer
// moving agents) goes online without asking the chain again.
//
// Only "registered" answers are remembered, each for the TTL from the
// moment the chain gave it; "not registered" is asked again every time, so
// a machine registered on chain a second ago is let in. An unregister
// through the API or sent to the chain by this node forgets the machine at
// once; every fresh read (the outbox's deliveries read the chain before
// each report) replaces what is remembered.
package chaincache

import (
	"context"
	"sync"
	"time"

	"ddn/domain"
	"ddn/ports"
)

// DefaultTTL is how long a registration is trusted: registrations change
// on the operator's time scale (days), and a machine unregistered outside
// ddn is let in for at most this long.
const DefaultTTL = 10 * time.Minute

type key struct {
	machineID, project string
	staking            domain.StakingType
}

func keyOf(k domain.MachineKey, st domain.StakingType) key {
	return key{machineID: k.MachineID, project: k.Project, staking: st}
}

type entry struct {
	state domain.ChainState
	at    time.Time // when the chain said so
}

// Cache is a ports.ChainRegistry that answers from memory what the chain
// said within the TTL; safe for concurrent use.
type Cache struct {
	chain ports.Chain
	ttl   time.Duration
	clock ports.Clock
	// OnLookup observes each online's lookup: hit or not (metrics).
	OnLookup func(hit bool)

	mu      sync.Mutex
	entries map[key]entry
	swept   time.Time
}

var _ ports.ChainRegistry = (*Cache)(nil)

// New remembers chain's answers for ttl (DefaultTTL when not positive).
func New(chain ports.Chain, ttl time.Duration, clock ports.Clock) *Cache {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Cache{chain: chain, ttl: ttl, clock: clock, entries: map[key]entry{}}
}

// TTL is how long an answer is trusted.
func (c *Cache) TTL() time.Duration { return c.ttl }

// MachineState implements ports.ChainRegistry: a registration the chain
// confirmed within the TTL, else a read of the chain (remembered).
func (c *Cache) MachineState(ctx context.Context, k domain.MachineKey, st domain.StakingType) (domain.ChainState, error) {
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.entries[keyOf(k, st)]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl && e.state.Registered {
		if c.OnLookup != nil {
			c.OnLookup(true)
		}
		return e.state, nil
	}
	if c.OnLookup != nil {
		c.OnLookup(false)
	}
	return c.read(ctx, k, st)
}

// read asks the chain and remembers the answer.
func (c *Cache) read(ctx context.Context, k domain.MachineKey, st domain.StakingType) (domain.ChainState, error) {
	s, err := c.chain.MachineState(ctx, k, st)
	if err != nil {
		return s, err
	}
	c.Remember(k, st, s, c.clock.Now())
	return s, nil
}

// Remember records what the chain said of a machine at `at`; a "not
// registered" answer forgets it.
func (c *Cache) Remember(k domain.MachineKey, st domain.StakingType, s domain.ChainState, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !s.Registered {
		delete(c.entries, keyOf(k, st))
		return
	}
	if old, ok := c.entries[keyOf(k, st)]; ok && old.at.After(at) {
		return
	}
	c.entries[keyOf(k, st)] = entry{state: s, at: at}
	c.sweepLocked(at)
}

// sweepLocked drops expired entries once per TTL, so the map holds only
// machines seen within about two TTLs.
func (c *Cache) sweepLocked(now time.Time) {
	if now.Sub(c.swept) < c.ttl {
		return
	}
	c.swept = now
	for k, e := range c.entries {
		if now.Sub(e.at) >= c.ttl {
			delete(c.entries, k)
		}
	}
}

// Forget drops what is remembered of a machine under every staking type
// (an unregister: the next online asks the chain).
func (c *Cache) Forget(k domain.MachineKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for st := domain.StakingShortTerm; st <= domain.StakingFree; st++ {
		delete(c.entries, keyOf(k, st))
	}
}

// Len is the number of machines remembered.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Fresh is the chain for the outbox's deliveries: its reads always go to
// the chain (a delivery must see the chain as it is) and replace what is
// remembered; its reports update what is remembered when they succeed.
func (c *Cache) Fresh() ports.Chain { return fresh{c} }

type fresh struct{ c *Cache }

func (f fresh) MachineState(ctx context.Context, k domain.MachineKey, st domain.StakingType) (domain.ChainState, error) {
	return f.c.read(ctx, k, st)
}

func (f fresh) Report(ctx context.Context, tp domain.ReportType, k domain.MachineKey, st domain.StakingType) error {
	_, err := f.ReportTx(ctx, tp, k, st)
	return err
}

// ReportTx implements ports.TxReporter: the hash is the chain's when it
// answers one (a ports.TxReporter), else empty.
func (f fresh) ReportTx(ctx context.Context, tp domain.ReportType, k domain.MachineKey, st domain.StakingType) (string, error) {
	var hash string
	var err error
	if tx, ok := f.c.chain.(ports.TxReporter); ok {
		hash, err = tx.ReportTx(ctx, tp, k, st)
	} else {
		err = f.c.chain.Report(ctx, tp, k, st)
	}
	if err != nil {
		return "", err
	}
	now := f.c.clock.Now()
	f.c.mu.Lock()
	e, ok := f.c.entries[keyOf(k, st)]
	f.c.mu.Unlock()
	switch tp {
	case domain.ReportMachineUnregister:
		f.c.Forget(k)
	case domain.ReportMachineOnline, domain.ReportMachineOffline:
		if ok { // the registration keeps its age; the online bit is what we just sent
			e.state.Online = tp == domain.ReportMachineOnline
			f.c.Remember(k, st, e.state, e.at)
		}
	case domain.ReportContractRegister, domain.ReportMachineRegister:
		f.c.Remember(k, st, domain.ChainState{Registered: true, Online: ok && e.state.Online}, now)
	}
	return hash, nil
}

func (f fresh) SetMachineInfo(ctx context.Context, machineID string, info domain.ChainMachineInfo) error {
	return f.c.chain.SetMachineInfo(ctx, machineID, info)
}

func (f fresh) SetBandwidthInfo(ctx context.Context, machineID string, info domain.ChainBandwidthInfo) error {
	return f.c.chain.SetBandwidthInfo(ctx, machineID, info)
}

// Warm remembers, at startup, the machines this cluster let in within the
// TTL: a machine online or disconnected whose last online is that recent
// was found registered then (by a read or by this cache), and its online
// was reported to the chain. So a node restart, whose agents all come back
// at once, asks the chain only for machines not seen within the TTL. An
// unregister through the API removes the machine's record, so it is not
// warmed. It returns how many machines it remembered.
func (c *Cache) Warm(ctx context.Context, machines ports.MachineStore) (int, error) {
	now := c.clock.Now()
	n := 0
	var after *domain.MachineKey
	for {
		page, err := machines.ListMachines(ctx, domain.MachineFilter{Limit: 1000, After: after})
		if err != nil {
			return n, err
		}
		for _, m := range page {
			if m.State != domain.StateOnline && m.State != domain.StateDisconnected {
				continue
			}
			if m.LastOnlineTime.IsZero() || now.Sub(m.LastOnlineTime) >= c.ttl || m.LastOnlineTime.After(now) {
				continue
			}
			c.Remember(m.Key, m.StakingType, domain.ChainState{Registered: true, Online: true}, m.LastOnlineTime)
			n++
		}
		if len(page) < 1000 {
			return n, nil
		}
		last := page[len(page)-1].Key
		after = &last
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
	}
}
