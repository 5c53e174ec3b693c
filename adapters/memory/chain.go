package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"ddn/domain"
	"ddn/ports"
)

// ChainCall is one transaction the fake chain received.
type ChainCall struct {
	Method      string
	Type        domain.ReportType
	Key         domain.MachineKey
	StakingType domain.StakingType
	MachineID   string
	Info        *domain.ChainMachineInfo
	Bandwidth   *domain.ChainBandwidthInfo
}

type chainKey struct {
	machineID, project string
	staking            domain.StakingType
}

// Chain is the in-memory fake of ports.Chain: it keeps registered/online
// state as the report contract does (keyed by machine id, project and
// staking type) and records every call; safe for concurrent use.
type Chain struct {
	mu       sync.Mutex
	state    map[chainKey]domain.ChainState
	calls    []ChainCall
	failWith error
}

var _ ports.Chain = (*Chain)(nil)

// NewChain returns a chain on which no machine is registered.
func NewChain() *Chain { return &Chain{state: map[chainKey]domain.ChainState{}} }

// FailWith makes every later call fail with err (nil heals it): an unreachable chain.
func (c *Chain) FailWith(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failWith = err
}

// Calls returns a copy of every transaction received, in order.
func (c *Chain) Calls() []ChainCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

func keyOf(key domain.MachineKey, st domain.StakingType) chainKey {
	return chainKey{machineID: key.MachineID, project: key.Project, staking: st}
}

// MachineState implements ports.ChainRegistry.
func (c *Chain) MachineState(_ context.Context, key domain.MachineKey, st domain.StakingType) (domain.ChainState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failWith != nil {
		return domain.ChainState{}, c.failWith
	}
	return c.state[keyOf(key, st)], nil
}

var _ ports.TxReporter = (*Chain)(nil)

// Report implements ports.ChainReporter with the test contract's rules.
func (c *Chain) Report(ctx context.Context, tp domain.ReportType, key domain.MachineKey, st domain.StakingType) error {
	_, err := c.ReportTx(ctx, tp, key, st)
	return err
}

// ReportTx implements ports.TxReporter: the hash names the call's place
// in Calls ("0x" and its index from 1, zero-padded to 64 digits).
func (c *Chain) ReportTx(_ context.Context, tp domain.ReportType, key domain.MachineKey, st domain.StakingType) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failWith != nil {
		return "", c.failWith
	}
	k := keyOf(key, st)
	s := c.state[k]
	switch tp {
	case domain.ReportContractRegister, domain.ReportMachineRegister:
		s.Registered = true
	case domain.ReportMachineUnregister:
		s = domain.ChainState{}
	case domain.ReportMachineOnline:
		s.Online = true
	case domain.ReportMachineOffline:
		s.Online = false
	}
	c.state[k] = s
	c.calls = append(c.calls, ChainCall{Method: "report", Type: tp, Key: key, StakingType: st, MachineID: key.MachineID})
	return fakeTxHash(len(c.calls)), nil
}

// fakeTxHash is the hash the fakes answer for their n-th transaction.
func fakeTxHash(n int) string { return fmt.Sprintf("0x%064x", n) }

// SetMachineInfo implements ports.ChainReporter.
func (c *Chain) SetMachineInfo(_ context.Context, machineID string, info domain.ChainMachineInfo) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failWith != nil {
		return c.failWith
	}
	c.calls = append(c.calls, ChainCall{Method: "setMachineInfo", MachineID: machineID, Info: &info})
	return nil
}

// SetBandwidthInfo implements ports.ChainReporter.
func (c *Chain) SetBandwidthInfo(_ context.Context, machineID string, info domain.ChainBandwidthInfo) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failWith != nil {
		return c.failWith
	}
	c.calls = append(c.calls, ChainCall{Method: "setBandWidthInfos", MachineID: machineID, Bandwidth: &info})
	return nil
}
