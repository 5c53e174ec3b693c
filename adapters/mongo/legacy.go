package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"ddn/domain"
)

// noState selects machine_info documents without a presence state: the
// original node's (it kept none).
var noState = bson.E{Key: "state", Value: bson.D{{Key: "$exists", Value: false}}}

// ListUnclassified implements ports.LegacyStore.
func (s *Store) ListUnclassified(ctx context.Context, limit int) ([]domain.Machine, error) {
	opts := options.Find().SetSort(keySort(""))
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	var docs []machineDoc
	if err := s.findAll(ctx, s.machines, bson.D{noState}, opts, &docs); err != nil {
		return nil, fmt.Errorf("mongo: list machines without a state: %w", err)
	}
	out := make([]domain.Machine, len(docs))
	for i, d := range docs {
		out[i] = d.domain()
	}
	return out, nil
}

// ClassifyMachines implements ports.LegacyStore: one bulk of conditional
// updates (by key, only while the document has no state).
func (s *Store) ClassifyMachines(ctx context.Context, ps []domain.LegacyPresence) (int, error) {
	if len(ps) == 0 {
		return 0, nil
	}
	models := make([]mongo.WriteModel, 0, len(ps))
	for _, p := range ps {
		set := bson.D{{Key: "state", Value: string(p.State)}}
		switch p.State {
		case domain.StateDisconnected:
			set = append(set, bson.E{Key: "last_disconnect_time", Value: p.Since})
		case domain.StateOnline:
			set = append(set, bson.E{Key: "node_id", Value: p.NodeID})
		}
		models = append(models, mongo.NewUpdateOneModel().SetFilter(append(keyFilter(p.Key), noState)).
			SetUpdate(bson.D{{Key: "$set", Value: set}}))
	}
	res, err := s.machines.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	if err != nil {
		return 0, fmt.Errorf("mongo: classify %d machines without a state: %w", len(ps), err)
	}
	return int(res.ModifiedCount), nil
}
