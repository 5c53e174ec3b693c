// Package transfer is the backup use case: an export of every machine and
// the reports of a window, read page by page, and an idempotent import of
// such an export, stored batch by batch.
package transfer

import (
	"context"
	"fmt"
	"time"

	"ddn/domain"
)

// ExportPage is how many machines an export reads at a time.
const ExportPage = 500

// ImportBatch is how many imported reports are checked and stored at a
// time: the embedded store scans machine_tm once per batch.
const ImportBatch = 5000

// Source is what an export reads.
type Source interface {
	ListMachines(ctx context.Context, f domain.MachineFilter) ([]domain.Machine, error)
	ScanReports(ctx context.Context, from, to time.Time, fn func(domain.Report) error) error
}

// Sink is where an export's items go, in order: every machine, then the
// reports. Flush is called after each page, so a streaming sink can send.
type Sink interface {
	Machine(m domain.Machine) error
	Report(r domain.Report) error
	Flush()
}

// Exported counts what an export wrote.
type Exported struct {
	Machines, Reports int64
}

// Stage names the part of an export that failed.
type Stage string

// Export stages.
const (
	StageMachines Stage = "export machines"
	StageReports  Stage = "export reports"
)

// ExportError is a store failure during an export, with the stage it hit
// and whether anything had been written before it.
type ExportError struct {
	Stage   Stage
	Started bool
	Err     error
}

func (e *ExportError) Error() string { return fmt.Sprintf("%s: %v", e.Stage, e.Err) }

// Unwrap returns the store's error.
func (e *ExportError) Unwrap() error { return e.Err }

// Export writes every machine, then the reports from..to, to sink. A sink
// error (the client went away) ends it and is returned as is; a store error
// is an *ExportError.
func Export(ctx context.Context, src Source, from, to time.Time, sink Sink) (Exported, error) {
	var n Exported
	var after *domain.MachineKey
	for {
		ms, err := src.ListMachines(ctx, domain.MachineFilter{After: after, Limit: ExportPage})
		if err != nil {
			return n, &ExportError{Stage: StageMachines, Started: n.Machines > 0, Err: err}
		}
		for _, m := range ms {
			if err := sink.Machine(m); err != nil {
				return n, err
			}
			n.Machines++
		}
		sink.Flush()
		if len(ms) < ExportPage {
			break
		}
		k := ms[len(ms)-1].Key
		after = &k
	}
	var errSink error
	err := src.ScanReports(ctx, from, to, func(r domain.Report) error {
		if err := sink.Report(r); err != nil {
			errSink = err
			return err
		}
		n.Reports++
		if n.Reports%ExportPage == 0 {
			sink.Flush()
		}
		return nil
	})
	switch {
	case errSink != nil:
		return n, errSink
	case err != nil:
		return n, &ExportError{Stage: StageReports, Started: true, Err: err}
	}
	return n, nil
}

// Target is what an import writes.
type Target interface {
	PutMachine(ctx context.Context, m domain.Machine) error
	ImportReports(ctx context.Context, rs []domain.Report) (int64, error)
}

// Import loads an export's items idempotently: machines are written whole
// by key, reports inserted in batches unless one of the same machine and
// timestamp is stored. Call Finish after the last item.
type Import struct {
	target                   Target
	batch                    []domain.Report
	machines, inserted, seen int64
}

// NewImport starts an import into target.
func NewImport(target Target) *Import { return &Import{target: target} }

// Machine writes one machine; an invalid key is a domain.ErrInvalidParam.
func (im *Import) Machine(ctx context.Context, m domain.Machine) error {
	if err := m.Key.Validate(); err != nil {
		return err
	}
	if err := im.target.PutMachine(ctx, m); err != nil {
		return fmt.Errorf("import machine %s: %w: %w", m.Key, domain.ErrStore, err)
	}
	im.machines++
	return nil
}

// Report queues one report, storing the batch when it is full; a report
// without a valid key, a timestamp and exactly one kind of info is a
// domain.ErrInvalidParam.
func (im *Import) Report(ctx context.Context, r domain.Report) error {
	if err := r.Key.Validate(); err != nil || r.Timestamp.IsZero() || (r.ShortTerm == nil) == (r.Bandwidth == nil) {
		return &domain.TextError{Err: domain.ErrInvalidParam,
			Text: "a report needs machine_id, project, timestamp and one of deeplink_st or deeplink_bw"}
	}
	im.batch = append(im.batch, r)
	im.seen++
	if len(im.batch) >= ImportBatch {
		return im.Finish(ctx)
	}
	return nil
}

// Finish stores the reports still queued.
func (im *Import) Finish(ctx context.Context) error {
	if len(im.batch) == 0 {
		return nil
	}
	n, err := im.target.ImportReports(ctx, im.batch)
	im.inserted += n
	im.batch = im.batch[:0]
	if err != nil {
		return fmt.Errorf("import reports: %w: %w", domain.ErrStore, err)
	}
	return nil
}

// Imported counts what an import did so far.
type Imported struct {
	Machines, ReportsImported, ReportsSkipped int64
}

// Counts says what was stored so far; reports still queued count as
// neither imported nor skipped.
func (im *Import) Counts() Imported {
	return Imported{Machines: im.machines, ReportsImported: im.inserted,
		ReportsSkipped: im.seen - int64(len(im.batch)) - im.inserted}
}
