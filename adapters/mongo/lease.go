package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// ClaimLease implements ports.LeaseStore with a unique insert into the
// claims collection (atomic on the embedded engine too); PruneOutbox
// removes old leases with the claims.
func (s *Store) ClaimLease(ctx context.Context, name string, epoch int64, owner string) (bool, error) {
	id := fmt.Sprintf("lease|%s|%d", name, epoch)
	_, err := s.claims.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "owner", Value: owner}, {Key: "at", Value: time.Now()}})
	if err == nil {
		return true, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return false, fmt.Errorf("mongo: claim lease %s: %w", id, err)
	}
	var held struct {
		Owner string `bson:"owner"`
	}
	if err := s.claims.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&held); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, nil
		}
		return false, fmt.Errorf("mongo: read lease %s: %w", id, err)
	}
	return held.Owner == owner, nil
}
