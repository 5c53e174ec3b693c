package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"ddn/domain"
)

// outboxDoc is an outbox document: the event it delivers, its targets and
// its retry state.
type outboxDoc struct {
	ID            string        `bson:"_id"`
	Kind          string        `bson:"kind"`
	Machine       keyDoc        `bson:"machine"`
	StakingType   int64         `bson:"staking_type"`
	NodeID        string        `bson:"node_id,omitempty"`
	At            time.Time     `bson:"at"`
	Previous      string        `bson:"previous,omitempty"`
	ShortTerm     *shortTermDoc `bson:"deeplink_st,omitempty"`
	Bandwidth     *bandwidthDoc `bson:"deeplink_bw,omitempty"`
	Targets       []string      `bson:"targets"`
	Delivered     []string      `bson:"delivered"`
	Skipped       []string      `bson:"skipped,omitempty"`
	GaveUp        []string      `bson:"gave_up,omitempty"`
	ReportTxHash  string        `bson:"report_tx_hash,omitempty"`
	Status        string        `bson:"status"`
	Attempts      int           `bson:"attempts"`
	CreatedAt     time.Time     `bson:"created_at"`
	NextAttemptAt time.Time     `bson:"next_attempt_at"`
	DoneAt        time.Time     `bson:"done_at,omitempty"`
	LastError     string        `bson:"last_error,omitempty"`
}

func outboxDocOf(e domain.OutboxEntry) outboxDoc {
	d := outboxDoc{ID: e.ID, Kind: string(e.Event.Kind), Machine: keyOf(e.Event.Key), StakingType: int64(e.Event.StakingType),
		NodeID: e.Event.NodeID, At: e.Event.At, Previous: string(e.Event.Previous), Targets: e.Targets, Delivered: e.Delivered, Skipped: e.Skipped,
		GaveUp: e.GaveUp, ReportTxHash: e.Event.ReportTxHash, Status: string(e.Status), Attempts: e.Attempts, CreatedAt: e.CreatedAt, NextAttemptAt: e.NextAttemptAt,
		DoneAt: e.DoneAt, LastError: e.LastError}
	if d.Delivered == nil {
		d.Delivered = []string{}
	}
	if e.Event.ShortTerm != nil {
		d.ShortTerm = shortTermOf(*e.Event.ShortTerm)
	}
	if e.Event.Bandwidth != nil {
		d.Bandwidth = bandwidthOf(*e.Event.Bandwidth)
	}
	return d
}

func (d outboxDoc) domain() domain.OutboxEntry {
	return domain.OutboxEntry{ID: d.ID,
		Event: domain.Event{Kind: domain.EventKind(d.Kind), Key: d.Machine.domain(), StakingType: domain.StakingType(d.StakingType),
			NodeID: d.NodeID, At: utc(d.At), Previous: domain.State(d.Previous), ShortTerm: d.ShortTerm.domain(), Bandwidth: d.Bandwidth.domain(),
			ReportTxHash: d.ReportTxHash},
		Targets: d.Targets, Delivered: d.Delivered, Skipped: d.Skipped, GaveUp: d.GaveUp, Status: domain.OutboxStatus(d.Status), Attempts: d.Attempts,
		CreatedAt: utc(d.CreatedAt), NextAttemptAt: utc(d.NextAttemptAt), DoneAt: utc(d.DoneAt), LastError: d.LastError}
}

// InsertOutbox implements ports.OutboxStore.
func (s *Store) InsertOutbox(ctx context.Context, e domain.OutboxEntry) error {
	_, err := s.outbox.InsertOne(ctx, outboxDocOf(e))
	if mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongo: outbox entry %s: %w", e.ID, domain.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("mongo: insert outbox entry %s: %w", e.ID, err)
	}
	return nil
}

// GetOutbox implements ports.OutboxStore.
func (s *Store) GetOutbox(ctx context.Context, id string) (domain.OutboxEntry, error) {
	var d outboxDoc
	if err := s.outbox.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return domain.OutboxEntry{}, notFound(err, "outbox entry", id)
	}
	return d.domain(), nil
}

