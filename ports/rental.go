package ports

import (
	"context"
	"time"

	"ddn/domain"
)

// RentRegistry reads the Rent contract (Chain.RentContract); an error means
// the contract could not be read.
type RentRegistry interface {
	// IsRented calls isRented(machineId).
	IsRented(ctx context.Context, machineID string) (bool, error)
}

// FreeRental is the FreeRental contract (Chain.FreeRentalContract).
type FreeRental interface {
	// FreeRentalRegistered tells whether machines(machineId).registered.
	FreeRentalRegistered(ctx context.Context, machineID string) (bool, error)
	// FreeRentalRented calls machineIsRented(machineId).
	FreeRentalRented(ctx context.Context, machineID string) (bool, error)
	// NotifyFreeRental sends notify(tp, machineId) and answers the hash of
	// the mined, successful transaction.
	NotifyFreeRental(ctx context.Context, tp domain.ReportType, machineID string) (string, error)
}

// TxReporter sends report(tp, project, stakingType, machineId) on the
// report contract and answers the hash of the mined, successful transaction.
type TxReporter interface {
	ReportTx(ctx context.Context, tp domain.ReportType, key domain.MachineKey, st domain.StakingType) (string, error)
}

// OfflineGuard asks the operator's backend whether a machine ddn found
// offline is in fact online (the webhook with check_only): true means the
// offline is false and no penalty may be sent.
type OfflineGuard interface {
	FalseOffline(ctx context.Context, key domain.MachineKey) (bool, error)
}

// TxDeliverer is a Deliverer whose delivery may send a transaction; the
// outbox hands its hash to the targets that follow it (Event.ReportTxHash).
type TxDeliverer interface {
	DeliverTx(ctx context.Context, e domain.Event) (string, error)
}

// Scheduler records a side effect due later (the outbox).
type Scheduler interface {
	// Schedule records e, due at `at`; recording the same event twice
	// fails with domain.ErrDuplicate.
	Schedule(ctx context.Context, e domain.Event, at time.Time) error
}
