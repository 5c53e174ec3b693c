package ports

import (
	"context"
	"time"

	"ddn/domain"
)

// MachineCount is one cell of the fleet's census, so /api/v0/stats needs no
// scan of machine_info in the node.
type MachineCount struct {
	Project string
	State   domain.State
	Count   int64
}

// MachineDeletion says what forgetting a machine removed, so the operator
// sees whether it existed and whether it was still claimed by a connection.
type MachineDeletion struct {
	Found      bool
	Reports    int64
	Connection bool
}

// QueryStore serves the query and management API: counts, forgetting a
// machine, and the export/import of machines and reports (backup).
type QueryStore interface {
	// CountMachines counts machines by project and state, ordered by project then state.
	CountMachines(ctx context.Context) ([]MachineCount, error)
	// CountReports counts reports with timestamp >= since.
	CountReports(ctx context.Context, since time.Time) (int64, error)
	// DeleteMachine removes the machine's machine_info document, its reports
	// and its connection claim, if any.
	DeleteMachine(ctx context.Context, key domain.MachineKey) (MachineDeletion, error)
	// PutMachine writes a whole machine record, replacing the one with its key
	// (import: upsert by key).
	PutMachine(ctx context.Context, m domain.Machine) error
	// ImportReports stores the reports that are not stored yet, a report being
	// identified by its machine and timestamp (to the millisecond), and says
	// how many it inserted; importing the same reports twice inserts nothing.
	ImportReports(ctx context.Context, rs []domain.Report) (int64, error)
	// ScanReports calls fn for every report with from <= timestamp < to (zero:
	// open ends), in no particular order, without holding them all in memory;
	// an error from fn stops the scan and is returned.
	ScanReports(ctx context.Context, from, to time.Time, fn func(domain.Report) error) error
}
