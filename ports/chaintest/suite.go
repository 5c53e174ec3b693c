// Package chaintest is the contract every ports.Chain must honour, run
// against the in-memory fake and against the go-ethereum adapter on a
// simulated chain with the test contract, so the two cannot drift.
package chaintest

import (
	"context"
	"testing"

	"ddn/domain"
	"ddn/ports"
)

// Run runs the contract; open returns a fresh chain for each subtest, on
// which no machine is registered.
func Run(t *testing.T, open func(t *testing.T) ports.Chain) {
	tests := []struct {
		name string
		fn   func(*testing.T, ports.Chain)
	}{
		{"UnknownMachineIsNotRegistered", unknownMachine},
		{"RegisterOnlineOfflineUnregister", lifecycle},
		{"StateIsPerProjectAndStakingType", statePerKey},
		{"MachineInfosAreAccepted", infosAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

var key = domain.MachineKey{MachineID: "m-chain-1", Project: "deeplink", ContainerID: "c-9"}

func state(t *testing.T, c ports.Chain, k domain.MachineKey, st domain.StakingType) domain.ChainState {
	t.Helper()
	s, err := c.MachineState(context.Background(), k, st)
	if err != nil {
		t.Fatalf("MachineState(%s, %d): %v", k, st, err)
	}
	return s
}

func report(t *testing.T, c ports.Chain, tp domain.ReportType, k domain.MachineKey, st domain.StakingType) {
	t.Helper()
	if err := c.Report(context.Background(), tp, k, st); err != nil {
		t.Fatalf("Report(%d, %s): %v", tp, k, err)
	}
}

func unknownMachine(t *testing.T, c ports.Chain) {
	if s := state(t, c, key, domain.StakingShortTerm); s != (domain.ChainState{}) {
		t.Fatalf("state of an unknown machine = %+v, want neither online nor registered", s)
	}
}

func lifecycle(t *testing.T, c ports.Chain) {
	st := domain.StakingShortTerm
	steps := []struct {
		tp   domain.ReportType
		want domain.ChainState
	}{
		{domain.ReportMachineRegister, domain.ChainState{Registered: true}},
		{domain.ReportMachineOnline, domain.ChainState{Registered: true, Online: true}},
		{domain.ReportMachineOffline, domain.ChainState{Registered: true}},
		{domain.ReportMachineOnline, domain.ChainState{Registered: true, Online: true}},
		{domain.ReportMachineUnregister, domain.ChainState{}},
	}
	for _, s := range steps {
		report(t, c, s.tp, key, st)
		if got := state(t, c, key, st); got != s.want {
			t.Fatalf("after report(%d): state = %+v, want %+v", s.tp, got, s.want)
		}
	}
}

func statePerKey(t *testing.T, c ports.Chain) {
	report(t, c, domain.ReportMachineRegister, key, domain.StakingLongTerm)
	if s := state(t, c, key, domain.StakingShortTerm); s.Registered {
		t.Fatal("registered as long-term, read back registered as short-term")
	}
	other := key
	other.Project = "other"
	if s := state(t, c, other, domain.StakingLongTerm); s.Registered {
		t.Fatal("registered in one project, read back registered in another")
	}
	if s := state(t, c, key, domain.StakingLongTerm); !s.Registered {
		t.Fatal("registration not read back")
	}
}

func infosAccepted(t *testing.T, c ports.Chain) {
	ctx := context.Background()
	info := domain.NewChainMachineInfo(key, domain.ShortTermInfo{GPUNames: []string{"NVIDIA GeForce RTX 4090"}, GPUMemoryTotal: []int64{24},
		MemoryTotal: 64, CPUType: "AMD Ryzen 9", CPURate: 4500, Wallet: "0x00000000000000000000000000000000000000aa", CalcPoint: 12.5})
	if err := c.SetMachineInfo(ctx, key.MachineID, info); err != nil {
		t.Fatalf("SetMachineInfo: %v", err)
	}
	bw := domain.NewChainBandwidthInfo(key, domain.BandwidthInfo{CPUCores: 4, MemoryTotal: 8, HDD: 500, Bandwidth: 100,
		Wallet: "0x00000000000000000000000000000000000000bb", Region: "Texas"})
	if err := c.SetBandwidthInfo(ctx, key.MachineID, bw); err != nil {
		t.Fatalf("SetBandwidthInfo: %v", err)
	}
}
