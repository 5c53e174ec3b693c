package ports

import (
	"context"
	"time"

	"ddn/domain"
)

// QueryStore serves the query and management API: counts, forgetting a
// machine, and the export/import of machines and reports (backup).
type QueryStore interface {
	// CountMachines counts machines by project and state, ordered by project then state.
	CountMachines(ctx context.Context) ([]domain.MachineCount, error)
	// CountReports counts reports with timestamp >= since.
	CountReports(ctx context.Context, since time.Time) (int64, error)
	// DeleteMachine removes the machine's machine_info document, its reports
	// and its connection claim, if any.
	DeleteMachine(ctx context.Context, key domain.MachineKey) (domain.MachineDeletion, error)
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