// UpdateOutbox implements ports.OutboxStore.
func (s *Store) UpdateOutbox(ctx context.Context, e domain.OutboxEntry) error {
	res, err := s.outbox.ReplaceOne(ctx, bson.D{{Key: "_id", Value: e.ID}}, outboxDocOf(e))
	if err != nil {
		return fmt.Errorf("mongo: update outbox entry %s: %w", e.ID, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("mongo: outbox entry %s: %w", e.ID, domain.ErrNotFound)
	}
	return nil
}

// ListOutbox implements ports.OutboxStore.
func (s *Store) ListOutbox(ctx context.Context, f domain.OutboxFilter) ([]domain.OutboxEntry, error) {
	filter := bson.D{}
	if f.Status != "" {
		filter = bson.D{{Key: "status", Value: string(f.Status)}}
	}
	return s.listOutbox(ctx, filter, f.Limit)
}

// DueOutbox implements ports.OutboxStore.
func (s *Store) DueOutbox(ctx context.Context, now time.Time, limit int) ([]domain.OutboxEntry, error) {
	return s.listOutbox(ctx, bson.D{{Key: "status", Value: string(domain.OutboxReady)},
		{Key: "next_attempt_at", Value: bson.D{{Key: "$lte", Value: now}}}}, limit)
}

func (s *Store) listOutbox(ctx context.Context, filter bson.D, limit int) ([]domain.OutboxEntry, error) {
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	var docs []outboxDoc
	if err := s.findAll(ctx, s.outbox, filter, opts, &docs); err != nil {
		return nil, fmt.Errorf("mongo: list outbox: %w", err)
	}
	out := make([]domain.OutboxEntry, len(docs))
	for i, d := range docs {
		out[i] = d.domain()
	}
	return out, nil
}

// ClaimOutbox implements ports.OutboxStore with a unique insert, which the
// embedded engine makes atomic where it does not make updates so.
func (s *Store) ClaimOutbox(ctx context.Context, id string, attempt int, round int64, owner string) (bool, error) {
	claim := fmt.Sprintf("%s|%d|%d", id, attempt, round)
	_, err := s.claims.InsertOne(ctx, bson.D{{Key: "_id", Value: claim}, {Key: "owner", Value: owner}, {Key: "at", Value: time.Now()}})
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mongo: claim outbox entry %s: %w", id, err)
	}
	return true, nil
}

// CountOutbox implements ports.OutboxStore.
func (s *Store) CountOutbox(ctx context.Context) (map[domain.OutboxStatus]int64, error) {
	out := map[domain.OutboxStatus]int64{}
	for _, st := range []domain.OutboxStatus{domain.OutboxPending, domain.OutboxReady, domain.OutboxDone, domain.OutboxDead, domain.OutboxCancelled} {
		n, err := s.outbox.CountDocuments(ctx, bson.D{{Key: "status", Value: string(st)}})
		if err != nil {
			return nil, fmt.Errorf("mongo: count outbox: %w", err)
		}
		if n > 0 {
			out[st] = n
		}
	}
	return out, nil
}

// PruneOutbox implements ports.OutboxStore.
func (s *Store) PruneOutbox(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.outbox.DeleteMany(ctx, bson.D{
		{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{string(domain.OutboxDone), string(domain.OutboxCancelled)}}}},
		{Key: "done_at", Value: bson.D{{Key: "$lt", Value: before}}}})
	if err != nil {
		return 0, fmt.Errorf("mongo: prune outbox before %s: %w", before.Format(time.RFC3339), err)
	}
	if _, err := s.claims.DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: before}}}}); err != nil {
		return res.DeletedCount, fmt.Errorf("mongo: prune outbox claims before %s: %w", before.Format(time.RFC3339), err)
	}
	return res.DeletedCount, nil
}
