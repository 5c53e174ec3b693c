package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap"

	"ddn/domain"
)

// presenceDoc is one machine's presence history (presence_history): one
// document per machine, keyed by _id, so reading a machine's history is one
// lookup by _id, the one filter the embedded store indexes.
type presenceDoc struct {
	ID      string           `bson:"_id"`
	Machine keyDoc           `bson:"machine"`
	Changes []presenceChange `bson:"changes"`
}

type presenceChange struct {
	At     time.Time `bson:"at"`
	State  string    `bson:"state"`
	Reason string    `bson:"reason,omitempty"`
	NodeID string    `bson:"node_id,omitempty"`
}

// maxPresenceChanges caps one machine's history (its newest changes are
// kept): a machine that flaps all day must not grow its document past
// MongoDB's 16 MB between two retention passes. 10,000 changes are ~1 MB
// and cover a machine reconnecting every 5 minutes for a month.
var maxPresenceChanges = 10000

// presenceID is the _id of key's history: its three fields quoted, so no
// two keys share one.
func presenceID(k domain.MachineKey) string {
	return strconv.Quote(k.Project) + "|" + strconv.Quote(k.MachineID) + "|" + strconv.Quote(k.ContainerID)
}

// presencePushes counts, per machine, the changes this store appended
// since it last cut that machine's history; the zero value is ready.
type presencePushes struct {
	mu sync.Mutex
	n  map[string]int
}

// add counts one append to id and says whether the history is due a cut.
func (p *presencePushes) add(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == nil {
		p.n = map[string]int{}
	}
	p.n[id]++
	if p.n[id] < max(1, maxPresenceChanges/10) {
		return false
	}
	delete(p.n, id)
	return true
}

// recordPresence appends a change to key's history. The transition is
// already stored: a failure here is logged, not returned, so the presence
// of the machine never depends on its history. Every cap/10 changes this
// store appended to a machine, the history is cut to its newest
// maxPresenceChanges (a read and a $set by _id: the embedded store ignores
// $push's $slice), so a flapping machine's document stays bounded (by the
// cap plus a tenth of it per node).
func (s *Store) recordPresence(ctx context.Context, key domain.MachineKey, at time.Time, st domain.State, reason domain.OutageReason, nodeID string) {
	c := presenceChange{At: at, State: string(st), Reason: string(reason), NodeID: nodeID}
	id := presenceID(key)
	_, err := s.presence.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{
		{Key: "$push", Value: bson.D{{Key: "changes", Value: c}}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "machine", Value: keyOf(key)}}},
	}, options.UpdateOne().SetUpsert(true))
	if err == nil && s.presencePushes.add(id) {
		err = s.trimPresence(ctx, key)
	}
	if err != nil {
		s.log.Warn("presence history not recorded", zap.Stringer("machine", key), zap.String("state", string(st)), zap.Error(err))
	}
}

// trimPresence keeps the newest maxPresenceChanges changes of key's history.
func (s *Store) trimPresence(ctx context.Context, key domain.MachineKey) error {
	var d presenceDoc
	id := bson.D{{Key: "_id", Value: presenceID(key)}}
	if err := s.presence.FindOne(ctx, id).Decode(&d); err != nil {
		return fmt.Errorf("mongo: read presence history of %s to cap it: %w", key, err)
	}
	slices.SortStableFunc(d.Changes, func(a, b presenceChange) int { return a.At.Compare(b.At) })
	kept := d.Changes[max(0, len(d.Changes)-maxPresenceChanges):]
	if _, err := s.presence.UpdateOne(ctx, id, bson.D{{Key: "$set", Value: bson.D{{Key: "changes", Value: kept}}}}); err != nil {
		return fmt.Errorf("mongo: cap presence history of %s: %w", key, err)
	}
	return nil
}

// MarkOnline implements ports.MachineStore and records the change.
func (s *Store) MarkOnline(ctx context.Context, key domain.MachineKey, st domain.StakingType, nodeID string, at time.Time) (domain.Machine, bool, error) {
	prev, found, err := s.markOnline(ctx, key, st, nodeID, at)
	if err == nil {
		s.recordPresence(ctx, key, at, domain.StateOnline, "", nodeID)
	}
	return prev, found, err
}

// MarkDisconnected implements ports.MachineStore and records the change.
func (s *Store) MarkDisconnected(ctx context.Context, key domain.MachineKey, at, lastReport time.Time) error {
	err := s.markDisconnected(ctx, key, at, lastReport)
	if err == nil {
		s.recordPresence(ctx, key, at, domain.StateDisconnected, domain.ReasonDisconnected, "")
	}
	return err
}

// MarkDisconnectedBy implements ports.MachineStore and records the change
// as a lost node's.
func (s *Store) MarkDisconnectedBy(ctx context.Context, key domain.MachineKey, nodeID string, at time.Time) (bool, error) {
	ok, err := s.markDisconnectedBy(ctx, key, nodeID, at)
	if ok && err == nil {
		s.recordPresence(ctx, key, at, domain.StateDisconnected, domain.ReasonNodeLost, nodeID)
	}
	return ok, err
}

// MarkOffline implements ports.MachineStore and records the change.
func (s *Store) MarkOffline(ctx context.Context, key domain.MachineKey, since, at time.Time) (bool, error) {
	ok, err := s.markOffline(ctx, key, since, at)
	if ok && err == nil {
		s.recordPresence(ctx, key, at, domain.StateOffline, domain.ReasonOffline, "")
	}
	return ok, err
}

// ListPresence implements ports.PresenceStore with one lookup by _id.
func (s *Store) ListPresence(ctx context.Context, key domain.MachineKey, before time.Time) ([]domain.PresenceChange, error) {
	var d presenceDoc
	err := s.presence.FindOne(ctx, bson.D{{Key: "_id", Value: presenceID(key)}}).Decode(&d)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("mongo: read presence history of %s: %w", key, err)
	}
	var out []domain.PresenceChange
	for _, c := range d.Changes {
		if before.IsZero() || c.At.Before(before) {
			out = append(out, domain.PresenceChange{Key: key, At: c.At, State: domain.State(c.State),
				Reason: domain.OutageReason(c.Reason), NodeID: c.NodeID})
		}
	}
	slices.SortStableFunc(out, func(a, b domain.PresenceChange) int { return a.At.Compare(b.At) })
	return out, nil
}

// prunePresence removes changes older than before from every history and
// the histories left empty (the retention job's pass). It reads the
// histories one by one and rewrites the ones with old changes by _id: the
// embedded store ignores a conditional $pull, and this pass is the
// retention job's, which scans anyway.
func (s *Store) prunePresence(ctx context.Context, before time.Time) error {
	cur, err := s.presence.Find(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("mongo: read presence histories to prune: %w", err)
	}
	defer func() { _ = cur.Close(ctx) }()
	for cur.Next(ctx) {
		var d presenceDoc
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("mongo: decode presence history: %w", err)
		}
		kept := slices.DeleteFunc(slices.Clone(d.Changes), func(c presenceChange) bool { return c.At.Before(before) })
		switch {
		case len(kept) == len(d.Changes):
			continue
		case len(kept) == 0:
			_, err = s.presence.DeleteOne(ctx, bson.D{{Key: "_id", Value: d.ID}})
		default:
			_, err = s.presence.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "changes", Value: kept}}}})
		}
		if err != nil {
			return fmt.Errorf("mongo: prune presence history %s: %w", d.ID, err)
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("mongo: read presence histories to prune: %w", err)
	}
	return nil
}
