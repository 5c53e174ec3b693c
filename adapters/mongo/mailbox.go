package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"ddn/domain"
)

// commandDoc is a node_commands document.
type commandDoc struct {
	ID        string    `bson:"_id"`
	NodeID    string    `bson:"node_id"`
	Kind      string    `bson:"kind"`
	Machine   keyDoc    `bson:"machine"`
	ConnID    string    `bson:"conn_id,omitempty"`
	Body      []byte    `bson:"body,omitempty"`
	Reason    string    `bson:"reason,omitempty"`
	CreatedAt time.Time `bson:"created_at"`
}

// SendCommand implements ports.MailboxStore.
func (s *Store) SendCommand(ctx context.Context, c domain.Command) error {
	if c.ID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		c.ID = hex.EncodeToString(b[:])
	}
	d := commandDoc{ID: c.ID, NodeID: c.NodeID, Kind: string(c.Kind), Machine: keyOf(c.Key), ConnID: c.ConnID, Body: c.Body,
		Reason: c.Reason, CreatedAt: c.CreatedAt}
	if _, err := s.commands.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("mongo: send %s command for %s to node %s: %w", c.Kind, c.Key, c.NodeID, err)
	}
	return nil
}

// TakeCommands implements ports.MailboxStore: each command is deleted by id,
// and only a command this call deleted is returned, so none runs twice.
func (s *Store) TakeCommands(ctx context.Context, nodeID string) ([]domain.Command, error) {
	var docs []commandDoc
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}}).SetLimit(1000)
	if err := s.findAll(ctx, s.commands, bson.D{{Key: "node_id", Value: nodeID}}, opts, &docs); err != nil {
		return nil, fmt.Errorf("mongo: read commands of node %s: %w", nodeID, err)
	}
	out := make([]domain.Command, 0, len(docs))
	for _, d := range docs {
		res, err := s.commands.DeleteOne(ctx, bson.D{{Key: "_id", Value: d.ID}})
		if err != nil {
			return out, fmt.Errorf("mongo: take command %s: %w", d.ID, err)
		}
		if res.DeletedCount == 1 {
			out = append(out, domain.Command{ID: d.ID, NodeID: d.NodeID, Kind: domain.CommandKind(d.Kind), Key: d.Machine.domain(),
				ConnID: d.ConnID, Body: d.Body, Reason: d.Reason, CreatedAt: utc(d.CreatedAt)})
		}
	}
	return out, nil
}

// PruneCommands implements ports.MailboxStore.
func (s *Store) PruneCommands(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.commands.DeleteMany(ctx, bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: before}}}})
	if err != nil {
		return 0, fmt.Errorf("mongo: prune node commands before %s: %w", before.Format(time.RFC3339), err)
	}
	return res.DeletedCount, nil
}
