package mongo

import (
	"context"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"ddn/domain"
)

// machineIDs remembers the _id of machine_info documents by machine key, so
// the hot single-machine writes (online, disconnect, content change) and the
// batched last_report_time refresh can filter on _id alone. The embedded
// store (FerretDB v1 on SQLite) uses an index for a filter that is exactly
// {_id: value} and scans the collection for any other, so on it a write by
// key costs a scan (~12 ms at 2,000 machines) and a write by _id does not.
//
// A remembered _id is a hint, never the truth: a write by _id that matches
// nothing (the machine was deleted, perhaps recreated by another node under
// a new _id) forgets it and falls back to the key filter, which learns the
// current one. _ids are never reused, so a stale hint cannot hit another
// machine.
type machineIDs struct {
	mu sync.Mutex
	m  map[domain.MachineKey]any
}

func newMachineIDs() *machineIDs { return &machineIDs{m: map[domain.MachineKey]any{}} }

// get returns key's remembered _id; a nil receiver (the cache is off) knows none.
func (c *machineIDs) get(key domain.MachineKey) (any, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.m[key]
	return id, ok
}

func (c *machineIDs) learn(key domain.MachineKey, id any) {
	if c == nil || id == nil {
		return
	}
	c.mu.Lock()
	c.m[key] = id
	c.mu.Unlock()
}

func (c *machineIDs) forget(key domain.MachineKey) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

// idDoc is the projection that names a machine_info document.
type idDoc struct {
	ID  any    `bson:"_id"`
	Key keyDoc `bson:",inline"`
}

var idProjection = bson.D{{Key: "_id", Value: 1}, {Key: "machine_id", Value: 1}, {Key: "project", Value: 1}, {Key: "container_id", Value: 1}}

// load reads the _id of every machine_info document: one scan at startup, so
// that a restart storm of known machines finds every one of them by _id.
func (c *machineIDs) load(ctx context.Context, s *Store) error {
	cur, err := s.machines.Find(ctx, bson.D{}, options.Find().SetProjection(idProjection))
	if err != nil {
		return fmt.Errorf("mongo: read machine ids: %w", err)
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	for cur.Next(ctx) {
		var d idDoc
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("mongo: decode machine id: %w", err)
		}
		c.learn(d.Key.domain(), d.ID)
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("mongo: read machine ids: %w", err)
	}
	return nil
}

// isFerretDB tells whether the server is FerretDB (its buildInfo names its
// version), whose only indexed filter is one on _id alone.
func (s *Store) isFerretDB(ctx context.Context) (bool, error) {
	var info bson.M
	if err := s.machines.Database().RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false, fmt.Errorf("mongo: buildInfo: %w", err)
	}
	_, ok := info["ferretdbVersion"]
	return ok, nil
}
