package mongo

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap"

	"ddn/domain"
)

// Duplicate is a machine key held by more than one document of a
// collection (machine_info or machine_connection), which only a database
// of the original node can hold: it had no unique index.
type Duplicate struct {
	Collection string
	Key        domain.MachineKey
	// IDs are the documents' _ids.
	IDs []any
}

// MergeResult says what MergeDuplicates did.
type MergeResult struct {
	// Merged is the number of keys settled; Removed the documents deleted.
	Merged, Removed int
	// Indexed tells whether the unique indexes exist now.
	Indexed bool
}

// Duplicates lists the keys held twice or more in machine_info and
// machine_connection (one read of each collection's keys).
func (s *Store) Duplicates(ctx context.Context) ([]Duplicate, error) {
	var out []Duplicate
	for _, c := range []*mongo.Collection{s.machines, s.connections} {
		ds, err := duplicatesIn(ctx, c)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

func duplicatesIn(ctx context.Context, c *mongo.Collection) ([]Duplicate, error) {
	cur, err := c.Find(ctx, bson.D{}, options.Find().SetProjection(idProjection))
	if err != nil {
		return nil, fmt.Errorf("mongo: read keys of %s: %w", c.Name(), err)
	}
	var docs []idDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: read keys of %s: %w", c.Name(), err)
	}
	byKey := map[domain.MachineKey][]any{}
	var order []domain.MachineKey
	for _, d := range docs {
		k := d.Key.domain()
		if _, seen := byKey[k]; !seen {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], d.ID)
	}
	var out []Duplicate
	for _, k := range order {
		if ids := byKey[k]; len(ids) > 1 {
			out = append(out, Duplicate{Collection: c.Name(), Key: k, IDs: ids})
		}
	}
	slices.SortFunc(out, func(a, b Duplicate) int { return compareKey(a.Key, b.Key) })
	return out, nil
}

func compareKey(a, b domain.MachineKey) int {
	for _, p := range [][2]string{{a.Project, b.Project}, {a.MachineID, b.MachineID}, {a.ContainerID, b.ContainerID}} {
		if p[0] != p[1] {
			if p[0] < p[1] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// warnDuplicates logs the duplicate keys of c at startup (its unique index
// could not be built).
func (s *Store) warnDuplicates(ctx context.Context, c *mongo.Collection) {
	ds, err := duplicatesIn(ctx, c)
	if err != nil {
		s.log.Error("duplicate machine keys: could not list them", zap.String("collection", c.Name()), zap.Error(err))
		return
	}
	keys := make([]string, 0, min(len(ds), 50))
	for _, d := range ds[:min(len(ds), 50)] {
		keys = append(keys, fmt.Sprintf("%s (%d documents)", d.Key, len(d.IDs)))
	}
	s.log.Warn("duplicate machine keys in the database (written by the original node): serving without the unique index; "+
		"list them with `ddn store duplicates` and merge them with `ddn store merge`",
		zap.String("collection", c.Name()), zap.Int("keys", len(ds)), zap.Strings("first", keys))
}

// MergeDuplicates settles every duplicate key, then builds the unique
// indexes. In machine_info the documents of a key become one: the most
// recently active document is kept and completed with the others' fields
// (the earliest register_time, the latest last_* times, the first non-empty
// info of each kind, a scored deeplink_st first); in machine_connection the
// newest claim is kept. With dryRun it only says what it would do.
func (s *Store) MergeDuplicates(ctx context.Context, dryRun bool) (MergeResult, error) {
	var res MergeResult
	ds, err := s.Duplicates(ctx)
	if err != nil {
		return res, err
	}
	for _, d := range ds {
		removed, err := s.merge(ctx, d, dryRun)
		if err != nil {
			return res, err
		}
		res.Merged++
		res.Removed += removed
	}
	if dryRun {
		return res, nil
	}
	if err := s.ensureUnique(ctx); err != nil {
		return res, err
	}
	res.Indexed = true
	return res, nil
}

func (s *Store) merge(ctx context.Context, d Duplicate, dryRun bool) (int, error) {
	c := s.machines
	if d.Collection == s.connections.Name() {
		c = s.connections
	}
	cur, err := c.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: d.IDs}}}})
	if err != nil {
		return 0, fmt.Errorf("mongo: read duplicates of %s in %s: %w", d.Key, d.Collection, err)
	}
	var docs []bson.M
	if err := cur.All(ctx, &docs); err != nil {
		return 0, fmt.Errorf("mongo: read duplicates of %s in %s: %w", d.Key, d.Collection, err)
	}
	if len(docs) < 2 {
		return 0, nil // merged meanwhile
	}
	var keep bson.M
	if c == s.connections {
		keep = newest(docs, "add_time")
	} else {
		keep = mergeMachineDocs(docs)
	}
	var drop bson.A
	for _, doc := range docs {
		if doc["_id"] != keep["_id"] {
			drop = append(drop, doc["_id"])
		}
	}
	if dryRun {
		return len(drop), nil
	}
	if _, err := c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: keep["_id"]}}, keep); err != nil {
		return 0, fmt.Errorf("mongo: write the merged %s in %s: %w", d.Key, d.Collection, err)
	}
	res, err := c.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: drop}}}})
	if err != nil {
		return 0, fmt.Errorf("mongo: remove duplicates of %s in %s: %w", d.Key, d.Collection, err)
	}
	if c == s.machines && s.ids != nil {
		s.ids.learn(d.Key, keep["_id"])
	}
	return int(res.DeletedCount), nil
}

