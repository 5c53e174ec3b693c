package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"ddn/domain"
)

// GetMachine implements ports.MachineStore.
func (s *Store) GetMachine(ctx context.Context, key domain.MachineKey) (domain.Machine, error) {
	var d machineDoc
	if err := s.machines.FindOne(ctx, keyFilter(key)).Decode(&d); err != nil {
		return domain.Machine{}, notFound(err, "machine", key)
	}
	return d.domain(), nil
}

// markOnline implements MarkOnline: one findAndModify that upserts
// and returns the document as it was (by _id when it is remembered).
func (s *Store) markOnline(ctx context.Context, key domain.MachineKey, st domain.StakingType, nodeID string, at time.Time) (domain.Machine, bool, error) {
	update := bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "stakingtype", Value: int64(st)}, {Key: "state", Value: string(domain.StateOnline)},
			{Key: "node_id", Value: nodeID}, {Key: "last_online_time", Value: at},
		}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "register_time", Value: at}}},
	}
	insert := update
	var newID bson.ObjectID
	if s.ids != nil {
		// A created document gets an _id chosen here, so it is known at once.
		newID = bson.NewObjectID()
		insert = bson.D{update[0], {Key: "$setOnInsert", Value: bson.D{{Key: "_id", Value: newID}, {Key: "register_time", Value: at}}}}
	}
	var d machineDoc
	if _, known := s.ids.get(key); s.ids != nil && !known {
		// Every machine this store holds was read at open or written since,
		// so an unknown one is most likely new: an insert (its unique key
		// index says if another node created it meanwhile) costs no scan of
		// machine_info, where an upsert by key does.
		_, err := s.machines.InsertOne(ctx, machineDoc{ID: newID, Key: keyOf(key), StakingType: int64(st),
			State: string(domain.StateOnline), NodeID: nodeID, LastOnlineTime: at, RegisterTime: at})
		switch {
		case err == nil:
			s.ids.learn(key, newID)
			return domain.Machine{}, false, nil
		case !mongo.IsDuplicateKeyError(err):
			return domain.Machine{}, false, fmt.Errorf("mongo: mark %s online: %w", key, err)
		}
	}
	if id, ok := s.ids.get(key); ok {
		err := s.machines.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, update,
			options.FindOneAndUpdate().SetReturnDocument(options.Before)).Decode(&d)
		switch {
		case err == nil:
			return d.domain(), true, nil
		case !errors.Is(err, mongo.ErrNoDocuments):
			return domain.Machine{}, false, fmt.Errorf("mongo: mark %s online: %w", key, err)
		}
		s.ids.forget(key) // deleted since: find it by key, or create it
	}
	opts := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.Before)
	err := s.machines.FindOneAndUpdate(ctx, keyFilter(key), insert, opts).Decode(&d)
	if mongo.IsDuplicateKeyError(err) {
		// Two upserts raced to create the document; the second one updates it.
		err = s.machines.FindOneAndUpdate(ctx, keyFilter(key), update, opts).Decode(&d)
	}
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		if s.ids != nil {
			s.ids.learn(key, newID)
		}
		return domain.Machine{}, false, nil
	case err != nil:
		return domain.Machine{}, false, fmt.Errorf("mongo: mark %s online: %w", key, err)
	}
	s.ids.learn(key, d.ID)
	return d.domain(), true, nil
}

// markDisconnected implements MarkDisconnected.
func (s *Store) markDisconnected(ctx context.Context, key domain.MachineKey, at, lastReport time.Time) error {
	set := bson.D{{Key: "state", Value: string(domain.StateDisconnected)}, {Key: "last_disconnect_time", Value: at}}
	if !lastReport.IsZero() {
		set = append(set, bson.E{Key: "last_report_time", Value: lastReport})
	}
	return s.set(ctx, "mark disconnected", key, set)
}

