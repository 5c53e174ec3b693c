package ports

import (
	"context"

	"ddn/domain"
)

// ChainRegistry reads what the report contract knows of a machine; errors
// mean the chain could not be read (the caller answers code 7).
type ChainRegistry interface {
	MachineState(ctx context.Context, key domain.MachineKey, st domain.StakingType) (domain.ChainState, error)
}

// ChainReporter sends the transactions ddn makes; a nil error means the
// transaction is mined and succeeded, any error means try again later.
type ChainReporter interface {
	// Report calls report(tp, project, stakingType, machineId).
	Report(ctx context.Context, tp domain.ReportType, key domain.MachineKey, st domain.StakingType) error
	// SetMachineInfo calls setMachineInfo(machineId, info).
	SetMachineInfo(ctx context.Context, machineID string, info domain.ChainMachineInfo) error
	// SetBandwidthInfo calls setBandWidthInfos(machineId, info).
	SetBandwidthInfo(ctx context.Context, machineID string, info domain.ChainBandwidthInfo) error
}

// Chain is both sides of one configured chain.
type Chain interface {
	ChainRegistry
	ChainReporter
}
