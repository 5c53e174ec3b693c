package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"ddn/domain"
)

// AppendReports implements ports.ReportStore with one unordered insert.
func (s *Store) AppendReports(ctx context.Context, rs []domain.Report) error {
	if len(rs) == 0 {
		return nil
	}
	docs := make([]any, len(rs))
	for i, r := range rs {
		d := reportDoc{Timestamp: r.Timestamp, Machine: keyOf(r.Key)}
		if r.ShortTerm != nil {
			d.ShortTerm = shortTermOf(*r.ShortTerm)
		}
		if r.Bandwidth != nil {
			d.Bandwidth = bandwidthOf(*r.Bandwidth)
		}
		docs[i] = d
	}
	if _, err := s.reports.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
		return fmt.Errorf("mongo: insert %d reports: %w", len(rs), err)
	}
	return nil
}

// ListReports implements ports.ReportStore.
func (s *Store) ListReports(ctx context.Context, key domain.MachineKey, from, to time.Time, limit int) ([]domain.Report, error) {
	filter := bson.D{{Key: "machine.machine_id", Value: key.MachineID}, {Key: "machine.project", Value: key.Project},
		{Key: "machine.container_id", Value: key.ContainerID}}
	window := bson.D{}
	if !from.IsZero() {
		window = append(window, bson.E{Key: "$gte", Value: from})
	}
	if !to.IsZero() {
		window = append(window, bson.E{Key: "$lt", Value: to})
	}
	if len(window) > 0 {
		filter = append(filter, bson.E{Key: "timestamp", Value: window})
	}
	opts := options.Find().SetSort(bson.D{{Key: "timestamp", Value: -1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	var docs []reportDoc
	if err := s.findAll(ctx, s.reports, filter, opts, &docs); err != nil {
		return nil, fmt.Errorf("mongo: list reports of %s: %w", key, err)
	}
	out := make([]domain.Report, len(docs))
	for i, d := range docs {
		out[i] = d.domain()
	}
	return out, nil
}

// PruneReports implements ports.ReportStore.
func (s *Store) PruneReports(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.reports.DeleteMany(ctx, bson.D{{Key: "timestamp", Value: bson.D{{Key: "$lt", Value: before}}}})
	if err != nil {
		return 0, fmt.Errorf("mongo: prune reports before %s: %w", before.Format(time.RFC3339), err)
	}
	// Offline transition records only matter while sweepers may still race
	// for them; they age out with the reports.
	if _, err := s.transitions.DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: before}}}}); err != nil {
		return res.DeletedCount, fmt.Errorf("mongo: prune transitions before %s: %w", before.Format(time.RFC3339), err)
	}
	if err := s.prunePresence(ctx, before); err != nil {
		return res.DeletedCount, err
	}
	return res.DeletedCount, nil
}