// markDisconnectedBy implements MarkDisconnectedBy with one conditional update.
func (s *Store) markDisconnectedBy(ctx context.Context, key domain.MachineKey, nodeID string, at time.Time) (bool, error) {
	filter := append(keyFilter(key), bson.E{Key: "state", Value: string(domain.StateOnline)}, bson.E{Key: "node_id", Value: nodeID})
	res, err := s.machines.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{
		{Key: "state", Value: string(domain.StateDisconnected)}, {Key: "last_disconnect_time", Value: at}}}})
	if err != nil {
		return false, fmt.Errorf("mongo: mark %s disconnected from node %s: %w", key, nodeID, err)
	}
	return res.ModifiedCount == 1, nil
}

// markOffline implements MarkOffline. The winner of a transition is
// decided by a unique insert into `transitions` keyed by the machine and the
// disconnect time: the embedded engine does not make a conditional update
// atomic against a concurrent one (measured: 4 sweepers won 41 flips of 30
// machines), but it does enforce unique keys.
func (s *Store) markOffline(ctx context.Context, key domain.MachineKey, since, at time.Time) (bool, error) {
	id := fmt.Sprintf("offline|%s|%s|%s|%d", key.Project, key.MachineID, key.ContainerID, since.UnixMilli())
	if _, err := s.transitions.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "at", Value: at}}); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return false, nil // another sweeper won this transition
		}
		return false, fmt.Errorf("mongo: claim offline transition of %s: %w", key, err)
	}
	filter := append(keyFilter(key), bson.E{Key: "state", Value: string(domain.StateDisconnected)}, bson.E{Key: "last_disconnect_time", Value: since})
	res, err := s.machines.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{
		{Key: "state", Value: string(domain.StateOffline)}, {Key: "last_offline_time", Value: at}}}})
	if err != nil {
		return false, fmt.Errorf("mongo: mark %s offline: %w", key, err)
	}
	if res.ModifiedCount == 0 {
		// The machine moved on between the sweeper's read and now; free the
		// claim so the record says what happened.
		_, _ = s.transitions.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
		return false, nil
	}
	return true, nil
}

// SetShortTermInfo implements ports.MachineStore.
func (s *Store) SetShortTermInfo(ctx context.Context, key domain.MachineKey, info domain.ShortTermInfo, reportAt time.Time) error {
	return s.set(ctx, "set short-term info", key, bson.D{{Key: "deeplink_st", Value: shortTermOf(info)}, {Key: "last_report_time", Value: reportAt}})
}

// SetBandwidthInfo implements ports.MachineStore.
func (s *Store) SetBandwidthInfo(ctx context.Context, key domain.MachineKey, info domain.BandwidthInfo, reportAt time.Time) error {
	return s.set(ctx, "set bandwidth info", key, bson.D{{Key: "deeplink_bw", Value: bandwidthOf(info)}, {Key: "last_report_time", Value: reportAt}})
}

// TouchLastReports implements ports.MachineStore: on MongoDB one
// updateMany by key per batch ($or: an index union); on the embedded store,
// where machine _ids are remembered, one small update by _id per machine
// (see below). $max keeps a later time.
func (s *Store) TouchLastReports(ctx context.Context, keys []domain.MachineKey, at time.Time) error {
	var ids bson.A
	var unknown []domain.MachineKey
	for _, k := range keys {
		if id, ok := s.ids.get(k); ok {
			ids = append(ids, id)
		} else {
			unknown = append(unknown, k)
		}
	}
	var byKey bson.A
	if s.ids != nil && len(unknown) > 0 {
		// Machines another node created: one read learns their _ids.
		found, err := s.lookupIDs(ctx, unknown)
		if err != nil {
			return err
		}
		ids = append(ids, found...)
	} else {
		for _, k := range unknown {
			byKey = append(byKey, keyFilter(k))
		}
	}
	update := bson.D{{Key: "$max", Value: bson.D{{Key: "last_report_time", Value: at}}}}
	// One update by _id alone per machine: with the embedded store's _id
	// index (embedded.IndexIDs) each is a lookup (~1 ms), where one
	// {_id: {$in: ...}} decodes and compares every document of machine_info
	// (FerretDB pushes down no $in: 390 ms for 500 of 2,000 machines) and a
	// bulk of them in one command holds every statement's read open until
	// the last (measured: over 10 s for 500).
	for i, id := range ids {
		if _, err := s.machines.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, update); err != nil {
			return fmt.Errorf("mongo: touch last report of %d machines (%d done): %w", len(ids), i, err)
		}
	}
	if len(byKey) > 0 {
		if _, err := s.machines.UpdateMany(ctx, bson.D{{Key: "$or", Value: byKey}}, update); err != nil {
			return fmt.Errorf("mongo: touch last report of %d machines: %w", len(byKey), err)
		}
	}
	return nil
}