// timeOf reads a date field of a raw document (zero when absent).
func timeOf(doc bson.M, field string) time.Time {
	switch v := doc[field].(type) {
	case bson.DateTime:
		return v.Time()
	case time.Time:
		return v
	}
	return time.Time{}
}

func newest(docs []bson.M, field string) bson.M {
	best := docs[0]
	for _, d := range docs[1:] {
		if timeOf(d, field).After(timeOf(best, field)) {
			best = d
		}
	}
	return best
}

var activity = []string{"last_online_time", "last_disconnect_time", "last_offline_time", "last_report_time", "register_time"}

// lastActive is a document's latest time of any activity.
func lastActive(doc bson.M) time.Time {
	var t time.Time
	for _, f := range activity {
		if ft := timeOf(doc, f); ft.After(t) {
			t = ft
		}
	}
	return t
}

// mergeMachineDocs makes one machine_info document of several of a key.
func mergeMachineDocs(docs []bson.M) bson.M {
	base := docs[0]
	for _, d := range docs[1:] {
		if lastActive(d).After(lastActive(base)) {
			base = d
		}
	}
	out := bson.M{}
	for k, v := range base {
		out[k] = v
	}
	for _, d := range docs {
		for k, v := range d {
			if _, ok := out[k]; !ok || out[k] == nil {
				out[k] = v
			}
		}
	}
	// Times: the first registration, the latest of the others.
	var reg time.Time
	for _, d := range docs {
		if t := timeOf(d, "register_time"); !t.IsZero() && t.Unix() > 0 && (reg.IsZero() || t.Before(reg)) {
			reg = t
		}
	}
	if !reg.IsZero() {
		out["register_time"] = reg
	}
	for _, f := range activity[:4] {
		if t := timeOf(newest(docs, f), f); !t.IsZero() {
			out[f] = t
		}
	}
	// Infos: a scored deeplink_st first, else any non-empty one; a
	// deeplink_bw with a bandwidth first.
	out["deeplink_st"] = pickInfo(docs, "deeplink_st", "calc_point", base)
	out["deeplink_bw"] = pickInfo(docs, "deeplink_bw", "bandwidth", base)
	return out
}

func pickInfo(docs []bson.M, field, key string, base bson.M) any {
	var nonEmpty any
	for _, d := range append([]bson.M{base}, docs...) {
		sub, ok := subdoc(d[field])
		if !ok || len(sub) == 0 {
			continue
		}
		if v, ok := sub[key]; ok && v != nil && v != 0 && v != 0.0 && v != int32(0) && v != int64(0) {
			return d[field]
		}
		if nonEmpty == nil {
			nonEmpty = d[field]
		}
	}
	if nonEmpty != nil {
		return nonEmpty
	}
	return base[field]
}

// ensureUnique builds the unique key indexes of machine_info and
// machine_connection (after a merge).
func (s *Store) ensureUnique(ctx context.Context) error {
	unique := options.Index().SetUnique(true)
	for _, c := range []*mongo.Collection{s.machines, s.connections} {
		_, err := c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "machine_id", Value: 1}, {Key: "project", Value: 1},
			{Key: "container_id", Value: 1}}, Options: unique})
		if err != nil && !isIndexConflict(err) {
			if duplicatesInTheWay(err) {
				err = fmt.Errorf("a machine key was written twice again since the merge (a node is running?); merge again: %w", err)
			}
			return fmt.Errorf("mongo: unique index on %s: %w", c.Name(), err)
		}
	}
	return nil
}

// subdoc reads an embedded document however the driver decoded it.
func subdoc(v any) (map[string]any, bool) {
	switch d := v.(type) {
	case bson.M:
		return d, true
	case bson.D:
		m := make(map[string]any, len(d))
		for _, e := range d {
			m[e.Key] = e.Value
		}
		return m, true
	}
	return nil, false
}
