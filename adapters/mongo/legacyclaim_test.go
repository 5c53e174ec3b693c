package mongo_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"ddn/domain"
)

// The original's machine_connection documents have no conn_id (nor
// node_id): a sweeper or a takeover deletes them with the empty
// connection id they are read with.
func TestLegacyClaimCanBeReleased(t *testing.T) {
	ctx := context.Background()
	db := freshDatabase()
	raw := rawDatabase(t, embeddedURI, db)
	if _, err := raw.Collection("machine_connection").InsertOne(ctx, bson.D{{Key: "machine_id", Value: "m"}, {Key: "project", Value: "p"},
		{Key: "container_id", Value: ""}, {Key: "add_time", Value: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	s := open(t, embeddedURI, db)
	key := domain.MachineKey{MachineID: "m", Project: "p"}
	c, err := s.GetConnection(ctx, key)
	if err != nil || c.ConnID != "" || c.NodeID != "" {
		t.Fatalf("legacy claim = %+v, %v", c, err)
	}
	deleted, err := s.DeleteConnection(ctx, key, c.ConnID)
	if err != nil || !deleted {
		t.Fatalf("delete legacy claim = %v, %v; want it deleted", deleted, err)
	}
}
