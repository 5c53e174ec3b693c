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

// afterKey selects machines ordered after k by (project, machine_id, container_id).
func afterKey(k domain.MachineKey) bson.E {
	return bson.E{Key: "$or", Value: bson.A{
		bson.D{{Key: "project", Value: bson.D{{Key: "$gt", Value: k.Project}}}},
		bson.D{{Key: "project", Value: k.Project}, {Key: "machine_id", Value: bson.D{{Key: "$gt", Value: k.MachineID}}}},
		bson.D{{Key: "project", Value: k.Project}, {Key: "machine_id", Value: k.MachineID}, {Key: "container_id", Value: bson.D{{Key: "$gt", Value: k.ContainerID}}}},
	}}
}

// reportKeyFilter selects a machine's machine_tm documents.
func reportKeyFilter(k domain.MachineKey) bson.D {
	return bson.D{{Key: "machine.machine_id", Value: k.MachineID}, {Key: "machine.project", Value: k.Project},
		{Key: "machine.container_id", Value: k.ContainerID}}
}

// timeWindow is the timestamp condition from <= t < to, or nil when both are open.
func timeWindow(from, to time.Time) bson.D {
	window := bson.D{}
	if !from.IsZero() {
		window = append(window, bson.E{Key: "$gte", Value: from})
	}
	if !to.IsZero() {
		window = append(window, bson.E{Key: "$lt", Value: to})
	}
	if len(window) == 0 {
		return bson.D{}
	}
	return bson.D{{Key: "timestamp", Value: window}}
}