// set updates one machine, creating it if missing: by its remembered _id
// when there is one, else by key (learning the _id).
func (s *Store) set(ctx context.Context, op string, key domain.MachineKey, fields bson.D) error {
	update := bson.D{{Key: "$set", Value: fields}}
	if id, ok := s.ids.get(key); ok {
		res, err := s.machines.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, update)
		if err != nil {
			return fmt.Errorf("mongo: %s %s: %w", op, key, err)
		}
		if res.MatchedCount == 1 {
			return nil
		}
		s.ids.forget(key) // deleted since: find it by key, or create it
	}
	if s.ids == nil {
		if _, err := s.machines.UpdateOne(ctx, keyFilter(key), update, options.UpdateOne().SetUpsert(true)); err != nil {
			return fmt.Errorf("mongo: %s %s: %w", op, key, err)
		}
		return nil
	}
	var d idDoc
	opts := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After) // FerretDB v1 refuses a projection here
	err := s.machines.FindOneAndUpdate(ctx, keyFilter(key), update, opts).Decode(&d)
	if mongo.IsDuplicateKeyError(err) {
		// Two upserts raced to create the document; the second one updates it.
		err = s.machines.FindOneAndUpdate(ctx, keyFilter(key), update, opts).Decode(&d)
	}
	if err != nil {
		return fmt.Errorf("mongo: %s %s: %w", op, key, err)
	}
	s.ids.learn(key, d.ID)
	return nil
}

// ListMachines implements ports.MachineStore.
func (s *Store) ListMachines(ctx context.Context, f domain.MachineFilter) ([]domain.Machine, error) {
	filter := bson.D{}
	if f.Project != "" {
		filter = append(filter, bson.E{Key: "project", Value: f.Project})
	}
	if f.State != "" {
		filter = append(filter, bson.E{Key: "state", Value: string(f.State)})
	}
	if f.After != nil {
		filter = append(filter, afterKey(*f.After))
	}
	opts := options.Find().SetSort(keySort(""))
	if f.Limit > 0 {
		opts.SetLimit(int64(f.Limit))
	}
	var docs []machineDoc
	if err := s.findAll(ctx, s.machines, filter, opts, &docs); err != nil {
		return nil, fmt.Errorf("mongo: list machines: %w", err)
	}
	out := make([]domain.Machine, len(docs))
	for i, d := range docs {
		out[i] = d.domain()
	}
	return out, nil
}

// lookupIDs learns and returns the _ids of those of keys that exist, with
// one read of machine_info (by machine_id $in, matched exactly here).
func (s *Store) lookupIDs(ctx context.Context, keys []domain.MachineKey) (bson.A, error) {
	want := make(map[domain.MachineKey]bool, len(keys))
	machineIDs := make(bson.A, 0, len(keys))
	for _, k := range keys {
		want[k] = true
		machineIDs = append(machineIDs, k.MachineID)
	}
	var docs []idDoc
	filter := bson.D{{Key: "machine_id", Value: bson.D{{Key: "$in", Value: machineIDs}}}}
	if err := s.findAll(ctx, s.machines, filter, options.Find().SetProjection(idProjection), &docs); err != nil {
		return nil, fmt.Errorf("mongo: look up %d machines: %w", len(keys), err)
	}
	var ids bson.A
	for _, d := range docs {
		if k := d.Key.domain(); want[k] {
			s.ids.learn(k, d.ID)
			ids = append(ids, d.ID)
		}
	}
	return ids, nil
}