// CountMachines implements ports.QueryStore with one $group aggregation.
func (s *Store) CountMachines(ctx context.Context) ([]domain.MachineCount, error) {
	pipeline := mongo.Pipeline{
		{{Key: "$group", Value: bson.D{
			{Key: "_id", Value: bson.D{{Key: "project", Value: "$project"}, {Key: "state", Value: "$state"}}},
			{Key: "count", Value: bson.D{{Key: "$sum", Value: 1}}},
		}}},
		{{Key: "$sort", Value: bson.D{{Key: "_id.project", Value: 1}, {Key: "_id.state", Value: 1}}}},
	}
	cur, err := s.machines.Aggregate(ctx, pipeline)
	if err != nil {
		return nil, fmt.Errorf("mongo: count machines: %w", err)
	}
	var rows []struct {
		ID struct {
			Project string `bson:"project"`
			State   string `bson:"state"`
		} `bson:"_id"`
		Count int64 `bson:"count"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("mongo: count machines: %w", err)
	}
	out := make([]domain.MachineCount, len(rows))
	for i, r := range rows {
		out[i] = domain.MachineCount{Project: r.ID.Project, State: domain.State(r.ID.State), Count: r.Count}
	}
	return out, nil
}

// CountReports implements ports.QueryStore.
func (s *Store) CountReports(ctx context.Context, since time.Time) (int64, error) {
	n, err := s.reports.CountDocuments(ctx, timeWindow(since, time.Time{}))
	if err != nil {
		return 0, fmt.Errorf("mongo: count reports since %s: %w", since.Format(time.RFC3339), err)
	}
	return n, nil
}

// DeleteMachine implements ports.QueryStore: the machine, its reports, its claim.
func (s *Store) DeleteMachine(ctx context.Context, key domain.MachineKey) (domain.MachineDeletion, error) {
	var d domain.MachineDeletion
	res, err := s.machines.DeleteOne(ctx, keyFilter(key))
	if err != nil {
		return d, fmt.Errorf("mongo: delete machine %s: %w", key, err)
	}
	d.Found = res.DeletedCount == 1
	s.ids.forget(key)
	reports, err := s.reports.DeleteMany(ctx, reportKeyFilter(key))
	if err != nil {
		return d, fmt.Errorf("mongo: delete reports of %s: %w", key, err)
	}
	d.Reports = reports.DeletedCount
	conn, err := s.connections.DeleteOne(ctx, keyFilter(key))
	if err != nil {
		return d, fmt.Errorf("mongo: delete connection of %s: %w", key, err)
	}
	d.Connection = conn.DeletedCount == 1
	if _, err := s.presence.DeleteOne(ctx, bson.D{{Key: "_id", Value: presenceID(key)}}); err != nil {
		return d, fmt.Errorf("mongo: delete presence history of %s: %w", key, err)
	}
	return d, nil
}

// PutMachine implements ports.QueryStore with one replace-or-insert by key.
func (s *Store) PutMachine(ctx context.Context, m domain.Machine) error {
	d := machineDoc{Key: keyOf(m.Key), StakingType: int64(m.StakingType), State: string(m.State), NodeID: m.NodeID,
		RegisterTime: m.RegisterTime, LastOnlineTime: m.LastOnlineTime, LastOfflineTime: m.LastOfflineTime,
		LastDisconnectTime: m.LastDisconnectTime, LastReportTime: m.LastReportTime}
	if m.ShortTerm != nil {
		d.ShortTerm = shortTermOf(*m.ShortTerm)
	}
	if m.Bandwidth != nil {
		d.Bandwidth = bandwidthOf(*m.Bandwidth)
	}
	if l := m.Location; l != nil {
		d.Location = &locationDoc{Country: l.Country, Region: l.Region, City: l.City, Latitude: l.Latitude, Longitude: l.Longitude}
	}
	if _, err := s.machines.ReplaceOne(ctx, keyFilter(m.Key), d, options.Replace().SetUpsert(true)); err != nil {
		return fmt.Errorf("mongo: put machine %s: %w", m.Key, err)
	}
	return nil
}

// ImportReports implements ports.QueryStore. Time-series collections take
// no unique index, so it reads which (machine, timestamp) pairs of the
// batch's time span are stored already, in one query, and inserts the
// others. An export lists reports in about the order they were stored, so a
// batch spans a short time and the query reads little on MongoDB (the time
// series is clustered by time); the embedded store scans machine_tm once per
// call, which is why callers send large batches.
func (s *Store) ImportReports(ctx context.Context, rs []domain.Report) (int64, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	lo, hi := rs[0].Timestamp, rs[0].Timestamp
	for _, r := range rs[1:] {
		if r.Timestamp.Before(lo) {
			lo = r.Timestamp
		}
		if r.Timestamp.After(hi) {
			hi = r.Timestamp
		}
	}
	filter := bson.D{{Key: "timestamp", Value: bson.D{{Key: "$gte", Value: lo.Truncate(time.Millisecond)}, {Key: "$lte", Value: hi}}}}
	opts := options.Find().SetProjection(bson.D{{Key: "machine", Value: 1}, {Key: "timestamp", Value: 1}})
	cur, err := s.reports.Find(ctx, filter, opts)
	if err != nil {
		return 0, fmt.Errorf("mongo: read stored reports for import: %w", err)
	}
	type id struct {
		key domain.MachineKey
		ms  int64
	}
	seen := map[id]bool{}
	for cur.Next(ctx) {
		var d reportDoc
		if err := cur.Decode(&d); err != nil {
			_ = cur.Close(ctx)
			return 0, fmt.Errorf("mongo: decode stored report: %w", err)
		}
		seen[id{d.Machine.domain(), d.Timestamp.UnixMilli()}] = true
	}
	if err := cur.Err(); err != nil {
		return 0, fmt.Errorf("mongo: read stored reports for import: %w", err)
	}
	_ = cur.Close(ctx)
	var fresh []domain.Report
	for _, r := range rs {
		k := id{r.Key, r.Timestamp.UnixMilli()}
		if !seen[k] {
			seen[k] = true
			fresh = append(fresh, r)
		}
	}
	if err := s.AppendReports(ctx, fresh); err != nil {
		return 0, fmt.Errorf("mongo: import %d reports: %w", len(fresh), err)
	}
	return int64(len(fresh)), nil
}

// ScanReports implements ports.QueryStore over a cursor, one document at a time.
func (s *Store) ScanReports(ctx context.Context, from, to time.Time, fn func(domain.Report) error) error {
	cur, err := s.reports.Find(ctx, timeWindow(from, to), options.Find().SetBatchSize(500))
	if err != nil {
		return fmt.Errorf("mongo: scan reports: %w", err)
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	for cur.Next(ctx) {
		var d reportDoc
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("mongo: decode report: %w", err)
		}
		if err := fn(d.domain()); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("mongo: scan reports: %w", err)
	}
	return nil
}

func (d reportDoc) domain() domain.Report {
	return domain.Report{Key: d.Machine.domain(), Timestamp: utc(d.Timestamp), ShortTerm: d.ShortTerm.domain(), Bandwidth: d.Bandwidth.domain()}
}
